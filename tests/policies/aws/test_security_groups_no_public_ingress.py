"""security-groups-no-public-ingress: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import (
    EC2_DEFAULT_SECURITY_GROUP,
    EC2_SECURITY_GROUP,
    EC2_SECURITY_GROUP_RULE,
    VPC_SECURITY_GROUP_INGRESS_RULE,
)
from mlops_policies.security_groups_no_public_ingress import POLICY

RULE: dict[str, Any] = {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": ["10.10.0.0/16"]}
ADVICE = "allow only known CIDRs or security groups, or add the port to allowedPorts if it is a deliberate public listener"


def _group(**changes: Any) -> dict[str, Any]:
    rule = {k: v for k, v in {**RULE, **changes}.items() if v is not None}
    return {"vpcId": "vpc-1", "ingress": [RULE, rule]}


@pytest.mark.parametrize("resource_type", [EC2_SECURITY_GROUP, EC2_DEFAULT_SECURITY_GROUP])
def test_baseline_passes(check_aws_policy: Any, resource_type: str) -> None:
    assert check_aws_policy(POLICY, resource_type, _group()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"cidrBlocks": ["0.0.0.0/0"]}, [f"ingress rule 1 admits tcp 443 from `0.0.0.0/0`; {ADVICE}"]),
        (
            {"cidrBlocks": None, "ipv6CidrBlocks": ["::/0"]},
            [f"ingress rule 1 admits tcp 443 from `::/0`; {ADVICE}"],
        ),
        (
            {"cidrBlocks": ["0.0.0.0/0"], "ipv6CidrBlocks": ["::/0"]},
            [f"ingress rule 1 admits tcp 443 from `0.0.0.0/0`, `::/0`; {ADVICE}"],
        ),
        (
            {"cidrBlocks": ["0.0.0.0/0"], "fromPort": 22, "toPort": 22},
            [f"ingress rule 1 admits tcp 22 from `0.0.0.0/0`; {ADVICE}"],
        ),
        (
            {"cidrBlocks": ["0.0.0.0/0"], "fromPort": 1024, "toPort": 2048, "protocol": "udp"},
            [f"ingress rule 1 admits udp 1024-2048 from `0.0.0.0/0`; {ADVICE}"],
        ),
        (
            {"cidrBlocks": ["0.0.0.0/0"], "fromPort": 0, "toPort": 0, "protocol": "-1"},
            [f"ingress rule 1 admits all traffic from `0.0.0.0/0`; {ADVICE}"],
        ),
        (
            {"cidrBlocks": ["0.0.0.0/0"], "fromPort": -1, "toPort": -1, "protocol": "icmp"},
            [f"ingress rule 1 admits icmp from `0.0.0.0/0`; {ADVICE}"],
        ),
        (
            {"cidrBlocks": ["0.0.0.0/0"], "protocol": "6"},
            [f"ingress rule 1 admits tcp 443 from `0.0.0.0/0`; {ADVICE}"],
        ),
        (
            {"cidrBlocks": ["0.0.0.0/0"], "protocol": "50"},
            [f"ingress rule 1 admits IP protocol 50 from `0.0.0.0/0`; {ADVICE}"],
        ),
        ({"cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}, []),  # two halves: each named, none "everything"
        ({"cidrBlocks": ["not-a-cidr"]}, []),
        ({"cidrBlocks": None, "securityGroups": ["sg-1"]}, []),
    ],
    ids=[
        "ipv4",
        "ipv6",
        "both",
        "ssh",
        "udp-range",
        "all-traffic",
        "icmp",
        "protocol-number",
        "esp",
        "halves",
        "invalid",
        "peer-group",
    ],
)
def test_inline_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    assert check_aws_policy(POLICY, EC2_SECURITY_GROUP, _group(**changes)) == expected


@pytest.mark.parametrize(
    ("allowed", "changes", "expected"),
    [
        ([443], {}, []),
        ([443.0], {}, []),  # config numbers arrive as floats
        (
            [80, 443],
            {"fromPort": 80, "toPort": 443},
            [f"ingress rule 1 admits tcp 80-443 from `0.0.0.0/0`; {ADVICE}"],
        ),
        (
            [80, 443],
            {"protocol": "-1", "fromPort": 0, "toPort": 0},
            [f"ingress rule 1 admits all traffic from `0.0.0.0/0`; {ADVICE}"],
        ),
        ([22], {}, [f"ingress rule 1 admits tcp 443 from `0.0.0.0/0`; {ADVICE}"]),
    ],
    ids=["allowed", "allowed-float", "range-beyond", "all-traffic-never", "other-port"],
)
def test_allowed_ports(
    check_aws_policy: Any, allowed: list[float], changes: dict[str, Any], expected: list[str]
) -> None:
    props = _group(cidrBlocks=["0.0.0.0/0"], **changes)
    assert check_aws_policy(POLICY, EC2_SECURITY_GROUP, props, config={"allowedPorts": allowed}) == expected


def test_security_group_rule_resources(check_aws_policy: Any) -> None:
    rule = {"type": "ingress", "securityGroupId": "sg-1", **RULE, "cidrBlocks": ["0.0.0.0/0"]}
    assert check_aws_policy(POLICY, EC2_SECURITY_GROUP_RULE, rule) == [
        f"admits tcp 443 from `0.0.0.0/0`; {ADVICE}"
    ]
    assert check_aws_policy(POLICY, EC2_SECURITY_GROUP_RULE, {**rule, "type": "egress"}) == []
    assert check_aws_policy(POLICY, EC2_SECURITY_GROUP_RULE, {**rule, "cidrBlocks": ["10.0.0.0/8"]}) == []


def test_vpc_ingress_rule_resources(check_aws_policy: Any) -> None:
    rule = {
        "securityGroupId": "sg-1",
        "ipProtocol": "tcp",
        "fromPort": 22,
        "toPort": 22,
        "cidrIpv4": "0.0.0.0/0",
    }
    assert check_aws_policy(POLICY, VPC_SECURITY_GROUP_INGRESS_RULE, rule) == [
        f"admits tcp 22 from `0.0.0.0/0`; {ADVICE}"
    ]
    every = {"securityGroupId": "sg-1", "ipProtocol": "-1", "cidrIpv6": "::/0"}
    assert check_aws_policy(POLICY, VPC_SECURITY_GROUP_INGRESS_RULE, every) == [
        f"admits all traffic from `::/0`; {ADVICE}"
    ]
    assert check_aws_policy(POLICY, VPC_SECURITY_GROUP_INGRESS_RULE, {**rule, "cidrIpv4": "10.0.0.0/8"}) == []


def test_unknown_sources_are_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, EC2_SECURITY_GROUP, _group(cidrBlocks=unknown))


def test_a_finding_on_one_rule_stands_when_a_later_rule_is_unknown(
    check_in_preview: Any, unknown: str
) -> None:
    props = {"ingress": [{**RULE, "cidrBlocks": ["0.0.0.0/0"]}, {**RULE, "cidrBlocks": unknown}]}
    run = check_in_preview(POLICY, EC2_SECURITY_GROUP, props)
    assert run.violations == [("subject", f"ingress rule 0 admits tcp 443 from `0.0.0.0/0`; {ADVICE}")]
    assert run.unknown == "string value at .ingress.1.cidrBlocks can't be known during preview"
