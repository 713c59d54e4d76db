"""iam-trust-not-public: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.iam_trust_not_public import POLICY
from mlops_policies.resource_types import IAM_POLICY, IAM_ROLE

STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "sts:AssumeRole",
}
PUBLIC = (
    "statement 0 lets every AWS principal (`*`) assume this role; name the trusted principals, or add a "
    "condition on aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn or aws:SourceArn"
)


def _trust(**changes: Any) -> dict[str, Any]:
    statement = {k: v for k, v in {**STATEMENT, **changes}.items() if v is not None}
    return {"assumeRolePolicy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, IAM_ROLE, _trust()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"Principal": "*"}, [PUBLIC]),
        ({"Principal": {"AWS": "*"}}, [PUBLIC]),
        ({"Principal": {"AWS": ["arn:aws:iam::123456789012:root", "*"]}}, [PUBLIC]),
        (
            {"Principal": None, "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}},
            [PUBLIC.replace("every AWS principal (`*`)", "every principal outside NotPrincipal")],
        ),
        ({"Principal": "*", "Effect": "Deny"}, []),
        ({"Principal": {"Service": "ec2.amazonaws.com"}}, []),
        ({"Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}, []),
        ({"Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}, []),
        (
            {
                "Principal": "*",
                "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::123456789012:role/ci-*"}},
            },
            [],
        ),
        # Conditions that do not narrow who may assume the role do not count.
        ({"Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, [PUBLIC]),
        ({"Principal": "*", "Condition": {"StringEquals": {"sts:ExternalId": "shared-secret"}}}, [PUBLIC]),
        ({"Principal": "*", "Condition": {"StringLike": {"aws:PrincipalOrgID": "*"}}}, [PUBLIC]),
        (
            {"Principal": "*", "Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}},
            [PUBLIC],
        ),
    ],
    ids=[
        "star",
        "aws-star",
        "aws-star-in-list",
        "not-principal",
        "deny",
        "service",
        "org-condition",
        "account-condition",
        "principal-arn-condition",
        "transport-condition",
        "external-id-only",
        "org-any-value",
        "if-exists",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    assert check_aws_policy(POLICY, IAM_ROLE, _trust(**changes)) == expected


def test_an_unknown_trust_policy_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, IAM_ROLE, {"assumeRolePolicy": unknown})


def test_other_types_are_ignored(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": _trust(Principal="*")["assumeRolePolicy"]}) == []
