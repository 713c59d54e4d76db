"""log-groups-encrypted-with-cmk: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import LOG_GROUP
from mlops_policies.log_groups_encrypted_with_cmk import POLICY

BASELINE: dict[str, Any] = {
    "name": "/mlops-hub/training",
    "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "retentionInDays": 365,
}
UNENCRYPTED = (
    "log events are encrypted with a CloudWatch-owned key (kmsKeyId unset); set kmsKeyId to a "
    "customer-managed KMS key ARN"
)


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, LOG_GROUP, BASELINE) == []


@pytest.mark.parametrize("key", [None, ""], ids=["unset", "empty"])
def test_missing_key(check_aws_policy: Any, key: str | None) -> None:
    props = {k: v for k, v in {**BASELINE, "kmsKeyId": key}.items() if v is not None}
    assert check_aws_policy(POLICY, LOG_GROUP, props) == [UNENCRYPTED]


def test_a_key_unknown_in_preview_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, LOG_GROUP, {**BASELINE, "kmsKeyId": unknown})


def test_other_types_are_ignored(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, "aws:cloudwatch/logStream:LogStream", {"logGroupName": "x"}) == []
