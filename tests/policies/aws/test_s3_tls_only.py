"""s3-tls-only: a compliant baseline and single-property mutations, run as AnalyzeStack runs it."""

import json
from typing import Any

import pytest

from mlops_policies.aws_types import S3_BUCKET, S3_BUCKET_POLICY
from mlops_policies.s3_tls_only import POLICY

ARN = "arn:aws:s3:::mlops-data"
STATEMENT: dict[str, Any] = {
    "Sid": "TlsOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [ARN, f"{ARN}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
READERS: dict[str, Any] = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:role/reader"},
    "Action": "s3:GetObject",
    "Resource": f"{ARN}/*",
}
MISSING = (
    "no bucket policy denies requests without TLS; add a Deny of s3:* for Principal * on the bucket and its "
    'objects when {"Bool": {"aws:SecureTransport": "false"}}'
)
BUCKET: dict[str, Any] = {"type": S3_BUCKET, "name": "data", "props": {"bucket": "mlops-data"}}


def _policy(unknown: str, document: Any) -> dict[str, Any]:
    return {
        "type": S3_BUCKET_POLICY,
        "name": "data-policy",
        "props": {"bucket": unknown, "policy": document},
        "property_dependencies": {"bucket": ["data"], "policy": ["data"]},
    }


def _document(**changes: Any) -> str:
    statement = {k: v for k, v in {**STATEMENT, **changes}.items() if v is not None}
    return json.dumps({"Version": "2012-10-17", "Statement": [READERS, statement]})


def test_baseline_passes(check_stack_policy: Any, unknown: str) -> None:
    run = check_stack_policy(POLICY, [BUCKET, _policy(unknown, _document())])
    assert (run.violations, run.unknown) == ([], None)


@pytest.mark.parametrize(
    ("changes", "compliant"),
    [
        ({"Effect": "Allow"}, False),
        ({"Principal": {"AWS": "arn:aws:iam::123456789012:root"}}, False),
        ({"Principal": {"AWS": "*"}}, True),
        ({"Action": "s3:GetObject"}, False),
        ({"Action": ["s3:GetObject", "s3:*"]}, True),
        ({"Action": "*"}, True),
        ({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}, False),
        ({"Condition": {"Bool": {"aws:SecureTransport": False}}}, True),
        ({"Condition": {"BoolIfExists": {"aws:securetransport": "false"}}}, True),
        ({"Condition": None}, False),
        ({"Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}}, False),
        ({"Resource": ARN}, False),
        ({"Resource": f"{ARN}/*"}, False),
        ({"Resource": "*"}, True),
    ],
    ids=[
        "allow",
        "one-principal",
        "aws-star",
        "one-action",
        "s3-star-in-list",
        "star",
        "secure-true",
        "boolean-false",
        "if-exists-any-case",
        "no-condition",
        "tls-version-only",
        "bucket-only",
        "objects-only",
        "star-resource",
    ],
)
def test_statement_mutations(
    check_stack_policy: Any, unknown: str, changes: dict[str, Any], compliant: bool
) -> None:
    run = check_stack_policy(POLICY, [BUCKET, _policy(unknown, _document(**changes))])
    assert run.violations == ([] if compliant else [("data", MISSING)])


def test_a_bucket_without_a_policy(check_stack_policy: Any) -> None:
    assert check_stack_policy(POLICY, [BUCKET]).violations == [("data", MISSING)]


def test_a_policy_unknown_in_preview_becomes_the_advisory(check_stack_policy: Any, unknown: str) -> None:
    logs = {"type": S3_BUCKET, "name": "logs", "props": {}}
    run = check_stack_policy(POLICY, [BUCKET, logs, _policy(unknown, unknown)])
    assert run.violations == [("logs", MISSING)]  # the definite finding survives the unknown elsewhere
    assert run.unknown == "string value at .policy can't be known during preview"


def test_an_unplaceable_policy_defers_missing_findings(check_stack_policy: Any, unknown: str) -> None:
    policy = {**_policy(unknown, _document()), "property_dependencies": {}}
    run = check_stack_policy(POLICY, [BUCKET, policy])
    assert run.violations == []
    assert run.unknown == "string value at .bucket can't be known during preview"


def test_pairing_by_bucket_name_and_documents_as_objects(check_stack_policy: Any) -> None:
    document = {"Version": "2012-10-17", "Statement": [STATEMENT]}
    policy = {"type": S3_BUCKET_POLICY, "name": "p", "props": {"bucket": "mlops-data", "policy": document}}
    assert check_stack_policy(POLICY, [BUCKET, policy]).violations == []


def test_an_inline_bucket_policy(check_stack_policy: Any) -> None:
    bucket = {**BUCKET, "props": {"bucket": "mlops-data", "policy": _document()}}
    assert check_stack_policy(POLICY, [bucket]).violations == []
