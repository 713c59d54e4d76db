"""iam-no-admin-statements: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest

from mlops_policies.iam_no_admin_statements import POLICY
from mlops_policies.resource_types import IAM_POLICY, IAM_ROLE_POLICY

BASELINE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::models/*"}],
}


def _doc(**statement: Any) -> str:
    return json.dumps({**BASELINE, "Statement": [{**BASELINE["Statement"][0], **statement}]})


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, IAM_ROLE_POLICY, {"role": "r", "policy": json.dumps(BASELINE)}) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (_doc(Action="*"), ["statement 0 allows every action (`*`); grant the actions this workload calls"]),
        (
            _doc(Action=["s3:GetObject", "*:*"]),
            ["statement 0 allows every action (`*`); grant the actions this workload calls"],
        ),
        (_doc(Action="*", Effect="Deny"), []),
    ],
    ids=["star", "star-colon-star-in-list", "deny-star-is-fine"],
)
def test_mutations(check_policy: Any, document: str, expected: list[str]) -> None:
    assert check_policy(POLICY, IAM_POLICY, {"policy": document}) == expected


def test_other_types_are_ignored(check_policy: Any) -> None:
    assert check_policy(POLICY, "aws:s3/bucket:Bucket", {"policy": _doc(Action="*")}) == []
