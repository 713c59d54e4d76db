"""azure-local-auth-disabled: a compliant baseline per type and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.azure_local_auth_disabled import POLICY
from mlops_policies.platform_types import (
    COGNITIVE_ACCOUNT,
    CONTAINER_REGISTRY,
    LOG_ANALYTICS_WORKSPACE,
    STORAGE_ACCOUNT,
)

COSMOS = "azure-native:cosmosdb:DatabaseAccount"
BASELINES: dict[str, dict[str, Any]] = {
    STORAGE_ACCOUNT: {"kind": "StorageV2", "allowSharedKeyAccess": False},
    COSMOS: {"databaseAccountOfferType": "Standard", "disableLocalAuth": True},
    CONTAINER_REGISTRY: {"sku": {"name": "Premium"}, "adminUserEnabled": False},
    COGNITIVE_ACCOUNT: {"kind": "OpenAI", "properties": {"disableLocalAuth": True}},
    LOG_ANALYTICS_WORKSPACE: {"features": {"disableLocalAuth": True}},
}
SHARED_KEY = "account keys and key-signed SAS tokens are accepted: set allowSharedKeyAccess: false"
COSMOS_KEYS = "primary and secondary keys are accepted: set disableLocalAuth: true"
ADMIN = "the admin user (a shared password with push rights) is enabled: set adminUserEnabled: false"
API_KEYS = "API keys are accepted: set properties.disableLocalAuth: true"
WORKSPACE_KEYS = "workspace keys are accepted for ingestion and queries: set features.disableLocalAuth: true"


@pytest.mark.parametrize("resource_type", sorted(BASELINES))
def test_baselines_pass(check_policy: Any, resource_type: str) -> None:
    assert check_policy(POLICY, resource_type, BASELINES[resource_type]) == []


@pytest.mark.parametrize(
    ("resource_type", "path", "value", "expected"),
    [
        (STORAGE_ACCOUNT, "allowSharedKeyAccess", True, [SHARED_KEY]),
        (STORAGE_ACCOUNT, "allowSharedKeyAccess", ..., [SHARED_KEY]),
        (COSMOS, "disableLocalAuth", False, [COSMOS_KEYS]),
        (COSMOS, "disableLocalAuth", ..., [COSMOS_KEYS]),
        (CONTAINER_REGISTRY, "adminUserEnabled", True, [ADMIN]),
        (CONTAINER_REGISTRY, "adminUserEnabled", ..., []),
        (COGNITIVE_ACCOUNT, "properties.disableLocalAuth", ..., [API_KEYS]),
        (COGNITIVE_ACCOUNT, "properties", ..., [API_KEYS]),
        (LOG_ANALYTICS_WORKSPACE, "features", ..., [WORKSPACE_KEYS]),
    ],
    ids=[
        "storage-keys",
        "storage-keys-default",
        "cosmos-keys",
        "cosmos-keys-default",
        "acr-admin",
        "acr-admin-default-off",
        "cognitive-keys",
        "cognitive-no-properties",
        "workspace-keys",
    ],
)
def test_mutations(
    check_policy: Any, with_value: Any, resource_type: str, path: str, value: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, resource_type, with_value(BASELINES[resource_type], path, value)) == expected


def test_the_pre_v3_cosmos_token_is_checked(check_policy: Any) -> None:
    assert check_policy(POLICY, "azure-native:documentdb:DatabaseAccount", {}) == [COSMOS_KEYS]
