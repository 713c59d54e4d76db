"""AzureModelRegistry: where trained models, their images and their lineage live on Azure.

A storage account (HTTPS and TLS 1.2 only, no anonymous blobs, no shared keys, infrastructure encryption,
geo-zone-redundant, private by default, a customer-managed HSM-backed key from a Premium Key Vault this
component creates (RBAC, purge protection, 90-day rotation), reached through a user-assigned identity),
blob versioning and soft delete, one private container for artifacts; an Azure Container Registry, Premium
because customer-managed keys need Premium, with the admin user off and the same key; and an Azure Machine
Learning registry, the smallest resource that is a model registry on its own (a workspace would also need an
Application Insights, a Key Vault and a storage account of its own just to exist).
"""

import re
from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
from pulumi_azure_native import (
    authorization,
    containerregistry,
    keyvault,
    machinelearningservices,
    managedidentity,
    storage,
)

TYPE_TOKEN = "mlopshub:index:AzureModelRegistry"

CRYPTO_SERVICE_ENCRYPTION_USER = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
"""Key Vault Crypto Service Encryption User: wrap and unwrap with keys, nothing else."""
KEY_ROTATION = "P90D"
"""Key Vault rotates the key 90 days after each version is created."""
KEY_EXPIRY = "P1Y"
"""Each key version expires a year after creation (rotation renews it well before)."""
CONTAINER_NAME = "artifacts"

_NAME = re.compile(r"^[a-z][a-z0-9]{2,14}$")


class AzureModelRegistryArgs(TypedDict):
    """Arguments of AzureModelRegistry. The component's name (3 to 15 lowercase letters and digits) prefixes
    the global names of the storage account, registry and key vault."""

    resource_group_name: pulumi.Input[str]
    """Resource group holding every child."""
    location: pulumi.Input[str]
    """Azure region of every child."""
    soft_delete_days: NotRequired[int]
    """Days deleted blobs, containers and replaced versions stay recoverable (default 30, 1 to 365)."""
    public_network_access: NotRequired[bool]
    """Let public networks reach the key vault's data plane, the storage account, the registry and the ML
    registry (default false: clients come through private endpoints or trusted Azure services; true for CI
    runners outside the network). Entra ID auth is required either way."""
    geo_redundant_storage: NotRequired[bool]
    """Keep artifacts geo-zone-redundant, copied to the region's pair (default true: Standard_GZRS);
    false keeps them zone-redundant in one region (Standard_ZRS), for data that must not leave it."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags on every child that takes them (azure-native has no provider default tags)."""


def _in_range(owner: str, field: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{owner}: {field} {value!r} must be an integer from {low} to {high}")
    return value


class AzureModelRegistry(pulumi.ComponentResource):
    """Storage account, container registry and Azure ML registry under one customer-managed key."""

    registry_bucket: pulumi.Output[str]
    """Name of the artifact storage account."""
    artifact_uri: pulumi.Output[str]
    """`wasbs://artifacts@<account>.blob.core.windows.net`: where MLflow and training jobs write artifacts."""
    image_registry: pulumi.Output[str]
    """`<registry>.azurecr.io`: images are pushed to `<image_registry>/<image>`."""
    model_registry_id: pulumi.Output[str]
    """Resource id of the Azure Machine Learning registry."""
    encryption_key_id: pulumi.Output[str]
    """Versionless id of the Key Vault key encrypting artifacts and images."""

    def __init__(
        self, name: str, args: AzureModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        owner = f"AzureModelRegistry {name}"
        if not _NAME.match(name):
            raise ValueError(
                f"{owner}: name {name!r} must be 3 to 15 lowercase letters and digits, starting with a letter "
                "(it prefixes the storage account and registry names)"
            )
        soft_delete_days = _in_range(owner, "soft_delete_days", args.get("soft_delete_days", 30), 1, 365)
        public = args.get("public_network_access", False)
        if not isinstance(public, bool):
            raise ValueError(f"{owner}: public_network_access {public!r} must be true or false")
        access = "Enabled" if public else "Disabled"
        geo = args.get("geo_redundant_storage", True)
        if not isinstance(geo, bool):
            raise ValueError(f"{owner}: geo_redundant_storage {geo!r} must be true or false")
        group = args["resource_group_name"]
        location = args["location"]
        tags = args["tags"]
        child = pulumi.ResourceOptions(parent=self)
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))

        identity = managedidentity.UserAssignedIdentity(
            f"{name}-encryption-identity", resource_group_name=group, location=location, tags=tags, opts=child
        )
        vault_properties: keyvault.VaultPropertiesArgsDict = {
            "tenant_id": client.tenant_id,
            "sku": {"family": keyvault.SkuFamily.A, "name": keyvault.SkuName.PREMIUM},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": 90,
            "enable_purge_protection": True,
            # Keys are created through ARM, which trusted services bypass; data-plane callers need a
            # private endpoint or an allowed network.
            "network_acls": {"bypass": "AzureServices", "default_action": "Deny"},
            "public_network_access": access,
        }
        vault = keyvault.Vault(
            f"{name}-vault",
            resource_group_name=group,
            location=location,
            vault_name=f"{name}-kv",
            properties=vault_properties,
            tags=tags,
            opts=child,
        )
        key_properties: keyvault.KeyPropertiesArgsDict = {
            "kty": keyvault.JsonWebKeyType.RS_A_HSM,
            "key_size": 3072,
            "attributes": {"enabled": True},
            "rotation_policy": {
                "attributes": {"expiry_time": KEY_EXPIRY},
                "lifetime_actions": [
                    {
                        "action": {"type": keyvault.KeyRotationPolicyActionType.ROTATE},
                        "trigger": {"time_after_create": KEY_ROTATION},
                    },
                    {
                        "action": {"type": keyvault.KeyRotationPolicyActionType.NOTIFY},
                        "trigger": {"time_before_expiry": "P30D"},
                    },
                ],
            },
        }
        key = keyvault.Key(
            f"{name}-key",
            resource_group_name=group,
            vault_name=vault.name,
            key_name=f"{name}-artifacts",
            properties=key_properties,
            tags=tags,
            opts=child,
        )
        key_access = authorization.RoleAssignment(
            f"{name}-key-access",
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=client.subscription_id.apply(
                lambda subscription: (
                    f"/subscriptions/{subscription}/providers/Microsoft.Authorization/"
                    f"roleDefinitions/{CRYPTO_SERVICE_ENCRYPTION_USER}"
                )
            ),
            scope=vault.id,
            opts=child,
        )
        encrypted = pulumi.ResourceOptions(parent=self, depends_on=[key_access])

        account_identity: storage.IdentityArgsDict = {
            "type": storage.IdentityType.USER_ASSIGNED,
            # One Output rather than a list holding one: Azure answers with a map keyed by id, and a preview
            # that echoes inputs as state (the offline engine's) cannot turn a list into it.
            "user_assigned_identities": identity.id.apply(lambda identity_id: [identity_id]),
        }
        account_encryption: storage.EncryptionArgsDict = {
            "key_source": "Microsoft.Keyvault",
            "require_infrastructure_encryption": True,
            "key_vault_properties": {"key_name": key.name, "key_vault_uri": vault.properties.vault_uri},
            "encryption_identity": {"encryption_user_assigned_identity": identity.id},
            "services": {
                "blob": {"enabled": True, "key_type": "Account"},
                "file": {"enabled": True, "key_type": "Account"},
                "queue": {"enabled": True, "key_type": "Account"},
                "table": {"enabled": True, "key_type": "Account"},
            },
        }
        account = storage.StorageAccount(
            f"{name}-artifacts",
            account_name=f"{name}artifacts",
            resource_group_name=group,
            location=location,
            kind=storage.Kind.STORAGE_V2,
            sku={"name": storage.SkuName.STANDARD_GZRS if geo else storage.SkuName.STANDARD_ZRS},
            access_tier=storage.AccessTier.HOT,
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            default_to_o_auth_authentication=True,
            public_network_access=access,
            network_rule_set={
                "bypass": storage.Bypass.AZURE_SERVICES,
                "default_action": storage.DefaultAction.ALLOW if public else storage.DefaultAction.DENY,
            },
            identity=account_identity,
            encryption=account_encryption,
            tags=tags,
            opts=encrypted,
        )
        storage.BlobServiceProperties(
            f"{name}-blob-service",
            resource_group_name=group,
            account_name=account.name,
            blob_services_name="default",
            is_versioning_enabled=True,
            change_feed={"enabled": True, "retention_in_days": soft_delete_days},
            delete_retention_policy={"enabled": True, "days": soft_delete_days},
            container_delete_retention_policy={"enabled": True, "days": soft_delete_days},
            opts=child,
        )
        container = storage.BlobContainer(
            f"{name}-artifacts-container",
            resource_group_name=group,
            account_name=account.name,
            container_name=CONTAINER_NAME,
            public_access=storage.PublicAccess.NONE,
            opts=child,
        )
        registry_identity: containerregistry.IdentityPropertiesArgsDict = {
            "type": containerregistry.ResourceIdentityType.USER_ASSIGNED,
            "user_assigned_identities": identity.id.apply(lambda identity_id: {identity_id: {}}),
        }
        registry_encryption: containerregistry.EncryptionPropertyArgsDict = {
            "status": "enabled",
            "key_vault_properties": {"key_identifier": key.key_uri, "identity": identity.client_id},
        }
        registry_policies: containerregistry.PoliciesArgsDict = {
            "retention_policy": {"status": "enabled", "days": soft_delete_days},
            "export_policy": {"status": "enabled" if public else "disabled"},
        }
        registry = containerregistry.Registry(
            f"{name}-images",
            registry_name=f"{name}images",
            resource_group_name=group,
            location=location,
            sku={"name": "Premium"},
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            public_network_access=access,
            network_rule_bypass_options="AzureServices",
            identity=registry_identity,
            encryption=registry_encryption,
            policies=registry_policies,
            zone_redundancy="Enabled",
            tags=tags,
            opts=encrypted,
        )
        ml_registry = machinelearningservices.Registry(
            f"{name}-models",
            registry_name=f"{name}-models",
            resource_group_name=group,
            location=location,
            identity={"type": "SystemAssigned"},
            public_network_access=access,
            region_details=[
                {
                    "location": location,
                    "acr_details": [{"system_created_acr_account": {"acr_account_sku": "Premium"}}],
                    "storage_account_details": [
                        {
                            "system_created_storage_account": {
                                "storage_account_type": "Standard_ZRS",
                                "allow_blob_public_access": False,
                                "storage_account_hns_enabled": False,
                            }
                        }
                    ],
                }
            ],
            tags=tags,
            opts=child,
        )

        self.registry_bucket = account.name
        self.artifact_uri = pulumi.Output.concat(
            "wasbs://", container.name, "@", account.name, ".blob.core.windows.net"
        )
        self.image_registry = registry.login_server
        self.model_registry_id = ml_registry.id
        self.encryption_key_id = key.key_uri
        self.register_outputs(
            {
                "registry_bucket": self.registry_bucket,
                "artifact_uri": self.artifact_uri,
                "image_registry": self.image_registry,
                "model_registry_id": self.model_registry_id,
                "encryption_key_id": self.encryption_key_id,
            }
        )
