"""kms-key-rotation-enabled: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import KMS_KEY
from mlops_policies.kms_key_rotation_enabled import POLICY

BASELINE: dict[str, Any] = {
    "enableKeyRotation": True,
    "rotationPeriodInDays": 365,
    "deletionWindowInDays": 30,
}
OFF = "automatic key rotation is off (the default); set enableKeyRotation to true"


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, KMS_KEY, BASELINE) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"enableKeyRotation": None}, [OFF]),
        ({"enableKeyRotation": False}, [OFF]),
        ({"rotationPeriodInDays": None}, []),
        ({"rotationPeriodInDays": 90}, []),
        (
            {"rotationPeriodInDays": 730},
            ["rotates key material every 730 days; set rotationPeriodInDays to at most 365"],
        ),
        # AWS cannot rotate these automatically: nothing to ask for.
        ({"enableKeyRotation": None, "customerMasterKeySpec": "RSA_2048", "keyUsage": "SIGN_VERIFY"}, []),
        (
            {
                "enableKeyRotation": None,
                "customerMasterKeySpec": "HMAC_256",
                "keyUsage": "GENERATE_VERIFY_MAC",
            },
            [],
        ),
        ({"enableKeyRotation": None, "customKeyStoreId": "cks-1234"}, []),
        ({"enableKeyRotation": None, "customerMasterKeySpec": "SYMMETRIC_DEFAULT"}, [OFF]),
    ],
    ids=[
        "unset",
        "false",
        "period-unset",
        "period-short",
        "period-long",
        "asymmetric",
        "hmac",
        "custom-store",
        "explicit-symmetric",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    props = {k: v for k, v in {**BASELINE, **changes}.items() if v is not None}
    assert check_aws_policy(POLICY, KMS_KEY, props) == expected


@pytest.mark.parametrize("maximum", [730, 730.0], ids=["int", "float-as-delivered"])
def test_maximum_is_configurable(check_aws_policy: Any, maximum: float) -> None:
    props = {**BASELINE, "rotationPeriodInDays": 730}
    assert check_aws_policy(POLICY, KMS_KEY, props, config={"maximumRotationDays": maximum}) == []
    props = {**BASELINE, "rotationPeriodInDays": 731}
    assert check_aws_policy(POLICY, KMS_KEY, props, config={"maximumRotationDays": maximum}) == [
        "rotates key material every 731 days; set rotationPeriodInDays to at most 730"
    ]


def test_an_unknown_setting_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, KMS_KEY, {**BASELINE, "enableKeyRotation": unknown})


def test_other_types_are_ignored(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, "aws:kms/replicaKey:ReplicaKey", {}) == []
