"""eks-endpoint-private: the EKS API endpoint is private, or public only to listed networks."""

import ipaddress
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import EKS_CLUSTER
from mlops_policies.support import Controls, get, resource_policy


def open_network(cidr: Any) -> str | None:
    """The CIDR normalised (`0.0.0.0/0`, `::/0`) when it admits every address; None otherwise."""
    if not isinstance(cidr, str):
        return None
    try:
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    return str(network) if network.prefixlen == 0 else None


def endpoint_findings(vpc_config: Any) -> list[str]:
    """Findings for one cluster's vpcConfig (provider defaults: public on, open to 0.0.0.0/0)."""
    public = get(vpc_config, "endpointPublicAccess")
    if public is False:
        return []
    cidrs = get(vpc_config, "publicAccessCidrs")
    if not cidrs:
        return [
            "the API endpoint is public to every address (endpointPublicAccess defaults to true and "
            "publicAccessCidrs to 0.0.0.0/0); set endpointPublicAccess to false, or list the CIDRs that "
            "may reach it"
        ]
    opened = sorted({network for network in map(open_network, cidrs) if network is not None})
    return [
        f"publicAccessCidrs admits every address (`{network}`); list the CIDRs that may reach the API, "
        "or set endpointPublicAccess to false"
        for network in opened
    ]


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    for finding in endpoint_findings(get(args.props, "vpcConfig")):
        report_violation(finding, None)


POLICY = resource_policy(
    name="eks-endpoint-private",
    description=(
        "EKS clusters keep the Kubernetes API private (vpcConfig.endpointPublicAccess false), or public "
        "only to publicAccessCidrs that exclude 0.0.0.0/0."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Set vpcConfig.endpointPrivateAccess true and endpointPublicAccess false, and reach the API over "
        "VPN, Direct Connect or a bastion; if it must be public, set publicAccessCidrs to your egress CIDRs."
    ),
    controls=Controls(cis=("EKS-5.4.1", "EKS-5.4.2"), nist=("SC-7", "AC-3")),
    validate=_validate,
)
