"""AwsModelRegistry: where trained models, their images and their lineage live on AWS.

An S3 artifact bucket (versioned, SSE-KMS under a customer key this component owns with S3 Bucket Keys, all
four public-access-block flags, a TLS-only bucket policy, noncurrent versions expired after N days,
optionally Object Lock) with server access logs to a separate logs bucket; one ECR repository per image
(immutable tags, scan on push, the same KMS key, a lifecycle keeping the newest N images); and a SageMaker
model package group, the registry models are versioned and approved in.

The logs bucket encrypts with the same customer key: S3 server access logging delivers to an SSE-KMS
destination only under a customer-managed key whose policy lets `logging.s3.amazonaws.com` generate data keys
(never under the AWS-managed aws/s3 key), so the key policy carries that one grant, pinned to this account.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.s3 import secure_bucket_settings
from components.tags import name_tagged

TYPE_TOKEN = "mlopshub:index:AwsModelRegistry"

_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
OBJECT_LOCK_MODE = "GOVERNANCE"
"""Default retention mode under Object Lock: GOVERNANCE (a privileged principal can still lift it);
COMPLIANCE cannot be undone by anyone, including the account root, until the retention ends."""


class AwsModelRegistryArgs(TypedDict):
    """Arguments of AwsModelRegistry. The component's name prefixes every child and the ECR repositories."""

    image_names: Sequence[str]
    """Images to keep (e.g. `training`, `serving`): one ECR repository `<name>/<image>` each."""
    model_package_group_name: NotRequired[str]
    """SageMaker model package group name (default: the component's name)."""
    noncurrent_version_days: NotRequired[int]
    """Days a replaced or deleted artifact version is kept before it expires (default 90, 1 to 3650)."""
    images_kept: NotRequired[int]
    """Newest images kept per ECR repository; older ones expire (default 50, 1 to 10000)."""
    object_lock: NotRequired[bool]
    """Create the artifact bucket with S3 Object Lock and a default GOVERNANCE retention (default false).
    Only at creation: switching it later replaces the bucket. Meant for prod."""
    object_lock_days: NotRequired[int]
    """Default retention in days under Object Lock (default 30, 1 to 36500)."""
    tags: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Tags added to every taggable child, on top of the provider's default tags."""


def artifact_key_policy(account_id: str, partition: str) -> str:
    """KMS key policy: account administration (S3 and ECR use the key through the caller's IAM grants), and
    data keys for S3 server access log delivery into this account's buckets."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "S3ServerAccessLogsDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "kms:GenerateDataKey",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
            ],
        }
    )


def tls_only_statement(bucket_arn: str) -> dict[str, object]:
    """Deny every S3 action on the bucket and its objects to everyone when the request is not over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def artifact_bucket_policy(bucket_arn: str) -> str:
    """The artifact bucket's policy: TLS only."""
    return json.dumps({"Version": "2012-10-17", "Statement": [tls_only_statement(bucket_arn)]})


def logs_bucket_policy(logs_bucket_arn: str, source_bucket_arn: str, account_id: str) -> str:
    """The logs bucket's policy: TLS only, and S3 log delivery for the one source bucket (confused deputy)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                tls_only_statement(logs_bucket_arn),
                {
                    "Sid": "S3ServerAccessLogsDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{logs_bucket_arn}/*",
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": source_bucket_arn},
                        "StringEquals": {"aws:SourceAccount": account_id},
                    },
                },
            ],
        }
    )


def ecr_lifecycle_policy(images_kept: int) -> str:
    """ECR lifecycle policy: expire all but the newest `images_kept` images."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the newest {images_kept} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": images_kept,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )


def _in_range(owner: str, field: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{owner}: {field} {value!r} must be an integer from {low} to {high}")
    return value


class AwsModelRegistry(pulumi.ComponentResource):
    """Artifact bucket, ECR repositories and a SageMaker model package group under one customer KMS key."""

    registry_bucket: pulumi.Output[str]
    """Name of the artifact bucket."""
    artifact_uri: pulumi.Output[str]
    """`s3://<bucket>`: where MLflow and training jobs write artifacts."""
    image_registry: pulumi.Output[str]
    """`<account>.dkr.ecr.<region>.amazonaws.com/<name>`: images are pushed to `<image_registry>/<image>`."""
    model_registry_id: pulumi.Output[str]
    """The SageMaker model package group name."""
    encryption_key_id: pulumi.Output[str]
    """ARN of the KMS key encrypting artifacts and images."""

    def __init__(
        self, name: str, args: AwsModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        owner = f"AwsModelRegistry {name}"
        images = list(args["image_names"])
        for image in images:
            if not _IMAGE_NAME.match(image) or len(f"{name}/{image}") > 256:
                raise ValueError(f"{owner}: image name {image!r} is not a valid ECR repository name part")
        if len(set(images)) != len(images):
            raise ValueError(f"{owner}: image_names {images} repeat a name")
        group_name = args.get("model_package_group_name", name)
        if not _GROUP_NAME.match(group_name):
            raise ValueError(
                f"{owner}: model_package_group_name {group_name!r} must be 1 to 63 letters, digits and hyphens"
            )
        noncurrent_days = _in_range(
            owner, "noncurrent_version_days", args.get("noncurrent_version_days", 90), 1, 3650
        )
        images_kept = _in_range(owner, "images_kept", args.get("images_kept", 50), 1, 10000)
        object_lock = args.get("object_lock", False)
        lock_days = _in_range(owner, "object_lock_days", args.get("object_lock_days", 30), 1, 36500)
        tags = args.get("tags")
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)

        identity = aws.get_caller_identity_output(opts=invoke)
        partition_info = aws.get_partition_output(opts=invoke)
        partition = partition_info.partition
        region = aws.get_region_output(opts=invoke).region

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts model artifacts and images of {name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(identity.account_id, partition).apply(
                lambda values: artifact_key_policy(values[0], values[1])
            ),
            tags=name_tagged(tags, f"{name}-key"),
            opts=child,
        )

        logs = aws.s3.Bucket(f"{name}-access-logs", tags=name_tagged(tags, f"{name}-access-logs"), opts=child)
        secure_bucket_settings(
            f"{name}-access-logs", logs, key.arn, noncurrent_days, child, enforce_owner=True
        )

        artifacts = aws.s3.Bucket(
            f"{name}-artifacts",
            object_lock_enabled=True if object_lock else None,
            tags=name_tagged(tags, f"{name}-artifacts"),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-access-logs-policy",
            bucket=logs.id,
            policy=pulumi.Output.all(logs.arn, artifacts.arn, identity.account_id).apply(
                lambda values: logs_bucket_policy(values[0], values[1], values[2])
            ),
            opts=child,
        )
        # Object events go to EventBridge (free for S3 events), so pipelines can react to new model artifacts.
        aws.s3.BucketNotification(
            f"{name}-artifacts-events", bucket=artifacts.id, eventbridge=True, opts=child
        )
        versioning = secure_bucket_settings(
            f"{name}-artifacts",
            artifacts,
            key.arn,
            noncurrent_days,
            child,
            enforce_owner=True,
            lifecycle_after_versioning=True,
        )
        aws.s3.BucketPolicy(
            f"{name}-artifacts-policy",
            bucket=artifacts.id,
            policy=artifacts.arn.apply(artifact_bucket_policy),
            opts=child,
        )
        aws.s3.BucketLogging(
            f"{name}-artifacts-logging",
            bucket=artifacts.id,
            target_bucket=logs.id,
            target_prefix=f"{name}-artifacts/",
            opts=child,
        )
        if object_lock:
            aws.s3.BucketObjectLockConfiguration(
                f"{name}-artifacts-object-lock",
                bucket=artifacts.id,
                rule={"default_retention": {"mode": OBJECT_LOCK_MODE, "days": lock_days}},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
            )

        for image in images:
            role = f"{name}-{image.replace('/', '-')}-repository"
            repository = aws.ecr.Repository(
                role,
                name=f"{name}/{image}",
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}],
                tags=name_tagged(tags, role),
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                f"{role}-lifecycle",
                repository=repository.name,
                policy=ecr_lifecycle_policy(images_kept),
                opts=child,
            )

        group = aws.sagemaker.ModelPackageGroup(
            f"{name}-model-package-group",
            model_package_group_name=group_name,
            model_package_group_description=f"Model versions registered by {name}",
            tags=name_tagged(tags, f"{name}-model-package-group"),
            opts=child,
        )

        self.registry_bucket = artifacts.bucket
        self.artifact_uri = pulumi.Output.concat("s3://", artifacts.bucket)
        self.image_registry = pulumi.Output.concat(
            identity.account_id, ".dkr.ecr.", region, ".", partition_info.dns_suffix, "/", name
        )
        self.model_registry_id = group.model_package_group_name
        self.encryption_key_id = key.arn
        self.register_outputs(
            {
                "registry_bucket": self.registry_bucket,
                "artifact_uri": self.artifact_uri,
                "image_registry": self.image_registry,
                "model_registry_id": self.model_registry_id,
                "encryption_key_id": self.encryption_key_id,
            }
        )
