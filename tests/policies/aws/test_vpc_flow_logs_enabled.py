"""vpc-flow-logs-enabled: a compliant baseline and single-property mutations, run as AnalyzeStack runs it."""

from typing import Any

import pytest

from mlops_policies.aws_types import EC2_FLOW_LOG, EC2_VPC
from mlops_policies.vpc_flow_logs_enabled import POLICY

VPC: dict[str, Any] = {"type": EC2_VPC, "name": "vpc", "props": {"cidrBlock": "10.10.0.0/16"}}
MISSING = (
    "VPC has no flow log recording rejected traffic; add an aws:ec2/flowLog with vpcId set to this VPC and "
    "trafficType ALL"
)


def _flow_log(unknown: str, **changes: Any) -> dict[str, Any]:
    props = {
        "vpcId": unknown,
        "trafficType": "ALL",
        "logDestinationType": "cloud-watch-logs",
        "logDestination": unknown,
    }
    return {
        "type": EC2_FLOW_LOG,
        "name": "flow-log",
        "props": {k: v for k, v in {**props, **changes}.items() if v is not None},
        "property_dependencies": {"vpcId": ["vpc"]},
    }


def test_baseline_passes(check_stack_policy: Any, unknown: str) -> None:
    run = check_stack_policy(POLICY, [VPC, _flow_log(unknown)])
    assert (run.violations, run.unknown) == ([], None)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"trafficType": "REJECT"}, []),
        ({"trafficType": None}, []),
        ({"trafficType": "ACCEPT"}, [("vpc", MISSING)]),
    ],
    ids=["reject", "unset", "accept-only"],
)
def test_traffic_type(
    check_stack_policy: Any, unknown: str, changes: dict[str, Any], expected: list[Any]
) -> None:
    assert check_stack_policy(POLICY, [VPC, _flow_log(unknown, **changes)]).violations == expected


def test_a_vpc_without_flow_logs(check_stack_policy: Any, unknown: str) -> None:
    other = {**VPC, "name": "other"}
    run = check_stack_policy(POLICY, [VPC, other, _flow_log(unknown)])
    assert (run.violations, run.unknown) == ([("other", MISSING)], None)


def test_a_subnet_flow_log_does_not_cover_the_vpc(check_stack_policy: Any, unknown: str) -> None:
    subnet_log = {**_flow_log(unknown, vpcId=None, subnetId="subnet-1"), "property_dependencies": {}}
    assert check_stack_policy(POLICY, [VPC, subnet_log]).violations == [("vpc", MISSING)]


def test_pairing_by_vpc_id(check_stack_policy: Any, unknown: str) -> None:
    vpc = {**VPC, "props": {**VPC["props"], "id": "vpc-0123"}}
    flow_log = {**_flow_log(unknown, vpcId="vpc-0123"), "property_dependencies": {}}
    assert check_stack_policy(POLICY, [vpc, flow_log]).violations == []


def test_an_unplaceable_flow_log_defers_to_the_advisory(check_stack_policy: Any, unknown: str) -> None:
    flow_log = {**_flow_log(unknown), "property_dependencies": {}}
    run = check_stack_policy(POLICY, [VPC, flow_log])
    assert run.violations == []
    assert run.unknown == "string value at .vpcId can't be known during preview"
