"""iam-no-wildcard-actions: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.iam_no_wildcard_actions import POLICY
from mlops_policies.resource_types import (
    IAM_GROUP_POLICY,
    IAM_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    IAM_USER_POLICY,
)

STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Action": ["s3:GetObject"],
    "Resource": "arn:aws:s3:::models/*",
}
FIX = "list the exact actions the workload calls"


def _doc(**changes: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{**STATEMENT, **changes}]})


@pytest.mark.parametrize("resource_type", [IAM_ROLE_POLICY, IAM_POLICY, IAM_USER_POLICY, IAM_GROUP_POLICY])
def test_baseline_passes(check_aws_policy: Any, resource_type: str) -> None:
    assert check_aws_policy(POLICY, resource_type, {"policy": _doc()}) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"Action": "s3:*"}, [f"statement 0 allows actions by wildcard (`s3:*`); {FIX}"]),
        (
            {"Action": ["s3:GetObject", "s3:Get*", "iam:*"]},
            [f"statement 0 allows actions by wildcard (`s3:Get*`, `iam:*`); {FIX}"],
        ),
        ({"Action": "s3:Get?bject"}, [f"statement 0 allows actions by wildcard (`s3:Get?bject`); {FIX}"]),
        (
            {"Action": "s3 :*"},
            [f"statement 0 allows actions by wildcard (1 malformed wildcard action); {FIX}"],
        ),
        (
            {"NotAction": "iam:*", "Action": None},
            ["statement 0 allows every action outside NotAction; list the allowed actions in Action"],
        ),
        ({"Action": "s3:*", "Effect": "Deny"}, []),
        ({"Action": "*"}, []),  # iam-no-admin-statements' finding
    ],
    ids=[
        "service-star",
        "prefix-star-in-list",
        "question-mark",
        "malformed",
        "not-action",
        "deny",
        "bare-star",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    statement = {k: v for k, v in {**STATEMENT, **changes}.items() if v is not None}
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    assert check_aws_policy(POLICY, IAM_ROLE_POLICY, {"role": "r", "policy": document}) == expected


def test_statement_indexes_and_a_single_statement_object(check_aws_policy: Any) -> None:
    document = {"Version": "2012-10-17", "Statement": [STATEMENT, {**STATEMENT, "Action": "ec2:*"}]}
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": json.dumps(document)}) == [
        f"statement 1 allows actions by wildcard (`ec2:*`); {FIX}"
    ]
    single = {"Version": "2012-10-17", "Statement": {**STATEMENT, "Action": "ec2:*"}}
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": json.dumps(single)}) == [
        f"statement 0 allows actions by wildcard (`ec2:*`); {FIX}"
    ]


def test_a_document_given_as_an_object_is_read_too(check_aws_policy: Any) -> None:
    document = {"Version": "2012-10-17", "Statement": [{**STATEMENT, "Action": "s3:*"}]}
    assert check_aws_policy(POLICY, IAM_POLICY, {"policy": document}) == [
        f"statement 0 allows actions by wildcard (`s3:*`); {FIX}"
    ]


def test_role_inline_policies_are_labelled_by_index(check_aws_policy: Any) -> None:
    props = {
        "assumeRolePolicy": "{}",
        "inlinePolicies": [
            {"name": "ok", "policy": _doc()},
            {"name": "secret-name", "policy": _doc(Action="s3:*")},
        ],
    }
    assert check_aws_policy(POLICY, IAM_ROLE, props) == [
        f"inlinePolicies[1] statement 0 allows actions by wildcard (`s3:*`); {FIX}"
    ]


def test_an_unknown_document_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, IAM_ROLE_POLICY, {"role": "r", "policy": unknown})
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, IAM_ROLE, {"inlinePolicies": [{"name": "x", "policy": unknown}]})


def test_other_types_and_missing_documents_are_ignored(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, "aws:s3/bucketPolicy:BucketPolicy", {"policy": _doc(Action="s3:*")}) == []
    assert check_aws_policy(POLICY, IAM_ROLE_POLICY, {"role": "r"}) == []
    assert check_aws_policy(POLICY, IAM_ROLE_POLICY, {"policy": "not json"}) == []


def test_a_finding_on_one_inline_policy_stands_when_a_later_one_is_unknown(
    check_in_preview: Any, unknown: str
) -> None:
    props = {
        "inlinePolicies": [{"name": "a", "policy": _doc(Action="s3:*")}, {"name": "b", "policy": unknown}]
    }
    run = check_in_preview(POLICY, IAM_ROLE, props)
    assert run.violations == [
        ("subject", f"inlinePolicies[0] statement 0 allows actions by wildcard (`s3:*`); {FIX}")
    ]
    assert run.unknown == "string value at .inlinePolicies.1.policy can't be known during preview"
