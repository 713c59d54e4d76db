"""ecr-repositories-hardened: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import ECR_REPOSITORY
from mlops_policies.ecr_repositories_hardened import POLICY

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BASELINE: dict[str, Any] = {
    "imageTagMutability": "IMMUTABLE",
    "imageScanningConfiguration": {"scanOnPush": True},
    "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": KEY}],
}
MUTABLE = "image tags can be overwritten (imageTagMutability {}); set it to IMMUTABLE so a tag always names one image"
NOT_SCANNED = "images are not scanned on push; set imageScanningConfiguration.scanOnPush to true"
AES = (
    "images are encrypted with S3-managed keys (encryptionType AES256, the default); set "
    'encryptionConfigurations to [{"encryptionType": "KMS", "kmsKey": <customer key ARN>}]'
)
AWS_KEY = "images are encrypted with the AWS-managed aws/ecr key; set kmsKey to a customer key ARN"


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, ECR_REPOSITORY, BASELINE) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"imageTagMutability": None}, [MUTABLE.format("`MUTABLE`")]),
        ({"imageTagMutability": "MUTABLE"}, [MUTABLE.format("`MUTABLE`")]),
        ({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"}, [MUTABLE.format("`IMMUTABLE_WITH_EXCLUSION`")]),
        ({"imageTagMutability": "whatever"}, [MUTABLE.format("not IMMUTABLE")]),
        ({"imageScanningConfiguration": None}, [NOT_SCANNED]),
        ({"imageScanningConfiguration": {"scanOnPush": False}}, [NOT_SCANNED]),
        ({"encryptionConfigurations": None}, [AES]),
        ({"encryptionConfigurations": [{"encryptionType": "AES256"}]}, [AES]),
        ({"encryptionConfigurations": [{"encryptionType": "KMS"}]}, [AWS_KEY]),
        ({"encryptionConfigurations": [{"encryptionType": "KMS_DSSE", "kmsKey": KEY}]}, []),
    ],
    ids=[
        "mutability-unset",
        "mutable",
        "with-exclusion",
        "odd-mutability",
        "scan-unset",
        "scan-off",
        "encryption-unset",
        "aes",
        "aws-key",
        "dsse",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    props = {k: v for k, v in {**BASELINE, **changes}.items() if v is not None}
    assert check_aws_policy(POLICY, ECR_REPOSITORY, props) == expected


def test_the_provider_defaults_fail_all_three(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, ECR_REPOSITORY, {}) == [MUTABLE.format("`MUTABLE`"), NOT_SCANNED, AES]


def test_a_key_unknown_in_preview_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(
            POLICY,
            ECR_REPOSITORY,
            {**BASELINE, "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": unknown}]},
        )


def test_findings_decided_before_an_unknown_key_still_stand(check_in_preview: Any, unknown: str) -> None:
    props = {
        **BASELINE,
        "imageTagMutability": "MUTABLE",
        "encryptionConfigurations": [{"encryptionType": "KMS", "kmsKey": unknown}],
    }
    run = check_in_preview(POLICY, ECR_REPOSITORY, props)
    assert run.violations == [("subject", MUTABLE.format("`MUTABLE`"))]
    assert run.unknown == "string value at .encryptionConfigurations.0.kmsKey can't be known during preview"
