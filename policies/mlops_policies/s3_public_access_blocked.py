"""s3-public-access-blocked: every bucket is covered by an S3 public access block with all four flags on."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, Severity, StackValidationArgs

from mlops_policies.aws_types import (
    S3_ACCOUNT_PUBLIC_ACCESS_BLOCK,
    S3_BUCKET_PUBLIC_ACCESS_BLOCK,
    S3_BUCKET_TYPES,
)
from mlops_policies.stack_support import deferring_unknowns, of_type, paired_with, stack_policy
from mlops_policies.support import Controls, get

FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def flags_off(props: Mapping[str, Any]) -> list[str]:
    """The public-access flags not set to true (each defaults to false)."""
    return [flag for flag in FLAGS if get(props, flag) is not True]


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = of_type(args, S3_BUCKET_TYPES)
    with deferring_unknowns() as unknowns:
        account_blocked = False
        for block in of_type(args, {S3_ACCOUNT_PUBLIC_ACCESS_BLOCK}):
            with unknowns.guard():
                account_blocked = account_blocked or not flags_off(block.props)
        # An account-level block that could not be read may cover every bucket.
        placed_all = unknowns.count == 0
        covered: set[str] = set()
        for block in of_type(args, {S3_BUCKET_PUBLIC_ACCESS_BLOCK}):
            before = unknowns.count
            with unknowns.guard():
                covered.update(
                    bucket.urn
                    for bucket in paired_with(block, "bucket", buckets, identifiers=("bucket", "id"))
                )
            placed_all = placed_all and unknowns.count == before
            with unknowns.guard():
                off = flags_off(block.props)
                if off and not account_blocked:
                    report_violation(
                        f"public access block leaves {', '.join(off)} off; set all four flags to true",
                        block.urn,
                    )
        # A block whose bucket could not be read may be the one a bucket below lacks: let the unknown speak.
        if account_blocked or not placed_all:
            return
        for bucket in buckets:
            if bucket.urn not in covered:
                report_violation(
                    "bucket has no aws:s3/bucketPublicAccessBlock; add one for it with blockPublicAcls, "
                    "blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets all true",
                    bucket.urn,
                )


POLICY = stack_policy(
    name="s3-public-access-blocked",
    description=(
        "Every S3 bucket has an aws:s3/bucketPublicAccessBlock (bucket dependency or name) with "
        "blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets true, unless the "
        "stack's account-level public access block sets all four."
    ),
    severity=Severity.HIGH,
    remediation=(
        'Add `aws.s3.BucketPublicAccessBlock(f"{name}-public-access", bucket=bucket.id, '
        "block_public_acls=True, block_public_policy=True, ignore_public_acls=True, "
        "restrict_public_buckets=True)` beside each bucket; serve public content through CloudFront with "
        "origin access control instead of a public bucket."
    ),
    controls=Controls(cis=("AWS-2.1.4",), nist=("AC-3", "SC-7"), gdpr=("Art.32",)),
    validate=_validate,
)
