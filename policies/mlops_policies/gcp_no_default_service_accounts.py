"""gcp-no-default-service-accounts: GKE nodes and Compute Engine instances run as a dedicated identity."""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.gke_support import is_autopilot, node_configs
from mlops_policies.platform_support import is_true, report_all
from mlops_policies.platform_types import GCE_INSTANCE_TYPES, GKE_CLUSTER
from mlops_policies.support import Controls, get, resource_policy

_DEFAULT_ACCOUNT = re.compile(
    r"^(default|\d+-compute@developer\.gserviceaccount\.com|[a-z][-a-z0-9]*@appspot\.gserviceaccount\.com)$"
)
_FIX = "create a dedicated service account with only the roles the nodes need"


def is_default_account(account: Any) -> bool:
    """Whether a service account setting means a default account (unset is the Compute Engine default)."""
    return (
        account is None
        or account == ""
        or (isinstance(account, str) and _DEFAULT_ACCOUNT.match(account) is not None)
    )


def default_account_uses(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each node configuration or instance that runs as a default service account."""
    for node in node_configs(type_token, props):
        if is_default_account(node.config.get("serviceAccount")):
            yield f"{node.label} runs as the Compute Engine default service account (nodeConfig.serviceAccount); {_FIX}"
    if type_token == GKE_CLUSTER:
        where = "(clusterAutoscaling.autoProvisioningDefaults.serviceAccount)"
        if is_autopilot(props):
            if is_default_account(
                get(props, "clusterAutoscaling", "autoProvisioningDefaults", "serviceAccount")
            ):
                yield f"Autopilot nodes run as the Compute Engine default service account {where}; {_FIX}"
        elif is_true(get(props, "clusterAutoscaling", "enabled")) and is_default_account(
            get(props, "clusterAutoscaling", "autoProvisioningDefaults", "serviceAccount")
        ):
            yield f"auto-provisioned node pools run as the Compute Engine default service account {where}; {_FIX}"
    if type_token in GCE_INSTANCE_TYPES:
        # Without a serviceAccount block the instance has no identity at all; with one, email defaults.
        block = props.get("serviceAccount")
        if isinstance(block, Mapping) and is_default_account(block.get("email")):
            yield f"the instance runs as the Compute Engine default service account (serviceAccount.email); {_FIX}"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(default_account_uses(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="gcp-no-default-service-accounts",
    description=(
        "GKE node pools and Compute Engine instances run as a dedicated service account, never the "
        "Compute Engine default account (Editor on the whole project)."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Create a service account for the nodes (gcp.serviceaccount.Account) with roles/logging.logWriter, "
        "roles/monitoring.metricWriter, roles/monitoring.viewer, roles/stackdriver.resourceMetadata.writer "
        "and roles/artifactregistry.reader, and set nodeConfig.serviceAccount (or serviceAccount.email) to it."
    ),
    controls=Controls(cis=("GKE-5.2.1", "GCP-4.1"), nist=("AC-6", "CM-6")),
    validate=_validate,
)
