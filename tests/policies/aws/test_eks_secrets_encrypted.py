"""eks-secrets-encrypted: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import EKS_CLUSTER
from mlops_policies.eks_secrets_encrypted import POLICY

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ENCRYPTION: dict[str, Any] = {"resources": ["secrets"], "provider": {"keyArn": KEY}}
NOT_COVERED = (
    "secrets are encrypted only with an AWS-owned key (no encryptionConfig covers `secrets`); add "
    'encryptionConfig with resources ["secrets"] and provider.keyArn set to a customer KMS key'
)
NO_KEY = "encryptionConfig for secrets has no provider.keyArn; set it to a customer KMS key ARN"


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, EKS_CLUSTER, {"encryptionConfig": ENCRYPTION}) == []


@pytest.mark.parametrize(
    ("encryption", "expected"),
    [
        (None, [NOT_COVERED]),
        ({**ENCRYPTION, "resources": []}, [NOT_COVERED]),
        ({**ENCRYPTION, "resources": ["configmaps"]}, [NOT_COVERED]),
        ({"resources": ["secrets"]}, [NO_KEY]),
        ({"resources": ["secrets"], "provider": {"keyArn": ""}}, [NO_KEY]),
        ([ENCRYPTION], []),  # older providers: a list of one
    ],
    ids=["unset", "no-resources", "other-resources", "no-provider", "empty-key", "as-list"],
)
def test_mutations(check_aws_policy: Any, encryption: Any, expected: list[str]) -> None:
    props = {"encryptionConfig": encryption} if encryption is not None else {}
    assert check_aws_policy(POLICY, EKS_CLUSTER, props) == expected


def test_a_key_unknown_in_preview_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(
            POLICY, EKS_CLUSTER, {"encryptionConfig": {**ENCRYPTION, "provider": {"keyArn": unknown}}}
        )
