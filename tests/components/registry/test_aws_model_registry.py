"""Behaviour of AwsModelRegistry: its policy documents, and what it registers under the offline engine's mocks."""

import gc
import json
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import pulumi
import pulumi_aws as aws
import pytest

from components.registry.aws_model_registry import (
    TYPE_TOKEN,
    AwsModelRegistry,
    AwsModelRegistryArgs,
    artifact_bucket_policy,
    ecr_lifecycle_policy,
    logs_bucket_policy,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

NAME = "models"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
"""The account the offline getCallerIdentity answer reports."""
STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:aws"
BUCKET = "aws:s3/bucket:Bucket"
REPOSITORY = "aws:ecr/repository:Repository"
UNKNOWN = "[unknown]"


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...
    def tags_of(self, resource: RecordedResource) -> dict[str, Any] | None: ...


def program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit eu-west-1 provider with default tags, and one registry per name."""

    def body() -> None:
        provider = aws.Provider("p", region=REGION, default_tags={"tags": {"team": "t"}})
        for name in names or (NAME,):
            args = cast(AwsModelRegistryArgs, {"image_names": ["training", "serving"], **overrides})
            AwsModelRegistry(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def registry(pulumi_run: Recorder) -> Recorder:
    """A recorded run of the default registry `models` with one extra tag."""
    pulumi_run.run(program(tags={"extra": "x"}))
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


def test_every_child_is_parented_and_named_after_the_component(registry: Recorder) -> None:
    parent = component(registry)
    children = registry.children_of(parent)
    others = [r for r in registry.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert {r.urn for r in children} == {r.urn for r in others}
    assert all(r.name.startswith(f"{NAME}-") for r in children)
    assert all(r.provider is not None and r.provider.endswith("::p") for r in children if r.custom)


def test_key_rotates_and_is_account_administered(registry: Recorder) -> None:
    key = registry.named(f"{NAME}-key")

    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert json.loads(key.inputs["policy"])["Statement"] == [
        {
            "Sid": "AccountAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "S3ServerAccessLogsDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "kms:GenerateDataKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        },
    ]


@pytest.mark.parametrize("bucket", ["artifacts", "access-logs"])
def test_both_buckets_block_public_access_and_enforce_owner(registry: Recorder, bucket: str) -> None:
    block = registry.named(f"{NAME}-{bucket}-public-access")
    ownership = registry.named(f"{NAME}-{bucket}-ownership")

    assert {k: block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls")} == {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
    }
    assert block.inputs["restrictPublicBuckets"] is True
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert registry.named(f"{NAME}-{bucket}").urn in block.dependencies


@pytest.mark.parametrize("bucket", ["artifacts", "access-logs"])
def test_both_buckets_encrypt_with_the_component_key_and_bucket_key(registry: Recorder, bucket: str) -> None:
    encryption = registry.named(f"{NAME}-{bucket}-encryption")

    assert encryption.inputs["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": UNKNOWN},
            "bucketKeyEnabled": True,
        }
    ]
    assert registry.named(f"{NAME}-key").urn in encryption.property_dependencies["rules"]


def test_artifact_access_is_logged_to_the_logs_bucket(registry: Recorder) -> None:
    logging = registry.named(f"{NAME}-artifacts-logging")

    assert logging.inputs["targetPrefix"] == f"{NAME}-artifacts/"
    assert registry.named(f"{NAME}-access-logs").urn in logging.property_dependencies["targetBucket"]


@pytest.mark.parametrize("bucket", ["artifacts", "access-logs"])
def test_versioning_and_noncurrent_expiry(registry: Recorder, bucket: str) -> None:
    assert registry.named(f"{NAME}-{bucket}-versioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    assert registry.named(f"{NAME}-{bucket}-lifecycle").inputs["rules"] == [
        {
            "id": "expire-noncurrent",
            "status": "Enabled",
            "filter": {},
            "noncurrentVersionExpiration": {"noncurrentDays": 90},
            "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7},
        }
    ]


def test_artifact_events_go_to_eventbridge(registry: Recorder) -> None:
    events = registry.named(f"{NAME}-artifacts-events")

    assert events.inputs["eventbridge"] is True
    assert registry.named(f"{NAME}-artifacts").urn in events.property_dependencies["bucket"]


def test_bucket_policies_are_tls_only() -> None:
    arn = "arn:aws:s3:::b"
    deny = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }

    assert json.loads(artifact_bucket_policy(arn))["Statement"] == [deny]
    assert json.loads(logs_bucket_policy(arn, "arn:aws:s3:::src", ACCOUNT))["Statement"] == [
        deny,
        {
            "Sid": "S3ServerAccessLogsDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{arn}/*",
            "Condition": {
                "ArnLike": {"aws:SourceArn": "arn:aws:s3:::src"},
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
            },
        },
    ]


def test_no_object_lock_by_default(registry: Recorder) -> None:
    assert "objectLockEnabled" not in registry.named(f"{NAME}-artifacts").inputs
    assert not registry.of_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")


def test_object_lock_in_prod(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(object_lock=True, object_lock_days=365))

    assert pulumi_run.named(f"{NAME}-artifacts").inputs["objectLockEnabled"] is True
    lock = pulumi_run.named(f"{NAME}-artifacts-object-lock")
    assert lock.inputs["rule"] == {"defaultRetention": {"mode": "GOVERNANCE", "days": 365}}
    assert pulumi_run.named(f"{NAME}-artifacts-versioning").urn in lock.dependencies


def test_ecr_repositories_are_hardened(registry: Recorder) -> None:
    repositories = sorted(registry.of_type(REPOSITORY), key=lambda r: r.name)

    assert [r.inputs["name"] for r in repositories] == [f"{NAME}/serving", f"{NAME}/training"]
    for repository in repositories:
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": UNKNOWN}]
        lifecycle = registry.named(f"{repository.name}-lifecycle")
        assert json.loads(lifecycle.inputs["policy"]) == json.loads(ecr_lifecycle_policy(50))


def test_ecr_lifecycle_keeps_the_newest_images() -> None:
    assert json.loads(ecr_lifecycle_policy(7))["rules"][0]["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 7,
    }


def test_model_package_group(registry: Recorder) -> None:
    group = registry.one("aws:sagemaker/modelPackageGroup:ModelPackageGroup")

    assert group.inputs["modelPackageGroupName"] == NAME


def test_taggable_children_carry_caller_and_name_tags(registry: Recorder) -> None:
    for resource in [registry.named(f"{NAME}-{role}") for role in ("key", "artifacts", "access-logs")]:
        assert registry.tags_of(resource) == {"team": "t", "extra": "x", "Name": resource.name}


def test_outputs(registry: Recorder) -> None:
    outputs = component(registry).outputs

    assert outputs == {
        "registry_bucket": UNKNOWN,
        "artifact_uri": UNKNOWN,
        "image_registry": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{NAME}",
        "model_registry_id": NAME,
        "encryption_key_id": UNKNOWN,
    }


def test_two_registries_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in pulumi_run.children_of(component(pulumi_run, "a"))}
    names_b = {r.name for r in pulumi_run.children_of(component(pulumi_run, "b"))}

    assert len(urns) == len(set(urns))
    assert names_a.isdisjoint(names_b)
    assert len(names_a) == len(names_b)
    assert sorted(r.inputs["name"] for r in pulumi_run.of_type(REPOSITORY)) == [
        "a/serving",
        "a/training",
        "b/serving",
        "b/training",
    ]


BAD_ARGS = [
    pytest.param({"image_names": ["Bad Name"]}, "image name 'Bad Name'", id="image_name"),
    pytest.param({"image_names": ["x", "x"]}, "repeat a name", id="repeated_image"),
    pytest.param({"model_package_group_name": "no_underscores"}, "'no_underscores'", id="group_name"),
    pytest.param({"noncurrent_version_days": 0}, "noncurrent_version_days 0", id="noncurrent_days"),
    pytest.param({"images_kept": 0}, "images_kept 0", id="images_kept"),
    pytest.param({"object_lock_days": 0}, "object_lock_days 0", id="lock_days"),
]


@pytest.mark.usefixtures("collect_failed_runs")
@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert f"AwsModelRegistry {NAME}" in str(failure.value.cause)
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]
