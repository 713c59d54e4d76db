"""aks-local-accounts-disabled: AKS access goes through Microsoft Entra ID and Azure RBAC only."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import is_false, is_true, report_all, unversioned
from mlops_policies.platform_types import AKS_CLUSTER
from mlops_policies.support import Controls, get, resource_policy


def local_access(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for local accounts left on, Entra ID integration off, Azure RBAC off or RBAC disabled."""
    if unversioned(type_token) != AKS_CLUSTER:
        return
    if not is_true(props.get("disableLocalAccounts")):
        yield (
            "local accounts are enabled (a static cluster-admin kubeconfig bypasses Entra ID): "
            "set disableLocalAccounts: true"
        )
    if is_false(props.get("enableRBAC")):
        yield "Kubernetes RBAC is switched off: remove enableRBAC: false"
    aad = props.get("aadProfile")
    if not is_true(get(aad, "managed")):
        yield "Microsoft Entra ID integration is off: set aadProfile.managed: true"
    if not is_true(get(aad, "enableAzureRBAC")):
        yield "Kubernetes authorization does not use Azure RBAC: set aadProfile.enableAzureRBAC: true"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(local_access(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="aks-local-accounts-disabled",
    description=(
        "AKS clusters disable local accounts and authenticate through managed Microsoft Entra ID "
        "integration with Azure RBAC for Kubernetes authorization."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Set disableLocalAccounts: true and aadProfile = {managed: true, enableAzureRBAC: true} "
        "(admin access through an Entra group in adminGroupObjectIDs or an Azure RBAC role assignment)."
    ),
    controls=Controls(cis=("AKS-5.5.1",), nist=("AC-2", "AC-6", "IA-2")),
    validate=_validate,
)
