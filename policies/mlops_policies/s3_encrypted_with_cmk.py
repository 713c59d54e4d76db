"""s3-encrypted-with-cmk: every bucket encrypts with SSE-KMS under a customer-managed key, bucket key on."""

from collections.abc import Sequence
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, Severity, StackValidationArgs

from mlops_policies.aws_types import S3_BUCKET, S3_BUCKET_SSE_TYPES, S3_BUCKET_TYPES
from mlops_policies.stack_support import deferring_unknowns, of_type, paired_with, stack_policy
from mlops_policies.support import Controls, as_list, get

_KMS = "aws:kms"
_DSSE = "aws:kms:dsse"
_KNOWN_ALGORITHMS = frozenset({"AES256", _KMS, _DSSE})
_AWS_MANAGED_KEY = "alias/aws/s3"


def _rules(resource: PolicyResource) -> list[tuple[Any, Any, Any]]:
    """(algorithm, key, bucket key enabled) per encryption rule, for every shape that declares them."""
    if resource.resource_type in S3_BUCKET_SSE_TYPES:
        rules = as_list(get(resource.props, "rules"))
        defaults = [get(rule, "applyServerSideEncryptionByDefault") for rule in rules]
    elif resource.resource_type == S3_BUCKET:  # inline: serverSideEncryptionConfiguration.rule
        rule = get(resource.props, "serverSideEncryptionConfiguration", "rule")
        rules = [rule] if rule is not None else []
        defaults = [get(rule, "applyServerSideEncryptionByDefault") for rule in rules]
    else:  # BucketV2 inline: serverSideEncryptionConfigurations[].rules[].applyServerSideEncryptionByDefaults[]
        rules = [
            rule
            for config in as_list(get(resource.props, "serverSideEncryptionConfigurations"))
            for rule in as_list(get(config, "rules"))
        ]
        defaults = [get(rule, "applyServerSideEncryptionByDefaults", 0) for rule in rules]
    return [
        (get(default, "sseAlgorithm"), get(default, "kmsMasterKeyId"), get(rule, "bucketKeyEnabled"))
        for rule, default in zip(rules, defaults, strict=True)
    ]


def rule_findings(rules: Sequence[tuple[Any, Any, Any]]) -> list[str]:
    """Findings for the encryption rules of one bucket (declared in one resource)."""
    if not rules:
        return ["declares no default encryption rule; add one with sseAlgorithm aws:kms and a customer key"]
    findings = []
    for algorithm, key, bucket_key in rules:
        if algorithm not in (_KMS, _DSSE):
            shown = f"`{algorithm}`" if algorithm in _KNOWN_ALGORITHMS else "an algorithm other than aws:kms"
            findings.append(f"encrypts with {shown}; set sseAlgorithm to aws:kms with a customer-managed key")
            continue
        if not key or (isinstance(key, str) and key.endswith(_AWS_MANAGED_KEY)):
            findings.append(
                "encrypts with the AWS-managed aws/s3 key; set kmsMasterKeyId to a customer-managed key ARN"
            )
        # DSSE-KMS does not support S3 Bucket Keys.
        if algorithm == _KMS and bucket_key is not True:
            findings.append(
                "leaves S3 Bucket Keys off; set bucketKeyEnabled to true (fewer KMS calls, lower cost)"
            )
    return findings


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = of_type(args, S3_BUCKET_TYPES)
    with deferring_unknowns() as unknowns:
        configured: set[str] = set()
        placed_all = True
        for config in of_type(args, S3_BUCKET_SSE_TYPES):
            before = unknowns.count
            with unknowns.guard():
                configured.update(
                    b.urn for b in paired_with(config, "bucket", buckets, identifiers=("bucket", "id"))
                )
            placed_all = placed_all and unknowns.count == before
            with unknowns.guard():
                for finding in rule_findings(_rules(config)):
                    report_violation(finding, config.urn)
        for bucket in buckets:
            if bucket.urn in configured:
                continue  # a separate configuration resource overrides the deprecated inline one
            with unknowns.guard():
                inline = _rules(bucket)
                if inline:
                    for finding in rule_findings(inline):
                        report_violation(finding, bucket.urn)
                elif placed_all:
                    report_violation(
                        "bucket has no SSE-KMS default encryption (S3 uses SSE-S3 with S3-managed keys); add an "
                        "aws:s3/bucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms, a "
                        "customer-managed kmsMasterKeyId and bucketKeyEnabled",
                        bucket.urn,
                    )


POLICY = stack_policy(
    name="s3-encrypted-with-cmk",
    description=(
        "Every S3 bucket's default encryption is SSE-KMS (aws:kms or aws:kms:dsse) with a customer-managed "
        "key, and S3 Bucket Keys on for aws:kms (aws:s3/bucketServerSideEncryptionConfiguration paired with "
        "the bucket, or the bucket's inline configuration)."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        "Add `aws.s3.BucketServerSideEncryptionConfiguration(..., bucket=bucket.id, rules=[{"
        '"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": '
        'key.arn}, "bucket_key_enabled": True}])` with a rotated customer-managed key.'
    ),
    controls=Controls(nist=("SC-28", "SC-12"), gdpr=("Art.32",)),
    validate=_validate,
)
