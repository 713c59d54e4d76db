"""k8s-pods-run-as-non-root: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.k8s_pods_run_as_non_root import POLICY

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONTAINER = "spec.template.spec.containers.0"
BASELINE: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "serving", "namespace": "ml"},
    "spec": {
        "template": {
            "spec": {
                "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                "containers": [{"name": "server", "image": "registry/serving@sha256:" + "0" * 64}],
                "initContainers": [{"name": "fetch", "image": "registry/fetch:1.0.0"}],
            }
        }
    },
}
MAY_BE_ROOT = "may run as root: set securityContext.runAsNonRoot: true on the pod or the container"


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, DEPLOYMENT, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "spec.template.spec.securityContext",
            ...,
            [f'container "server" {MAY_BE_ROOT}', f'init container "fetch" {MAY_BE_ROOT}'],
        ),
        (
            "spec.template.spec.securityContext.runAsNonRoot",
            False,
            [f'container "server" {MAY_BE_ROOT}', f'init container "fetch" {MAY_BE_ROOT}'],
        ),
        (f"{CONTAINER}.securityContext", {"runAsNonRoot": False}, [f'container "server" {MAY_BE_ROOT}']),
        (
            f"{CONTAINER}.securityContext",
            {"runAsUser": 0},
            ['container "server" runs as root (runAsUser: 0): use a non-zero UID'],
        ),
        ("spec.template.spec.securityContext.runAsUser", ..., []),
    ],
    ids=["no-pod-context", "pod-false", "container-overrides", "uid-zero", "uid-from-image"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, DEPLOYMENT, with_value(BASELINE, path, value)) == expected


def test_container_level_settings_suffice(check_policy: Any, with_value: Any) -> None:
    props = with_value(BASELINE, "spec.template.spec.securityContext", ...)
    props = with_value(props, f"{CONTAINER}.securityContext", {"runAsNonRoot": True})
    props = with_value(props, "spec.template.spec.initContainers.0.securityContext", {"runAsNonRoot": True})
    assert check_policy(POLICY, DEPLOYMENT, props) == []


def test_exempt_namespaces_are_skipped(check_policy: Any, with_value: Any) -> None:
    root = with_value(BASELINE, "spec.template.spec.securityContext", ...)
    assert check_policy(POLICY, DEPLOYMENT, with_value(root, "metadata.namespace", "gpu-operator")) == []
    assert check_policy(POLICY, DEPLOYMENT, with_value(root, "metadata.namespace", "kube-system")) == []
    assert check_policy(POLICY, DEPLOYMENT, root, config={"exemptNamespaces": ["ml"]}) == []
    assert (
        len(
            check_policy(
                POLICY,
                DEPLOYMENT,
                with_value(root, "metadata.namespace", "gpu-operator"),
                config={"exemptNamespaces": []},
            )
        )
        == 2
    )


def test_the_provider_namespace_applies_when_the_object_names_none(
    check_policy: Any, with_value: Any
) -> None:
    root = with_value(
        with_value(BASELINE, "spec.template.spec.securityContext", ...), "metadata.namespace", ...
    )
    provider = ("pulumi:providers:kubernetes", {"namespace": "gpu-operator"})
    assert check_policy(POLICY, DEPLOYMENT, root, provider=provider) == []
    assert len(check_policy(POLICY, DEPLOYMENT, root)) == 2


def test_an_unknown_namespace_is_read_only_when_something_fires(
    check_policy: Any, with_value: Any, unknown: str
) -> None:
    assert check_policy(POLICY, DEPLOYMENT, with_value(BASELINE, "metadata.namespace", unknown)) == []
    root = with_value(BASELINE, "spec.template.spec.securityContext", ...)
    with pytest.raises(UnknownValueError):
        check_policy(POLICY, DEPLOYMENT, with_value(root, "metadata.namespace", unknown))
