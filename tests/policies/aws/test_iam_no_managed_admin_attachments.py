"""iam-no-managed-admin-attachments: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import (
    IAM_GROUP_POLICY_ATTACHMENT,
    IAM_POLICY_ATTACHMENT,
    IAM_ROLE_POLICY_ATTACHMENT,
    IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE,
    IAM_USER_POLICY_ATTACHMENT,
)
from mlops_policies.iam_no_managed_admin_attachments import POLICY
from mlops_policies.resource_types import IAM_ROLE

BASELINE = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"


def _finding(name: str) -> str:
    return f"attaches the AWS-managed `{name}`; attach a customer-managed policy listing the actions this workload calls"


@pytest.mark.parametrize(
    "resource_type",
    [
        IAM_ROLE_POLICY_ATTACHMENT,
        IAM_USER_POLICY_ATTACHMENT,
        IAM_GROUP_POLICY_ATTACHMENT,
        IAM_POLICY_ATTACHMENT,
    ],
)
def test_baseline_passes_on_every_attachment_type(check_aws_policy: Any, resource_type: str) -> None:
    assert check_aws_policy(POLICY, resource_type, {"policyArn": BASELINE}) == []
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert check_aws_policy(POLICY, resource_type, {"policyArn": admin}) == [_finding("AdministratorAccess")]


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:iam::aws:policy/AdministratorAccess", [_finding("AdministratorAccess")]),
        ("arn:aws:iam::aws:policy/AdministratorAccess-Amplify", [_finding("AdministratorAccess-Amplify")]),
        ("arn:aws:iam::aws:policy/PowerUserAccess", [_finding("PowerUserAccess")]),
        ("arn:aws:iam::aws:policy/AmazonS3FullAccess", [_finding("AmazonS3FullAccess")]),
        ("arn:aws:iam::aws:policy/CloudWatchFullAccessV2", [_finding("CloudWatchFullAccessV2")]),
        ("arn:aws:iam::aws:policy/service-role/AWSLambda_FullAccess", [_finding("AWSLambda_FullAccess")]),
        ("arn:aws-cn:iam::aws:policy/AmazonSageMakerFullAccess", [_finding("AmazonSageMakerFullAccess")]),
        ("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", []),
        # Customer-managed policies are analysed by their documents, not their names.
        ("arn:aws:iam::123456789012:policy/AdministratorAccess", []),
        ("AdministratorAccess", []),
    ],
    ids=[
        "admin",
        "admin-variant",
        "power-user",
        "full-access",
        "full-access-v2",
        "path",
        "china",
        "read-only",
        "customer",
        "bare-name",
    ],
)
def test_mutations(check_aws_policy: Any, arn: str, expected: list[str]) -> None:
    assert check_aws_policy(POLICY, IAM_ROLE_POLICY_ATTACHMENT, {"role": "r", "policyArn": arn}) == expected


def test_lists_of_arns(check_aws_policy: Any) -> None:
    arns = [BASELINE, "arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::aws:policy/IAMFullAccess"]
    expected = [_finding("PowerUserAccess"), _finding("IAMFullAccess")]
    assert (
        check_aws_policy(POLICY, IAM_ROLE, {"assumeRolePolicy": "{}", "managedPolicyArns": arns}) == expected
    )
    assert (
        check_aws_policy(POLICY, IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE, {"roleName": "r", "policyArns": arns})
        == expected
    )
    assert check_aws_policy(POLICY, IAM_ROLE, {"assumeRolePolicy": "{}"}) == []


def test_an_unknown_arn_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, IAM_ROLE_POLICY_ATTACHMENT, {"role": "r", "policyArn": unknown})
