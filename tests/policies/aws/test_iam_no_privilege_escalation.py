"""iam-no-privilege-escalation: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.iam_no_privilege_escalation import POLICY
from mlops_policies.resource_types import IAM_POLICY, IAM_ROLE, IAM_USER_POLICY

STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
    "Resource": [
        "arn:aws:iam::123456789012:role/inference",
        "arn:aws:lambda:eu-west-1:123456789012:function:score",
    ],
}
PASS_ROLE = (
    "allows iam:PassRole on every role (`*`): its holder can hand any role, admin ones included, to a service "
    "it controls; name the roles it may pass"
)
LAMBDA = (
    "allows privilege escalation on unscoped resources by PassExistingRoleToNewLambdaThenInvoke (iam:PassRole + "
    "lambda:CreateFunction + lambda:InvokeFunction); scope these actions to named ARNs or remove them"
)


def _doc(**changes: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{**STATEMENT, **changes}]})


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": _doc()}) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"Resource": "*"}, [PASS_ROLE, LAMBDA]),
        ({"Resource": "*", "Action": "iam:PassRole"}, [PASS_ROLE]),
        ({"Resource": "*", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"]}, []),
        (
            {"Resource": "*", "Action": "iam:CreateAccessKey"},
            [
                "allows privilege escalation on unscoped resources by CreateAccessKey (iam:CreateAccessKey); "
                "scope these actions to named ARNs or remove them"
            ],
        ),
        (
            {"Resource": "*", "Action": "*"},
            [
                PASS_ROLE,
                "allows privilege escalation on unscoped resources by CreateAccessKey (iam:CreateAccessKey), "
                "CreateLoginProfile (iam:CreateLoginProfile), UpdateLoginProfile (iam:UpdateLoginProfile) and 56 "
                "more; scope these actions to named ARNs or remove them",
            ],
        ),
        # iam:PassedToService narrows the service, not which role: any role can still be passed.
        (
            {
                "Resource": "*",
                "Action": "iam:PassRole",
                "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            },
            [PASS_ROLE],
        ),
        (
            {
                "Resource": "*",
                "Action": "iam:PassRole",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "ml"}},
            },
            [],
        ),
        ({"Resource": "*", "Effect": "Deny"}, []),
    ],
    ids=[
        "lambda-path",
        "pass-role-alone",
        "no-pass-role",
        "create-access-key",
        "everything",
        "passed-to-service-only",
        "tag-scoped",
        "deny",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    assert check_aws_policy(POLICY, IAM_USER_POLICY, {"user": "u", "policy": _doc(**changes)}) == expected


def test_a_global_deny_closes_the_path(check_aws_policy: Any) -> None:
    document = {
        "Statement": [
            {**STATEMENT, "Resource": "*"},
            {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"},
        ]
    }
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": json.dumps(document)}) == []


def test_role_inline_policies(check_aws_policy: Any) -> None:
    props = {"inlinePolicies": [{"name": "n", "policy": _doc(Resource="*", Action="iam:PassRole")}]}
    assert check_aws_policy(POLICY, IAM_ROLE, props) == [f"inlinePolicies[0] {PASS_ROLE}"]


def test_an_unknown_document_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, IAM_POLICY, {"policy": unknown})
