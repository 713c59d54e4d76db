"""gke-private-cluster: GKE nodes have no public addresses and the control plane is not open to the Internet."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import admits_everyone, is_false, is_true, report_all
from mlops_policies.platform_types import GKE_CLUSTER
from mlops_policies.support import Controls, as_list, get, resource_policy


def public_exposure(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for public nodes and for a control-plane endpoint reachable from everywhere."""
    if type_token != GKE_CLUSTER:
        return
    private = props.get("privateClusterConfig")
    if not is_true(get(private, "enablePrivateNodes")):
        yield "nodes get public IP addresses: set privateClusterConfig.enablePrivateNodes: true"
    if is_true(get(private, "enablePrivateEndpoint")) or is_false(
        get(props, "controlPlaneEndpointsConfig", "ipEndpointsConfig", "enabled")
    ):
        return
    authorized = props.get("masterAuthorizedNetworksConfig")
    if not isinstance(authorized, Mapping):
        yield (
            "the control-plane endpoint is public and admits every address: set "
            "privateClusterConfig.enablePrivateEndpoint: true, or masterAuthorizedNetworksConfig with the "
            "networks that need the API server"
        )
        return
    for index, block in enumerate(as_list(authorized.get("cidrBlocks"))):
        if isinstance(block, Mapping) and admits_everyone(block.get("cidrBlock")):
            yield f"masterAuthorizedNetworksConfig.cidrBlocks[{index}] admits every address; list specific networks"
    if is_true(authorized.get("gcpPublicCidrsAccessEnabled")):
        yield (
            "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled admits every Google Cloud public "
            "address; set it to false"
        )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(public_exposure(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="gke-private-cluster",
    description=(
        "GKE clusters use private nodes, and their control-plane endpoint is private or limited to "
        "authorized networks that do not include 0.0.0.0/0."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Set privateClusterConfig.enablePrivateNodes: true and either privateClusterConfig.enablePrivateEndpoint: "
        "true or masterAuthorizedNetworksConfig.cidrBlocks listing only the networks that administer the "
        "cluster (never 0.0.0.0/0), with gcpPublicCidrsAccessEnabled: false."
    ),
    controls=Controls(cis=("GKE-5.6.3", "GKE-5.6.4", "GKE-5.6.5"), nist=("SC-7", "AC-17")),
    validate=_validate,
)
