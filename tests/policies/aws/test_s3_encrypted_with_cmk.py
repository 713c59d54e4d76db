"""s3-encrypted-with-cmk: a compliant baseline and single-property mutations, run as AnalyzeStack runs it."""

from typing import Any

import pytest

from mlops_policies.aws_types import KMS_KEY, S3_BUCKET, S3_BUCKET_SSE, S3_BUCKET_SSE_V2, S3_BUCKET_V2
from mlops_policies.s3_encrypted_with_cmk import POLICY

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MISSING = (
    "bucket has no SSE-KMS default encryption (S3 uses SSE-S3 with S3-managed keys); add an "
    "aws:s3/bucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms, a customer-managed "
    "kmsMasterKeyId and bucketKeyEnabled"
)
AWS_KEY = "encrypts with the AWS-managed aws/s3 key; set kmsMasterKeyId to a customer-managed key ARN"
NO_BUCKET_KEY = "leaves S3 Bucket Keys off; set bucketKeyEnabled to true (fewer KMS calls, lower cost)"
AES = "encrypts with `AES256`; set sseAlgorithm to aws:kms with a customer-managed key"

BUCKET: dict[str, Any] = {"type": S3_BUCKET, "name": "data", "props": {}}
KMS: dict[str, Any] = {"type": KMS_KEY, "name": "key", "props": {"enableKeyRotation": True}}


def _config(
    unknown: str, key: Any = KEY, resource_type: str = S3_BUCKET_SSE, **changes: Any
) -> dict[str, Any]:
    default = {
        k: v
        for k, v in {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key, **changes}.items()
        if v is not None
    }
    rule: dict[str, Any] = {"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}
    if "bucketKeyEnabled" in changes:
        rule = {
            k: v
            for k, v in {**rule, "bucketKeyEnabled": changes["bucketKeyEnabled"]}.items()
            if v is not None
        }
        default.pop("bucketKeyEnabled", None)
    return {
        "type": resource_type,
        "name": "data-sse",
        "props": {"bucket": unknown, "rules": [rule]},
        "property_dependencies": {"bucket": ["data"], "rules": ["key"]},
    }


@pytest.mark.parametrize("resource_type", [S3_BUCKET_SSE, S3_BUCKET_SSE_V2])
def test_baseline_passes(check_stack_policy: Any, unknown: str, resource_type: str) -> None:
    run = check_stack_policy(POLICY, [BUCKET, KMS, _config(unknown, resource_type=resource_type)])
    assert (run.violations, run.unknown) == ([], None)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"sseAlgorithm": "AES256", "kmsMasterKeyId": None}, [AES]),
        (
            {"sseAlgorithm": "rot13"},
            [
                "encrypts with an algorithm other than aws:kms; set sseAlgorithm to aws:kms with a customer-managed key"
            ],
        ),
        ({"kmsMasterKeyId": None}, [AWS_KEY]),
        ({"kmsMasterKeyId": "alias/aws/s3"}, [AWS_KEY]),
        ({"kmsMasterKeyId": "arn:aws:kms:eu-west-1:123456789012:alias/aws/s3"}, [AWS_KEY]),
        ({"kmsMasterKeyId": "alias/mlops-data"}, []),
        ({"bucketKeyEnabled": False}, [NO_BUCKET_KEY]),
        ({"bucketKeyEnabled": None}, [NO_BUCKET_KEY]),
        ({"kmsMasterKeyId": None, "bucketKeyEnabled": None}, [AWS_KEY, NO_BUCKET_KEY]),
        ({"sseAlgorithm": "aws:kms:dsse", "bucketKeyEnabled": None}, []),  # DSSE-KMS has no bucket keys
    ],
    ids=[
        "aes",
        "odd-algorithm",
        "no-key",
        "aws-alias",
        "aws-alias-arn",
        "customer-alias",
        "bucket-key-off",
        "bucket-key-unset",
        "both",
        "dsse",
    ],
)
def test_rule_mutations(
    check_stack_policy: Any, unknown: str, changes: dict[str, Any], expected: list[str]
) -> None:
    key = changes.pop("kmsMasterKeyId", KEY)
    run = check_stack_policy(POLICY, [BUCKET, KMS, _config(unknown, key=key, **changes)])
    assert run.violations == [("data-sse", message) for message in expected]


def test_a_key_unknown_in_preview_becomes_the_advisory(check_stack_policy: Any, unknown: str) -> None:
    run = check_stack_policy(POLICY, [BUCKET, KMS, _config(unknown, key=unknown)])
    assert run.violations == []
    assert (
        run.unknown
        == "string value at .rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId can't be known during preview"
    )


def test_an_unknown_key_does_not_hide_another_buckets_finding(check_stack_policy: Any, unknown: str) -> None:
    logs = {"type": S3_BUCKET, "name": "logs", "props": {}}
    run = check_stack_policy(POLICY, [BUCKET, logs, KMS, _config(unknown, key=unknown)])
    assert run.violations == [("logs", MISSING)]
    assert run.unknown is not None


def test_a_bucket_without_encryption(check_stack_policy: Any) -> None:
    assert check_stack_policy(POLICY, [BUCKET]).violations == [("data", MISSING)]


def test_empty_rules(check_stack_policy: Any, unknown: str) -> None:
    config = {**_config(unknown), "props": {"bucket": unknown, "rules": []}}
    assert check_stack_policy(POLICY, [BUCKET, config]).violations == [
        (
            "data-sse",
            "declares no default encryption rule; add one with sseAlgorithm aws:kms and a customer key",
        )
    ]


def test_pairing_by_bucket_name(check_stack_policy: Any, unknown: str) -> None:
    config = {
        **_config(unknown),
        "props": {**_config(unknown)["props"], "bucket": "mlops-data"},
        "property_dependencies": {},
    }
    named = {**BUCKET, "props": {"bucket": "mlops-data"}}
    assert check_stack_policy(POLICY, [named, config]).violations == []


def test_an_unplaceable_configuration_defers_missing_findings(check_stack_policy: Any, unknown: str) -> None:
    config = {**_config(unknown), "property_dependencies": {}}
    run = check_stack_policy(POLICY, [BUCKET, config])
    assert run.violations == []
    assert run.unknown == "string value at .bucket can't be known during preview"


def test_inline_configuration_on_the_bucket(check_stack_policy: Any) -> None:
    default = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}
    inline = {
        "serverSideEncryptionConfiguration": {
            "rule": {"applyServerSideEncryptionByDefault": default, "bucketKeyEnabled": True}
        }
    }
    assert check_stack_policy(POLICY, [{**BUCKET, "props": inline}]).violations == []
    aes = {
        "serverSideEncryptionConfiguration": {
            "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
        }
    }
    assert check_stack_policy(POLICY, [{**BUCKET, "props": aes}]).violations == [("data", AES)]


def test_inline_configuration_on_a_bucket_v2(check_stack_policy: Any) -> None:
    rule = {"applyServerSideEncryptionByDefaults": [{"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}]}
    bucket = {
        "type": S3_BUCKET_V2,
        "name": "data",
        "props": {"serverSideEncryptionConfigurations": [{"rules": [rule]}]},
    }
    assert check_stack_policy(POLICY, [bucket]).violations == [("data", NO_BUCKET_KEY)]


def test_a_separate_configuration_overrides_the_inline_one(check_stack_policy: Any, unknown: str) -> None:
    aes = {
        "serverSideEncryptionConfiguration": {
            "rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
        }
    }
    run = check_stack_policy(POLICY, [{**BUCKET, "props": aes}, KMS, _config(unknown)])
    assert run.violations == []
