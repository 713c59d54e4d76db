"""gke-workload-identity-enabled: pods reach Google APIs through Workload Identity, not the node's identity."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.gke_support import is_autopilot, node_configs
from mlops_policies.platform_support import report_all
from mlops_policies.platform_types import GKE_CLUSTER
from mlops_policies.support import Controls, get, resource_policy

GKE_METADATA = "GKE_METADATA"


def workload_identity_gaps(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for a cluster without a workload pool and each node config without the GKE metadata server."""
    if type_token == GKE_CLUSTER and not is_autopilot(props):
        pool = get(props, "workloadIdentityConfig", "workloadPool")
        if not (isinstance(pool, str) and pool):
            yield "Workload Identity is off: set workloadIdentityConfig.workloadPool to `<project>.svc.id.goog`"
    for node in node_configs(type_token, props):
        if get(node.config, "workloadMetadataConfig", "mode") != GKE_METADATA:
            yield (
                f"{node.label} exposes the node's metadata server to pods: "
                "set nodeConfig.workloadMetadataConfig.mode to GKE_METADATA"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(workload_identity_gaps(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="gke-workload-identity-enabled",
    description=(
        "GKE clusters enable Workload Identity and every node pool runs the GKE metadata server, so pods "
        "never borrow the node's service account."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Set workloadIdentityConfig.workloadPool = `<project>.svc.id.goog` on the cluster and "
        "nodeConfig.workloadMetadataConfig.mode = GKE_METADATA on every node pool (and the cluster's "
        "nodeConfig); bind Kubernetes service accounts to Google service accounts with roles/iam.workloadIdentityUser."
    ),
    controls=Controls(cis=("GKE-5.2.2", "GKE-5.4.2"), nist=("AC-6", "IA-2", "SC-7")),
    validate=_validate,
)
