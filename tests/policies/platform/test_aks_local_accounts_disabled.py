"""aks-local-accounts-disabled: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.aks_local_accounts_disabled import POLICY
from mlops_policies.platform_types import AKS_CLUSTER

BASELINE: dict[str, Any] = {
    "disableLocalAccounts": True,
    "enableRBAC": True,
    "aadProfile": {"managed": True, "enableAzureRBAC": True, "adminGroupObjectIDs": []},
}
LOCAL = (
    "local accounts are enabled (a static cluster-admin kubeconfig bypasses Entra ID): "
    "set disableLocalAccounts: true"
)
NO_AAD = "Microsoft Entra ID integration is off: set aadProfile.managed: true"
NO_AZURE_RBAC = "Kubernetes authorization does not use Azure RBAC: set aadProfile.enableAzureRBAC: true"


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, AKS_CLUSTER, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("disableLocalAccounts", False, [LOCAL]),
        ("disableLocalAccounts", ..., [LOCAL]),
        ("enableRBAC", False, ["Kubernetes RBAC is switched off: remove enableRBAC: false"]),
        ("enableRBAC", ..., []),
        ("aadProfile", ..., [NO_AAD, NO_AZURE_RBAC]),
        ("aadProfile.managed", False, [NO_AAD]),
        ("aadProfile.enableAzureRBAC", ..., [NO_AZURE_RBAC]),
    ],
    ids=["local-on", "local-default", "rbac-off", "rbac-default", "no-aad", "aad-legacy", "no-azure-rbac"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, AKS_CLUSTER, with_value(BASELINE, path, value)) == expected


def test_versioned_tokens_are_checked(check_policy: Any) -> None:
    versioned = "azure-native:containerservice/v20250101:ManagedCluster"
    assert check_policy(POLICY, versioned, {**BASELINE, "disableLocalAccounts": False}) == [LOCAL]
