"""eks-audit-logging-enabled: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import EKS_CLUSTER
from mlops_policies.eks_audit_logging_enabled import POLICY

BASELINE = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, EKS_CLUSTER, {"enabledClusterLogTypes": BASELINE}) == []


@pytest.mark.parametrize(
    ("log_types", "expected"),
    [
        (
            None,
            [
                "control-plane logging misses `api`, `audit`, `authenticator`; add them to enabledClusterLogTypes"
            ],
        ),
        (
            [],
            [
                "control-plane logging misses `api`, `audit`, `authenticator`; add them to enabledClusterLogTypes"
            ],
        ),
        (
            ["api", "authenticator"],
            ["control-plane logging misses `audit`; add them to enabledClusterLogTypes"],
        ),
        (["api", "audit", "authenticator"], []),
    ],
    ids=["unset", "empty", "no-audit", "exactly-required"],
)
def test_mutations(check_aws_policy: Any, log_types: list[str] | None, expected: list[str]) -> None:
    props = {"enabledClusterLogTypes": log_types} if log_types is not None else {}
    assert check_aws_policy(POLICY, EKS_CLUSTER, props) == expected


def test_required_types_are_configurable(check_aws_policy: Any) -> None:
    config = {"requiredLogTypes": ["audit", "scheduler"]}
    assert check_aws_policy(POLICY, EKS_CLUSTER, {"enabledClusterLogTypes": ["audit"]}, config=config) == [
        "control-plane logging misses `scheduler`; add them to enabledClusterLogTypes"
    ]


def test_unknown_log_types_are_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, EKS_CLUSTER, {"enabledClusterLogTypes": unknown})
