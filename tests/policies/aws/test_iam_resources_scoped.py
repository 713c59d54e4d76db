"""iam-resources-scoped: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.iam_resources_scoped import POLICY
from mlops_policies.resource_types import IAM_POLICY, IAM_ROLE, IAM_ROLE_POLICY

STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Action": ["s3:GetObject"],
    "Resource": "arn:aws:s3:::models/*",
}
ONE_ACTION = (
    "statement 0 grants 1 action that supports resource-level permissions on every resource (`*`): "
    "`s3:GetObject`; name the ARNs they act on"
)


def _doc(*extra: dict[str, Any], **changes: Any) -> str:
    statement = {k: v for k, v in {**STATEMENT, **changes}.items() if v is not None}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement, *extra]})


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, IAM_ROLE_POLICY, {"role": "r", "policy": _doc()}) == []


def test_it_is_advisory_with_its_reason_in_the_module() -> None:
    assert POLICY.enforcement_level == EnforcementLevel.ADVISORY


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"Resource": "*"}, [ONE_ACTION]),
        ({"Resource": ["arn:aws:s3:::models/*", "*"]}, [ONE_ACTION]),
        ({"Resource": "*", "Action": ["s3:getobject"]}, [ONE_ACTION]),  # spelled as AWS spells it
        # Wildcard-only actions (policy_sentry: no resource type) can never be scoped: not reported.
        (
            {"Resource": "*", "Action": ["s3:GetObject", "s3:ListAllMyBuckets", "ec2:DescribeInstances"]},
            [ONE_ACTION],
        ),
        ({"Resource": "*", "Action": ["s3:ListAllMyBuckets", "ec2:DescribeInstances"]}, []),
        (
            {
                "Resource": "*",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "kms:Decrypt",
                    "logs:PutLogEvents",
                    "eks:DescribeCluster",
                    "sqs:SendMessage",
                ],
            },
            [
                "statement 0 grants 6 actions that support resource-level permissions on every resource (`*`): "
                "`eks:DescribeCluster`, `kms:Decrypt`, `logs:PutLogEvents`, `s3:GetObject`, `s3:PutObject` and "
                "1 more; name the ARNs they act on"
            ],
        ),
        (
            {"Resource": None, "NotResource": "arn:aws:s3:::other/*"},
            [
                "statement 0 grants 1 action that supports resource-level permissions on every resource outside "
                "NotResource: `s3:GetObject`; name the ARNs they act on"
            ],
        ),
        ({"Resource": "*", "Effect": "Deny"}, []),
        # A request-context condition does not limit which resources are reached.
        ({"Resource": "*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, [ONE_ACTION]),
        (
            {
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
            },
            [ONE_ACTION],
        ),
        # Tag-based access control does.
        ({"Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/team": "ml"}}}, []),
        ({"Resource": "*", "Condition": {"StringLike": {"s3:ResourceTag/team": "ml-*"}}}, []),
        ({"Resource": "*", "Condition": {"ForAnyValue:StringEquals": {"aws:RequestTag/team": ["ml"]}}}, []),
        # ... unless it also matches when the tag is absent, or matches any value.
        (
            {"Resource": "*", "Condition": {"StringEqualsIfExists": {"aws:ResourceTag/team": "ml"}}},
            [ONE_ACTION],
        ),
        (
            {"Resource": "*", "Condition": {"ForAllValues:StringEquals": {"aws:RequestTag/team": ["ml"]}}},
            [ONE_ACTION],
        ),
        ({"Resource": "*", "Condition": {"StringLike": {"aws:ResourceTag/team": "*"}}}, [ONE_ACTION]),
        ({"Resource": "*", "Condition": {"StringNotEquals": {"aws:ResourceTag/team": "prod"}}}, [ONE_ACTION]),
    ],
    ids=[
        "star",
        "star-among-arns",
        "lowercase-action",
        "wildcard-only-actions-dropped",
        "only-wildcard-only-actions",
        "summarised",
        "not-resource",
        "deny",
        "source-ip-condition",
        "via-service-condition",
        "resource-tag-condition",
        "service-resource-tag-condition",
        "request-tag-any-value",
        "if-exists",
        "for-all-values",
        "tag-any-value",
        "negated-operator",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": _doc(**changes)}) == expected


def test_only_a_global_unconditional_deny_removes_a_grant(check_aws_policy: Any) -> None:
    deny = {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": _doc(deny, Resource="*")}) == []
    narrow = {**deny, "Resource": "arn:aws:s3:::secret/*"}
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": _doc(narrow, Resource="*")}) == [ONE_ACTION]
    conditional = {**deny, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": _doc(conditional, Resource="*")}) == [ONE_ACTION]


def test_malformed_statements_are_skipped_not_raised(check_aws_policy: Any) -> None:
    document = {
        "Statement": [
            {"Action": "s3:GetObject", "Resource": "*"},  # no Effect
            {"Effect": "Allow", "Action": "s3GetObject", "Resource": "*"},  # no service prefix
            {"Effect": "Allow", "Action": ["a:b:c"], "Resource": "*"},
            "not a statement",
        ]
    }
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": json.dumps(document)}) == []


def test_role_inline_policies(check_aws_policy: Any) -> None:
    props = {"inlinePolicies": [{"name": "n", "policy": _doc(Resource="*")}]}
    assert check_aws_policy(POLICY, IAM_ROLE, props) == [f"inlinePolicies[0] {ONE_ACTION}"]


def test_an_unknown_document_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, IAM_POLICY, {"policy": unknown})
