"""k8s-images-from-allowed-registries-pinned: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.k8s_images_from_allowed_registries_pinned import POLICY, parse_image

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
IMAGE = "spec.template.spec.containers.0.image"
DIGEST = "sha256:" + "a" * 64
ECR = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
CONFIG = {
    "allowedRegistries": [ECR, "*.azurecr.io", "nvcr.io/nvidia", "europe-west4-docker.pkg.dev/mlops-hub-prod"]
}
BASELINE: dict[str, Any] = {
    "metadata": {"namespace": "ml"},
    "spec": {"template": {"spec": {"containers": [{"name": "serve", "image": f"{ECR}/serving@{DIGEST}"}]}}},
}


def _outside(image: str, configured: str = "") -> str:
    return f'container "serve" pulls `{image}` from a registry outside allowedRegistries{configured}'


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, DEPLOYMENT, BASELINE, config=CONFIG) == []


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (f"{ECR}/serving:1.4.2", []),
        (f"{ECR}/serving:v1.4.2@{DIGEST}", []),
        ("mlopshub.azurecr.io/rag/api:2.0.0", []),
        ("nvcr.io/nvidia/k8s/dcgm-exporter:4.1.1", []),
        ("europe-west4-docker.pkg.dev/mlops-hub-prod/serving/api:3.1.0", []),
        (
            f"{ECR}/serving:latest",
            [
                f'container "serve" image `{ECR}/serving:latest` uses the mutable `latest` tag: pin it by @sha256 digest or a release tag'
            ],
        ),
        (
            f"{ECR}/serving",
            [f'container "serve" image `{ECR}/serving` has no tag (so `latest`): pin it by @sha256 digest'],
        ),
        (
            f"{ECR}/serving:main",
            [
                f'container "serve" image `{ECR}/serving:main` is not pinned: use an @sha256 digest or a tag matching immutableTagPattern'
            ],
        ),
        (
            f"{ECR}/serving@sha256:abc",
            [
                f'container "serve" image `{ECR}/serving@sha256:abc` has a malformed digest: pin it as @sha256:<64 hex digits>'
            ],
        ),
        (f"nginx@{DIGEST}", [_outside(f"nginx@{DIGEST}")]),
        (f"nvcr.io/other/image@{DIGEST}", [_outside(f"nvcr.io/other/image@{DIGEST}")]),
        (f"a.b.azurecr.io/x@{DIGEST}", [_outside(f"a.b.azurecr.io/x@{DIGEST}")]),
        (
            f"europe-west4-docker.pkg.dev/mlops-hub-prodx/api@{DIGEST}",
            [_outside(f"europe-west4-docker.pkg.dev/mlops-hub-prodx/api@{DIGEST}")],
        ),
        (
            "python:latest",
            [
                _outside("python:latest"),
                'container "serve" image `python:latest` uses the mutable `latest` tag: pin it by @sha256 digest or a release tag',
            ],
        ),
    ],
    ids=[
        "release-tag",
        "tag-and-digest",
        "acr-wildcard",
        "upstream-prefix",
        "artifact-registry-project",
        "latest",
        "untagged",
        "branch-tag",
        "bad-digest",
        "docker-hub",
        "outside-prefix",
        "wildcard-is-one-label",
        "prefix-on-path-boundary",
        "both",
    ],
)
def test_image_mutations(check_policy: Any, with_value: Any, image: str, expected: list[str]) -> None:
    assert check_policy(POLICY, DEPLOYMENT, with_value(BASELINE, IMAGE, image), config=CONFIG) == expected


def test_no_registry_is_trusted_by_default(check_policy: Any) -> None:
    assert check_policy(POLICY, DEPLOYMENT, BASELINE) == [
        _outside(f"{ECR}/serving@{DIGEST}", " (none configured)")
    ]


def test_the_immutable_tag_pattern_is_configurable(check_policy: Any, with_value: Any) -> None:
    props = with_value(BASELINE, IMAGE, f"{ECR}/serving:2025-06-01-abc1234")
    assert (
        check_policy(
            POLICY,
            DEPLOYMENT,
            props,
            config={**CONFIG, "immutableTagPattern": r"^\d{4}-\d{2}-\d{2}-[0-9a-f]{7}$"},
        )
        == []
    )


def test_an_invalid_tag_pattern_fails_loudly(check_policy: Any) -> None:
    with pytest.raises(ValueError, match="immutableTagPattern"):
        check_policy(POLICY, DEPLOYMENT, BASELINE, config={**CONFIG, "immutableTagPattern": "("})


def test_images_that_do_not_look_like_references_are_not_echoed(check_policy: Any, with_value: Any) -> None:
    props = with_value(BASELINE, IMAGE, "token=s3cr3t value")
    messages = check_policy(POLICY, DEPLOYMENT, props, config=CONFIG)
    assert messages and not any("s3cr3t" in m for m in messages)


@pytest.mark.parametrize(
    ("image", "registry", "repository", "tag"),
    [
        ("nginx", "docker.io", "library/nginx", None),
        ("bitnami/redis:7.2.4", "docker.io", "bitnami/redis", "7.2.4"),
        ("localhost:5000/x:1", "localhost:5000", "x", "1"),
        ("Registry.Example.com:443/team/app:v1.0.0", "registry.example.com:443", "team/app", "v1.0.0"),
    ],
)
def test_parse_image(image: str, registry: str, repository: str, tag: str | None) -> None:
    reference = parse_image(image)
    assert (reference.registry, reference.repository, reference.tag) == (registry, repository, tag)
