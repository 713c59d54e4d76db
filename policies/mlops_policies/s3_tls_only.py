"""s3-tls-only: every bucket's policy denies requests that do not use TLS."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, Severity, StackValidationArgs

from mlops_policies.aws_types import S3_BUCKET_POLICY, S3_BUCKET_TYPES
from mlops_policies.iam_analysis import condition_values, document, strings
from mlops_policies.stack_support import deferring_unknowns, of_type, paired_with, stack_policy
from mlops_policies.support import Controls, get, statements

_EVERY_S3_ACTION = frozenset({"*", "s3:*"})


def _denies_everyone(statement: Mapping[str, Any]) -> bool:
    principal = statement.get("Principal")
    return principal == "*" or (isinstance(principal, Mapping) and "*" in strings(principal.get("AWS")))


def _is_insecure_transport(values: list[Any] | None) -> bool:
    return values is not None and any(value in (False, "false") for value in values)


def denies_insecure_transport(statement: Mapping[str, Any]) -> bool:
    """Whether a statement denies every S3 action, to everyone, on the bucket and its objects, without TLS."""
    if statement.get("Effect") != "Deny" or not _denies_everyone(statement):
        return False
    if not _EVERY_S3_ACTION & {action.lower() for action in strings(statement.get("Action"))}:
        return False
    condition = statement.get("Condition")
    if not any(
        _is_insecure_transport(condition_values(condition, operator, "aws:SecureTransport"))
        for operator in ("Bool", "BoolIfExists")
    ):
        return False
    resources = strings(statement.get("Resource"))
    covers_bucket = any(resource == "*" or "/" not in resource for resource in resources)
    covers_objects = any(resource == "*" or resource.endswith("/*") for resource in resources)
    return covers_bucket and covers_objects


def tls_enforced(policy: Any) -> bool:
    """Whether a bucket policy document (JSON text or object) holds a TLS-only deny."""
    return any(denies_insecure_transport(statement) for statement in statements(document(policy)))


def _validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    buckets = of_type(args, S3_BUCKET_TYPES)
    with deferring_unknowns() as unknowns:
        enforced: set[str] = set()
        undecided: set[str] = set()
        placed_all = True
        for bucket_policy in of_type(args, {S3_BUCKET_POLICY}):
            before = unknowns.count
            targets = []
            with unknowns.guard():
                targets = paired_with(bucket_policy, "bucket", buckets, identifiers=("bucket", "id"))
            placed_all = placed_all and unknowns.count == before
            before = unknowns.count
            with unknowns.guard():
                if tls_enforced(get(bucket_policy.props, "policy")):
                    enforced.update(bucket.urn for bucket in targets)
            if unknowns.count != before:
                undecided.update(bucket.urn for bucket in targets)
        for bucket in buckets:
            if bucket.urn in enforced or bucket.urn in undecided:
                continue
            before = unknowns.count
            with unknowns.guard():
                inline = tls_enforced(get(bucket.props, "policy"))
            if inline or unknowns.count != before or not placed_all:
                continue
            report_violation(
                "no bucket policy denies requests without TLS; add a Deny of s3:* for Principal * on the "
                'bucket and its objects when {"Bool": {"aws:SecureTransport": "false"}}',
                bucket.urn,
            )


POLICY = stack_policy(
    name="s3-tls-only",
    description=(
        "Every S3 bucket has a bucket policy (aws:s3/bucketPolicy paired with it, or inline) that denies "
        "s3:* to every principal on the bucket and its objects when aws:SecureTransport is false."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        'Add an aws.s3.BucketPolicy with `{"Effect": "Deny", "Principal": "*", "Action": "s3:*", '
        '"Resource": [bucket_arn, bucket_arn + "/*"], "Condition": {"Bool": {"aws:SecureTransport": '
        '"false"}}}`; keep the bucket\'s other statements in the same policy (a bucket has one policy).'
    ),
    controls=Controls(cis=("AWS-2.1.1",), nist=("SC-8", "SC-8(1)"), gdpr=("Art.32",)),
    validate=_validate,
)
