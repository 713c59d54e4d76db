"""azure-managed-identities: a compliant baseline per type and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.azure_managed_identities import POLICY
from mlops_policies.platform_types import AKS_CLUSTER, CONTAINER_APP, ML_WORKSPACE, WEB_APP

USER_ASSIGNED = {"type": "UserAssigned", "userAssignedIdentities": ["/subscriptions/s/id"]}
BASELINES: dict[str, dict[str, Any]] = {
    AKS_CLUSTER: {"identity": USER_ASSIGNED},
    CONTAINER_APP: {"identity": {"type": "SystemAssigned,UserAssigned"}},
    ML_WORKSPACE: {"identity": {"type": "SystemAssigned"}},
    WEB_APP: {"kind": "functionapp,linux", "identity": {"type": "SystemAssigned, UserAssigned"}},
}
SUBJECTS = {
    AKS_CLUSTER: "the cluster",
    CONTAINER_APP: "the container app",
    ML_WORKSPACE: "the workspace",
    WEB_APP: "the function app",
}
SECRET = (
    "the cluster authenticates as a service principal with a client secret (servicePrincipalProfile); "
    "remove it and use the managed identity"
)


def _none(resource_type: str) -> str:
    return f"{SUBJECTS[resource_type]} has no managed identity: set identity.type to UserAssigned or SystemAssigned"


@pytest.mark.parametrize("resource_type", sorted(BASELINES))
def test_baselines_pass(check_policy: Any, resource_type: str) -> None:
    assert check_policy(POLICY, resource_type, BASELINES[resource_type]) == []


@pytest.mark.parametrize("resource_type", sorted(BASELINES))
@pytest.mark.parametrize("identity", [..., {"type": "None"}], ids=["unset", "none"])
def test_no_identity(check_policy: Any, with_value: Any, resource_type: str, identity: Any) -> None:
    props = with_value(BASELINES[resource_type], "identity", identity)
    assert check_policy(POLICY, resource_type, props) == [_none(resource_type)]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ({"clientId": "msi"}, []),
        ({"clientId": "00000000-0000-0000-0000-000000000001", "secret": "s3cr3t-value"}, [SECRET]),
        ({"clientId": "00000000-0000-0000-0000-000000000001"}, [SECRET]),
    ],
    ids=["msi-marker", "client-secret", "service-principal"],
)
def test_aks_service_principal(check_policy: Any, profile: dict[str, Any], expected: list[str]) -> None:
    messages = check_policy(
        POLICY, AKS_CLUSTER, {**BASELINES[AKS_CLUSTER], "servicePrincipalProfile": profile}
    )
    assert messages == expected
    assert not any("s3cr3t" in message for message in messages)


def test_plain_web_apps_are_not_in_scope(check_policy: Any) -> None:
    assert check_policy(POLICY, WEB_APP, {"kind": "app,linux"}) == []
