"""Behaviour of GcpModelRegistry: what it registers under the offline engine's mocks."""

import gc
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import pulumi
import pulumi_gcp as gcp
import pytest

from components.registry.gcp_model_registry import (
    ENCRYPTER_DECRYPTER,
    TYPE_TOKEN,
    GcpModelRegistry,
    GcpModelRegistryArgs,
    crypto_key_id,
    service_agent,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

NAME = "models"
PROJECT = "proj"
REGION = "europe-west4"
PROJECT_NUMBER = "123456789012"
"""The project number the offline getProject answer reports."""
STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:gcp"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
UNKNOWN = "[unknown]"
KEY_ID = f"projects/{PROJECT}/locations/{REGION}/keyRings/{NAME}/cryptoKeys/{NAME}-artifacts"
LABELS = {"team": "t", "cost-center": "cc"}


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...


def program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit provider, and one registry per name."""

    def body() -> None:
        provider = gcp.Provider("p", project=PROJECT, region=REGION)
        for name in names or (NAME,):
            args = cast(
                GcpModelRegistryArgs, {"project": PROJECT, "region": REGION, "labels": LABELS, **overrides}
            )
            GcpModelRegistry(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def registry(pulumi_run: Recorder) -> Recorder:
    pulumi_run.run(program())
    return pulumi_run


@pytest.fixture
def collect_failed_runs() -> Iterator[None]:
    """Collect what a failed run left behind at a known point (see test_aws_network.py for why)."""
    yield
    gc.collect()


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def test_every_child_is_parented_named_and_on_the_explicit_provider(registry: Recorder) -> None:
    children = registry.children_of(component(registry))
    others = [r for r in registry.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert {r.urn for r in children} == {r.urn for r in others}
    assert all(r.name.startswith(f"{NAME}-") for r in children)
    assert all(r.provider is not None and r.provider.endswith("::p") for r in children)


def test_key_rotates_every_90_days(registry: Recorder) -> None:
    key = registry.one("gcp:kms/cryptoKey:CryptoKey")

    assert key.inputs == {
        "name": f"{NAME}-artifacts",
        "keyRing": UNKNOWN,
        "purpose": "ENCRYPT_DECRYPT",
        "rotationPeriod": "7776000s",
        "labels": LABELS,
    }
    assert registry.one("gcp:kms/keyRing:KeyRing").inputs == {
        "name": NAME,
        "location": REGION,
        "project": PROJECT,
    }


def test_each_service_agent_may_use_the_key_and_nothing_more(registry: Recorder) -> None:
    members = {r.name: (r.inputs["role"], r.inputs["member"]) for r in registry.of_type(KEY_MEMBER)}
    key = registry.one("gcp:kms/cryptoKey:CryptoKey")

    assert all(r.inputs["cryptoKeyId"] == KEY_ID for r in registry.of_type(KEY_MEMBER))
    # Derived from the key's URN: known in a preview, and still ordered after the key.
    assert all(key.urn in r.dependencies for r in registry.of_type(KEY_MEMBER))

    assert members == {
        f"{NAME}-storage-key-user": (
            ENCRYPTER_DECRYPTER,
            f"serviceAccount:service-{PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com",
        ),
        f"{NAME}-artifact-registry-key-user": (
            ENCRYPTER_DECRYPTER,
            f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-artifactregistry.iam.gserviceaccount.com",
        ),
        f"{NAME}-vertex-key-user": (
            ENCRYPTER_DECRYPTER,
            f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-aiplatform.iam.gserviceaccount.com",
        ),
    }


def test_crypto_key_id() -> None:
    assert crypto_key_id("p", "r", "k", "c") == "projects/p/locations/r/keyRings/k/cryptoKeys/c"


def test_lazily_created_service_agents_exist_before_their_grant(registry: Recorder) -> None:
    agents = {r.name: r for r in registry.of_type("gcp:projects/serviceIdentity:ServiceIdentity")}

    assert {n: a.inputs for n, a in agents.items()} == {
        f"{NAME}-artifact-registry-agent": {"project": PROJECT, "service": "artifactregistry.googleapis.com"},
        f"{NAME}-vertex-agent": {"project": PROJECT, "service": "aiplatform.googleapis.com"},
    }
    for role in ("artifact-registry", "vertex"):
        assert agents[f"{NAME}-{role}-agent"].urn in registry.named(f"{NAME}-{role}-key-user").dependencies


def test_service_agent() -> None:
    assert service_agent("42", "gcp-sa-x") == "serviceAccount:service-42@gcp-sa-x.iam.gserviceaccount.com"


def test_bucket_is_private_versioned_cmek_and_expires_noncurrent_versions(registry: Recorder) -> None:
    bucket = registry.one("gcp:storage/bucket:Bucket")

    assert bucket.inputs == {
        "project": PROJECT,
        "location": "EUROPE-WEST4",
        "storageClass": "STANDARD",
        "uniformBucketLevelAccess": True,
        "publicAccessPrevention": "enforced",
        "versioning": {"enabled": True},
        "encryption": {"defaultKmsKeyName": KEY_ID},
        "lifecycleRules": [
            {
                "action": {"type": "Delete"},
                "condition": {"daysSinceNoncurrentTime": 90, "withState": "ARCHIVED"},
            },
            {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
        ],
        "labels": LABELS,
    }
    # The service agent must hold the key before the bucket can name it as default key.
    assert registry.named(f"{NAME}-storage-key-user").urn in bucket.dependencies


def test_docker_repository_is_immutable_cmek_and_cleaned_up(registry: Recorder) -> None:
    repository = registry.one("gcp:artifactregistry/repository:Repository")

    assert repository.inputs == {
        "project": PROJECT,
        "location": REGION,
        "repositoryId": NAME,
        "format": "DOCKER",
        "description": f"Model images of {NAME}",
        "dockerConfig": {"immutableTags": True},
        "kmsKeyName": KEY_ID,
        "cleanupPolicies": [
            {"id": "keep-newest", "action": "KEEP", "mostRecentVersions": {"keepCount": 50}},
            {"id": "delete-rest", "action": "DELETE", "condition": {"tagState": "ANY"}},
        ],
        "cleanupPolicyDryRun": False,
        "vulnerabilityScanningConfig": {"enablementConfig": "INHERITED"},
        "labels": LABELS,
    }
    assert registry.named(f"{NAME}-artifact-registry-key-user").urn in repository.dependencies


def test_vertex_metadata_store_is_cmek(registry: Recorder) -> None:
    store = registry.one("gcp:vertex/aiMetadataStore:AiMetadataStore")

    assert store.inputs["name"] == NAME
    assert store.inputs["region"] == REGION
    assert store.inputs["encryptionSpec"] == {"kmsKeyName": KEY_ID}
    assert registry.named(f"{NAME}-vertex-key-user").urn in store.dependencies


def test_outputs(registry: Recorder) -> None:
    assert component(registry).outputs == {
        "registry_bucket": UNKNOWN,
        "artifact_uri": UNKNOWN,
        "image_registry": f"{REGION}-docker.pkg.dev/{PROJECT}/{NAME}",
        "model_registry_id": f"projects/{PROJECT}/locations/{REGION}",
        "encryption_key_id": KEY_ID,
    }


def test_two_registries_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in pulumi_run.children_of(component(pulumi_run, "a"))}
    names_b = {r.name for r in pulumi_run.children_of(component(pulumi_run, "b"))}

    assert len(urns) == len(set(urns))
    assert names_a.isdisjoint(names_b)
    assert len(names_a) == len(names_b)
    assert sorted(
        r.inputs["repositoryId"] for r in pulumi_run.of_type("gcp:artifactregistry/repository:Repository")
    ) == [
        "a",
        "b",
    ]


BAD_ARGS = [
    pytest.param("models", {"region": "europe"}, "region 'europe'", id="region"),
    pytest.param("models", {"noncurrent_version_days": 0}, "noncurrent_version_days 0", id="noncurrent_days"),
    pytest.param("models", {"images_kept": 10001}, "images_kept 10001", id="images_kept"),
    pytest.param("Models", {}, "name 'Models'", id="name"),
]


@pytest.mark.usefixtures("collect_failed_runs")
@pytest.mark.parametrize(("name", "overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, name: str, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(program(name, **overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert f"GcpModelRegistry {name}" in str(failure.value.cause)
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, name)
    ]
