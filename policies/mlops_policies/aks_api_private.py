"""aks-api-private: the AKS API server is private or limited to authorized IP ranges."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import admits_everyone, is_true, report_all, unversioned
from mlops_policies.platform_types import AKS_CLUSTER
from mlops_policies.support import Controls, as_list, get, resource_policy


def public_api_server(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for a public API server open to every address."""
    if unversioned(type_token) != AKS_CLUSTER:
        return
    access = props.get("apiServerAccessProfile")
    if is_true(get(access, "enablePrivateCluster")):
        return
    ranges = as_list(get(access, "authorizedIPRanges"))
    if not ranges:
        yield (
            "the API server is public and admits every address: set "
            "apiServerAccessProfile.enablePrivateCluster: true, or authorizedIPRanges with the networks that "
            "need it"
        )
        return
    for index, cidr in enumerate(ranges):
        if admits_everyone(cidr):
            yield f"apiServerAccessProfile.authorizedIPRanges[{index}] admits every address; list specific networks"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(public_api_server(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="aks-api-private",
    description=(
        "AKS clusters run a private API server, or a public one limited to authorized IP ranges that do "
        "not include 0.0.0.0/0."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Set apiServerAccessProfile.enablePrivateCluster: true (reach it through the VNet, a jump host or "
        "Azure Bastion), or list the administering networks in apiServerAccessProfile.authorizedIPRanges."
    ),
    controls=Controls(cis=("AKS-5.4.1", "AKS-5.4.2"), nist=("SC-7", "AC-17")),
    validate=_validate,
)
