"""iam-no-users-for-workloads: every user and access key is reported, nothing else."""

from typing import Any

import pytest

from mlops_policies.aws_types import IAM_ACCESS_KEY, IAM_USER
from mlops_policies.iam_no_users_for_workloads import POLICY
from mlops_policies.resource_types import IAM_ROLE


@pytest.mark.parametrize(
    ("resource_type", "props", "expected"),
    [
        (IAM_ROLE, {"assumeRolePolicy": "{}"}, []),
        (
            IAM_USER,
            {"name": "ci"},
            ["an IAM user is a long-lived identity; give the workload a role instead"],
        ),
        (
            IAM_ACCESS_KEY,
            {"user": "ci"},
            [
                "an IAM access key is a long-lived credential that leaks with the workload's config; use role "
                "credentials instead"
            ],
        ),
        ("aws:iam/userLoginProfile:UserLoginProfile", {"user": "ci"}, []),
    ],
    ids=["role", "user", "access-key", "other"],
)
def test_types(check_aws_policy: Any, resource_type: str, props: dict[str, Any], expected: list[str]) -> None:
    assert check_aws_policy(POLICY, resource_type, props) == expected


def test_unknown_values_do_not_matter(check_aws_policy: Any, unknown: str) -> None:
    assert len(check_aws_policy(POLICY, IAM_ACCESS_KEY, {"user": unknown})) == 1
