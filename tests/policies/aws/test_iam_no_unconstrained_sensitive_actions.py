"""iam-no-unconstrained-sensitive-actions: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.iam_no_unconstrained_sensitive_actions import POLICY
from mlops_policies.resource_types import IAM_GROUP_POLICY, IAM_POLICY, IAM_ROLE

STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Action": ["s3:GetObject", "secretsmanager:GetSecretValue", "sts:AssumeRole", "iam:PutRolePolicy"],
    "Resource": [
        "arn:aws:s3:::models/*",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-*",
        "arn:aws:iam::123456789012:role/reader",
    ],
}
PERMISSIONS = (
    "allows permissions management actions on every resource: `iam:PutRolePolicy`; scope them to the "
    "resources whose permissions the workload manages"
)
EXFILTRATION = (
    "allows data exfiltration actions on every resource: `s3:GetObject`, `secretsmanager:GetSecretValue`; "
    "scope them to the buckets, parameters and secrets the workload reads"
)
CREDENTIALS = (
    "allows credentials exposure actions on every resource: `sts:AssumeRole`; scope them to the roles and "
    "resources the workload needs credentials for"
)


def _doc(**changes: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{**STATEMENT, **changes}]})


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": _doc()}) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"Resource": "*"}, [PERMISSIONS, EXFILTRATION, CREDENTIALS]),
        (
            {"Resource": "*", "Action": "s3:GetObject"},
            [EXFILTRATION.replace(", `secretsmanager:GetSecretValue`", "")],
        ),
        ({"Resource": "*", "Action": "sts:AssumeRole"}, [CREDENTIALS]),
        ({"Resource": "*", "Action": "iam:PutRolePolicy"}, [PERMISSIONS]),
        # No resource-level permission exists for it, so no constraint could satisfy the check.
        ({"Resource": "*", "Action": "ecr:GetAuthorizationToken"}, []),
        ({"Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/team": "ml"}}}, []),
        (
            {"Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            [PERMISSIONS, EXFILTRATION, CREDENTIALS],
        ),
        ({"Resource": "*", "Effect": "Deny"}, []),
    ],
    ids=[
        "star",
        "get-object",
        "assume-role",
        "put-role-policy",
        "unscopable-credentials",
        "tag-scoped",
        "transport-condition",
        "deny",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    assert check_aws_policy(POLICY, IAM_GROUP_POLICY, {"group": "g", "policy": _doc(**changes)}) == expected


def test_role_inline_policies(check_aws_policy: Any) -> None:
    props = {"inlinePolicies": [{"name": "n", "policy": _doc(Resource="*", Action="sts:AssumeRole")}]}
    assert check_aws_policy(POLICY, IAM_ROLE, props) == [f"inlinePolicies[0] {CREDENTIALS}"]


def test_an_unknown_document_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, IAM_POLICY, {"policy": unknown})
