"""The settings every S3 bucket of the AWS components carries, as children of the calling component.

Encryption with the component's customer key (bucket key on), versioning, all four public-access-block
flags, optionally BucketOwnerEnforced ownership, and a lifecycle rule that expires old versions. Children
keep the caller's parent and `<prefix>-<role>` names, so moving here changes no URN.
"""

import pulumi
import pulumi_aws as aws


def secure_bucket_settings(
    prefix: str,
    bucket: aws.s3.Bucket,
    key_arn: pulumi.Input[str],
    noncurrent_days: pulumi.Input[int],
    opts: pulumi.ResourceOptions,
    *,
    enforce_owner: bool = False,
    lifecycle_rule_id: str = "expire-noncurrent",
    lifecycle_after_versioning: bool = False,
) -> aws.s3.BucketVersioning:
    """Register the bucket's hardening children; return its versioning (for resources that need it first)."""
    aws.s3.BucketPublicAccessBlock(
        f"{prefix}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    if enforce_owner:
        aws.s3.BucketOwnershipControls(
            f"{prefix}-ownership",
            bucket=bucket.id,
            rule={"object_ownership": "BucketOwnerEnforced"},
            opts=opts,
        )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{prefix}-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key_arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        opts=opts,
    )
    versioning = aws.s3.BucketVersioning(
        f"{prefix}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=opts
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{prefix}-lifecycle",
        bucket=bucket.id,
        rules=[
            {
                "id": lifecycle_rule_id,
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ],
        # Lifecycle rules on noncurrent versions need versioning enabled first.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[versioning]))
        if lifecycle_after_versioning
        else opts,
    )
    return versioning
