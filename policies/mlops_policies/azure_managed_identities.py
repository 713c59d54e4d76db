"""azure-managed-identities: Azure compute authenticates with managed identities, never stored secrets."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import report_all, unversioned
from mlops_policies.platform_types import AKS_CLUSTER, CONTAINER_APP, ML_WORKSPACE, WEB_APP
from mlops_policies.support import Controls, get, resource_policy

MANAGED_IDENTITY_TYPES = frozenset({"systemassigned", "userassigned", "systemassigned,userassigned"})
"""Identity types (lowercased, spaces removed) that give the resource a managed identity."""
_MSI_CLIENT_ID = "msi"
"""The servicePrincipalProfile.clientId AKS reports for a cluster that uses its managed identity."""


def _subject(type_token: str, props: Mapping[str, Any]) -> str | None:
    token = unversioned(type_token)
    if token == AKS_CLUSTER:
        return "the cluster"
    if token == CONTAINER_APP:
        return "the container app"
    if token == ML_WORKSPACE:
        return "the workspace"
    if token == WEB_APP:
        kind = props.get("kind")
        if isinstance(kind, str) and "functionapp" in kind.lower():
            return "the function app"
    return None


def has_managed_identity(identity: Any) -> bool:
    """Whether an `identity` block gives the resource a system- or user-assigned identity."""
    kind = get(identity, "type")
    return isinstance(kind, str) and kind.replace(" ", "").lower() in MANAGED_IDENTITY_TYPES


def identity_gaps(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for a resource without a managed identity and an AKS cluster holding a principal's secret."""
    subject = _subject(type_token, props)
    if subject is None:
        return
    if not has_managed_identity(props.get("identity")):
        yield f"{subject} has no managed identity: set identity.type to UserAssigned or SystemAssigned"
    if unversioned(type_token) == AKS_CLUSTER:
        profile = props.get("servicePrincipalProfile")
        if isinstance(profile, Mapping) and (
            "secret" in profile or profile.get("clientId") not in (None, _MSI_CLIENT_ID)
        ):
            yield (
                "the cluster authenticates as a service principal with a client secret (servicePrincipalProfile); "
                "remove it and use the managed identity"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(identity_gaps(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="azure-managed-identities",
    description=(
        "AKS clusters, Container Apps, Function Apps and Azure ML workspaces run with a user- or "
        "system-assigned managed identity; no service principal secrets."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Set identity = {type: UserAssigned, userAssignedIdentities: [<identity id>]} (or SystemAssigned), grant "
        "that identity the roles the workload needs, and remove servicePrincipalProfile from AKS clusters."
    ),
    controls=Controls(cis=("AKS-5.2.1", "Azure-9.5"), nist=("IA-2", "IA-5", "AC-6")),
    validate=_validate,
)
