"""gke-nodes-shielded: GKE nodes are Shielded VMs with secure boot and integrity monitoring."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.gke_support import node_configs
from mlops_policies.platform_support import is_false, is_true, report_all
from mlops_policies.platform_types import GKE_CLUSTER
from mlops_policies.support import Controls, get, resource_policy


def unshielded_nodes(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for shielded nodes switched off and each node config without secure boot or integrity monitoring."""
    # GKE turns Shielded Nodes on by default (unset is fine); secure boot defaults to off.
    if type_token == GKE_CLUSTER and is_false(props.get("enableShieldedNodes")):
        yield "Shielded GKE Nodes are switched off: remove enableShieldedNodes: false"
    for node in node_configs(type_token, props):
        shielded = node.config.get("shieldedInstanceConfig")
        if not is_true(get(shielded, "enableSecureBoot")):
            yield f"{node.label} boots without secure boot: set nodeConfig.shieldedInstanceConfig.enableSecureBoot: true"
        if is_false(get(shielded, "enableIntegrityMonitoring")):
            yield (
                f"{node.label} has integrity monitoring switched off: "
                "set nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring: true"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(unshielded_nodes(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="gke-nodes-shielded",
    description="GKE nodes run as Shielded VMs with secure boot and integrity monitoring on.",
    severity=Severity.MEDIUM,
    remediation=(
        "Leave enableShieldedNodes at its default (true) and set nodeConfig.shieldedInstanceConfig = "
        "{enableSecureBoot: true, enableIntegrityMonitoring: true} on every node pool and the cluster's nodeConfig. "
        "GPU nodes support secure boot with GKE-installed drivers."
    ),
    controls=Controls(cis=("GKE-5.5.5", "GKE-5.5.6", "GKE-5.5.7"), nist=("SI-7", "CM-6")),
    validate=_validate,
)
