"""security-groups-no-public-ingress: no security group admits traffic from the whole internet."""

import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import (
    EC2_DEFAULT_SECURITY_GROUP,
    EC2_SECURITY_GROUP,
    EC2_SECURITY_GROUP_RULE,
    VPC_SECURITY_GROUP_INGRESS_RULE,
)
from mlops_policies.iam_analysis import strings
from mlops_policies.support import Controls, as_list, get, resource_policy

_PROTOCOLS = {"-1": "all", "all": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}
_PORTLESS = {"icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}


@dataclass(frozen=True, slots=True)
class Ingress:
    """One ingress permission, normalised across the three ways AWS resources declare it."""

    protocol: Any
    from_port: Any
    to_port: Any
    sources: list[str]


def _open_sources(sources: list[str]) -> list[str]:
    opened = []
    for source in sources:
        try:
            network = ipaddress.ip_network(source, strict=False)
        except ValueError:
            continue
        if network.prefixlen == 0:
            opened.append(str(network))
    return sorted(set(opened))


def _port_range(rule: Ingress) -> tuple[int, int] | None:
    if not all(
        isinstance(p, int | float) and not isinstance(p, bool) for p in (rule.from_port, rule.to_port)
    ):
        return None
    return int(rule.from_port), int(rule.to_port)


def _describe(rule: Ingress) -> str:
    protocol = str(rule.protocol).lower() if isinstance(rule.protocol, str | int | float) else ""
    protocol = protocol.removesuffix(".0")
    name = _PROTOCOLS.get(protocol)
    if name == "all":
        return "all traffic"
    if name is None:
        portless = _PORTLESS.get(protocol)
        return portless or (f"IP protocol {protocol}" if protocol.isdigit() else "traffic")
    ports = _port_range(rule)
    if ports is None:
        return f"{name} (ports not shown)"
    low, high = ports
    return f"{name} {low}" if low == high else f"{name} {low}-{high}"


def _allowed(rule: Ingress, allowed_ports: frozenset[int]) -> bool:
    protocol = str(rule.protocol).lower().removesuffix(".0")
    ports = _port_range(rule)
    if _PROTOCOLS.get(protocol) not in {"tcp", "udp"} or ports is None:
        return False
    low, high = ports
    return high - low < len(allowed_ports) and all(port in allowed_ports for port in range(low, high + 1))


def ingress_rules(resource_type: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Ingress]]:
    """(message prefix, ingress) for every ingress permission the resource declares."""
    if resource_type in (EC2_SECURITY_GROUP, EC2_DEFAULT_SECURITY_GROUP):
        for index, rule in enumerate(as_list(get(props, "ingress"))):
            yield (
                f"ingress rule {index} ",
                Ingress(
                    get(rule, "protocol"),
                    get(rule, "fromPort"),
                    get(rule, "toPort"),
                    strings(get(rule, "cidrBlocks")) + strings(get(rule, "ipv6CidrBlocks")),
                ),
            )
        return
    if resource_type == EC2_SECURITY_GROUP_RULE:
        if get(props, "type") != "ingress":
            return
        sources = strings(get(props, "cidrBlocks")) + strings(get(props, "ipv6CidrBlocks"))
        yield "", Ingress(get(props, "protocol"), get(props, "fromPort"), get(props, "toPort"), sources)
        return
    if resource_type == VPC_SECURITY_GROUP_INGRESS_RULE:
        sources = strings(get(props, "cidrIpv4")) + strings(get(props, "cidrIpv6"))
        yield "", Ingress(get(props, "ipProtocol"), get(props, "fromPort"), get(props, "toPort"), sources)


def public_ingress_findings(
    resource_type: str, props: Mapping[str, Any], allowed_ports: frozenset[int]
) -> Iterator[str]:
    """One finding per ingress permission open to 0.0.0.0/0 or ::/0 and not on an allowed port."""
    for prefix, rule in ingress_rules(resource_type, props):
        opened = _open_sources(rule.sources)
        if not opened or _allowed(rule, allowed_ports):
            continue
        networks = ", ".join(f"`{network}`" for network in opened)
        yield (
            f"{prefix}admits {_describe(rule)} from {networks}; allow only known CIDRs or security groups, "
            "or add the port to allowedPorts if it is a deliberate public listener"
        )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    allowed = frozenset(int(port) for port in args.get_config().get("allowedPorts", []))
    for finding in public_ingress_findings(args.resource_type, args.props, allowed):
        report_violation(finding, None)


POLICY = resource_policy(
    name="security-groups-no-public-ingress",
    description=(
        "Security groups admit no ingress from 0.0.0.0/0 or ::/0 (inline ingress, aws:ec2/securityGroupRule "
        "and aws:vpc/securityGroupIngressRule), except TCP/UDP ports listed in `allowedPorts`."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Use the VPC CIDR, a peer security group or a managed prefix list as the source. Publish services "
        "through a load balancer whose listener port is in allowedPorts (e.g. 443), and reach nodes with "
        "SSM Session Manager instead of SSH."
    ),
    controls=Controls(cis=("AWS-5.2", "AWS-5.3"), nist=("SC-7", "CM-7", "AC-4")),
    validate=_validate,
    config_schema=PolicyConfigSchema(
        properties={
            "allowedPorts": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": 65535},
                "default": [],
                "description": "TCP/UDP ports that may be open to the internet (deliberate public listeners).",
            }
        }
    ),
)
