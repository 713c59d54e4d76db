"""Behaviour of AzureModelRegistry under the offline engine's mocks, and the output contract of all three clouds."""

import gc
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure
import pulumi_gcp as gcp
import pytest

from components.registry.aws_model_registry import AwsModelRegistry
from components.registry.azure_model_registry import (
    CRYPTO_SERVICE_ENCRYPTION_USER,
    TYPE_TOKEN,
    AzureModelRegistry,
    AzureModelRegistryArgs,
)
from components.registry.gcp_model_registry import GcpModelRegistry
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

NAME = "models"
GROUP = "rg-ml"
LOCATION = "westeurope"
ZERO = "00000000-0000-0000-0000-000000000000"
"""Subscription and tenant the offline getClientConfig answer reports."""
STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:azure-native"
UNKNOWN = "[unknown]"
TAGS = {"environment": "dev", "team": "ml", "cost-center": "cc-1", "managed-by": "pulumi"}
OUTPUT_NAMES = {"registry_bucket", "artifact_uri", "image_registry", "model_registry_id", "encryption_key_id"}


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...


def program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit provider, and one registry per name."""

    def body() -> None:
        provider = azure.Provider("p", location=LOCATION)
        for name in names or (NAME,):
            args = cast(
                AzureModelRegistryArgs,
                {"resource_group_name": GROUP, "location": LOCATION, "tags": TAGS, **overrides},
            )
            AzureModelRegistry(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def registry(pulumi_run: Recorder) -> Recorder:
    pulumi_run.run(program())
    return pulumi_run


@pytest.fixture
def collect_failed_runs() -> Iterator[None]:
    """Collect what a failed run left behind at a known point (see test_aws_network.py for why)."""
    yield
    gc.collect()


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def test_every_child_is_parented_named_and_on_the_explicit_provider(registry: Recorder) -> None:
    children = registry.children_of(component(registry))
    others = [r for r in registry.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert {r.urn for r in children} == {r.urn for r in others}
    assert all(r.name.startswith(f"{NAME}-") for r in children)
    assert all(r.provider is not None and r.provider.endswith("::p") for r in children)


def test_every_child_that_takes_tags_gets_them(registry: Recorder) -> None:
    untaggable = {
        "azure-native:authorization:RoleAssignment",
        "azure-native:storage:BlobServiceProperties",
        "azure-native:storage:BlobContainer",
    }
    for resource in registry.children_of(component(registry)):
        if resource.type not in untaggable:
            assert resource.inputs["tags"] == TAGS, resource.name


def test_vault_is_rbac_purge_protected_and_closed(registry: Recorder) -> None:
    vault = registry.one("azure-native:keyvault:Vault")

    assert vault.inputs["vaultName"] == f"{NAME}-kv"
    assert vault.inputs["properties"] == {
        "tenantId": ZERO,
        "sku": {"family": "A", "name": "premium"},
        "enableRbacAuthorization": True,
        "enableSoftDelete": True,
        "softDeleteRetentionInDays": 90,
        "enablePurgeProtection": True,
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Deny"},
        "publicNetworkAccess": "Disabled",
    }


def test_key_rotates_and_expires(registry: Recorder) -> None:
    key = registry.one("azure-native:keyvault:Key")

    assert key.inputs["properties"] == {
        "kty": "RSA-HSM",
        "keySize": 3072,
        "attributes": {"enabled": True},
        "rotationPolicy": {
            "attributes": {"expiryTime": "P1Y"},
            "lifetimeActions": [
                {"action": {"type": "rotate"}, "trigger": {"timeAfterCreate": "P90D"}},
                {"action": {"type": "notify"}, "trigger": {"timeBeforeExpiry": "P30D"}},
            ],
        },
    }


def test_encryption_identity_may_only_wrap_keys_of_the_vault(registry: Recorder) -> None:
    grant = registry.one("azure-native:authorization:RoleAssignment")

    assert grant.inputs["roleDefinitionId"] == (
        f"/subscriptions/{ZERO}/providers/Microsoft.Authorization/roleDefinitions/{CRYPTO_SERVICE_ENCRYPTION_USER}"
    )
    assert grant.inputs["principalType"] == "ServicePrincipal"
    assert registry.one("azure-native:keyvault:Vault").urn in grant.property_dependencies["scope"]


def test_storage_account_is_locked_down_and_cmk_encrypted(registry: Recorder) -> None:
    account = registry.one("azure-native:storage:StorageAccount")
    inputs = account.inputs

    assert {
        k: inputs[k]
        for k in (
            "accountName",
            "kind",
            "sku",
            "allowBlobPublicAccess",
            "allowSharedKeyAccess",
            "enableHttpsTrafficOnly",
            "minimumTlsVersion",
            "defaultToOAuthAuthentication",
        )
    } == {
        "accountName": f"{NAME}artifacts",
        "kind": "StorageV2",
        "sku": {"name": "Standard_GZRS"},
        "allowBlobPublicAccess": False,
        "allowSharedKeyAccess": False,
        "enableHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "defaultToOAuthAuthentication": True,
    }
    assert inputs["encryption"]["keySource"] == "Microsoft.Keyvault"
    assert inputs["encryption"]["requireInfrastructureEncryption"] is True
    assert inputs["identity"]["type"] == "UserAssigned"
    # The identity must hold its key role before the account names the key.
    assert registry.one("azure-native:authorization:RoleAssignment").urn in account.dependencies


def test_blob_versioning_and_soft_delete(registry: Recorder) -> None:
    service = registry.one("azure-native:storage:BlobServiceProperties")

    assert {k: v for k, v in service.inputs.items() if k not in {"accountName", "resourceGroupName"}} == {
        "blobServicesName": "default",
        "isVersioningEnabled": True,
        "changeFeed": {"enabled": True, "retentionInDays": 30},
        "deleteRetentionPolicy": {"enabled": True, "days": 30},
        "containerDeleteRetentionPolicy": {"enabled": True, "days": 30},
    }
    assert registry.one("azure-native:storage:BlobContainer").inputs["publicAccess"] == "None"


def test_container_registry_is_premium_cmk_without_admin(registry: Recorder) -> None:
    acr = registry.one("azure-native:containerregistry:Registry")

    assert acr.inputs["sku"] == {"name": "Premium"}
    assert acr.inputs["adminUserEnabled"] is False
    assert acr.inputs["anonymousPullEnabled"] is False
    assert acr.inputs["encryption"] == {
        "status": "enabled",
        "keyVaultProperties": {"keyIdentifier": UNKNOWN, "identity": UNKNOWN},
    }


def test_ml_registry(registry: Recorder) -> None:
    ml = registry.one("azure-native:machinelearningservices:Registry")

    assert ml.inputs["registryName"] == f"{NAME}-models"
    assert ml.inputs["identity"] == {"type": "SystemAssigned"}
    assert ml.inputs["regionDetails"][0]["storageAccountDetails"] == [
        {
            "systemCreatedStorageAccount": {
                "storageAccountType": "Standard_ZRS",
                "allowBlobPublicAccess": False,
                "storageAccountHnsEnabled": False,
            }
        }
    ]


@pytest.mark.parametrize(
    ("public", "access", "default_action"), [(False, "Disabled", "Deny"), (True, "Enabled", "Allow")]
)
def test_network_access(pulumi_run: Recorder, public: bool, access: str, default_action: str) -> None:
    pulumi_run.run(program(public_network_access=public))

    for token in (
        "azure-native:storage:StorageAccount",
        "azure-native:containerregistry:Registry",
        "azure-native:machinelearningservices:Registry",
    ):
        assert pulumi_run.one(token).inputs["publicNetworkAccess"] == access
    assert pulumi_run.one("azure-native:keyvault:Vault").inputs["properties"]["publicNetworkAccess"] == access
    assert pulumi_run.one("azure-native:storage:StorageAccount").inputs["networkRuleSet"] == {
        "bypass": "AzureServices",
        "defaultAction": default_action,
    }


def test_single_region_storage(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(geo_redundant_storage=False))

    assert pulumi_run.one("azure-native:storage:StorageAccount").inputs["sku"] == {"name": "Standard_ZRS"}


def test_outputs(registry: Recorder) -> None:
    outputs = component(registry).outputs

    assert outputs is not None
    assert set(outputs) == OUTPUT_NAMES


def test_two_registries_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(program("aaa", "bbb"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in pulumi_run.children_of(component(pulumi_run, "aaa"))}
    names_b = {r.name for r in pulumi_run.children_of(component(pulumi_run, "bbb"))}

    assert len(urns) == len(set(urns))
    assert names_a.isdisjoint(names_b)
    assert len(names_a) == len(names_b)


BAD_ARGS = [
    pytest.param("Models", {}, "name 'Models'", id="uppercase"),
    pytest.param("averyveryverylongname", {}, "name 'averyveryverylongname'", id="too_long"),
    pytest.param("models", {"soft_delete_days": 0}, "soft_delete_days 0", id="soft_delete_days"),
    pytest.param("models", {"public_network_access": "yes"}, "public_network_access 'yes'", id="public"),
    pytest.param("models", {"geo_redundant_storage": 1}, "geo_redundant_storage 1", id="geo"),
]


@pytest.mark.usefixtures("collect_failed_runs")
@pytest.mark.parametrize(("name", "overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, name: str, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(program(name, **overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert f"AzureModelRegistry {name}" in str(failure.value.cause)
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, name)
    ]


def _aws() -> None:
    AwsModelRegistry(
        NAME,
        {"image_names": ["serving"]},
        opts=pulumi.ResourceOptions(providers=[aws.Provider("p", region="eu-west-1")]),
    )


def _gcp() -> None:
    GcpModelRegistry(
        NAME,
        {"project": "proj", "region": "europe-west4"},
        opts=pulumi.ResourceOptions(providers=[gcp.Provider("p", project="proj")]),
    )


def _azure() -> None:
    program()()


@pytest.mark.parametrize(
    ("body", "token"),
    [
        pytest.param(_aws, "mlopshub:index:AwsModelRegistry", id="aws"),
        pytest.param(_gcp, "mlopshub:index:GcpModelRegistry", id="gcp"),
        pytest.param(_azure, TYPE_TOKEN, id="azure"),
    ],
)
def test_every_cloud_registers_the_same_output_names(
    pulumi_run: Recorder, body: Callable[[], None], token: str
) -> None:
    pulumi_run.run(body)
    outputs = pulumi_run.one(token).outputs

    assert outputs is not None
    assert set(outputs) == OUTPUT_NAMES


@pytest.mark.parametrize("cls", [AwsModelRegistry, GcpModelRegistry, AzureModelRegistry])
def test_every_cloud_declares_the_same_output_attributes(cls: type) -> None:
    assert set(cls.__annotations__) == OUTPUT_NAMES
