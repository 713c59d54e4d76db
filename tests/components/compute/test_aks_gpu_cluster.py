"""Behaviour of AksGpuCluster: its catalogue and helpers, and what it registers under the offline engine's mocks.

The rendered kubeconfig is compared with a golden file in `golden/`. After an intended change, rewrite it
and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/components/compute/test_aks_gpu_cluster.py -k golden
"""

import base64
import gc
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol, cast

import pulumi
import pulumi_azure_native as azure_native
import pulumi_kubernetes as k8s
import pytest
import yaml

from components.compute.aks_gpu_cluster import (
    ACCELERATORS,
    AUDIT_LOG_CATEGORIES,
    AUTOSCALER_PROFILE,
    GPUS_PER_VM_SIZE,
    KUBELOGIN_ARGS,
    ROLE_AKS_RBAC_CLUSTER_ADMIN,
    ROLE_KEY_VAULT_CONTRIBUTOR,
    ROLE_KEY_VAULT_CRYPTO_USER,
    ROLE_MANAGED_IDENTITY_OPERATOR,
    ROLE_NETWORK_CONTRIBUTOR,
    SPOT_TAINT,
    SYSTEM_POOL_TAINT,
    TYPE_TOKEN,
    AksGpuCluster,
    AksGpuClusterArgs,
    certificate_authority,
    key_vault_name,
    render_kubeconfig,
)
from components.compute.cluster_addons import TYPE_TOKEN as ADDONS_TOKEN
from components.compute.contract import ACCELERATOR_LABEL, CLUSTER_OUTPUTS, POOL_LABEL
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

NAME = "gpu"
LOCATION = "westeurope"
RESOURCE_GROUP = "rg-ml"
TAGS = {"environment": "test", "team": "ml", "cost-center": "cc-42", "managed-by": "pulumi"}
NODES_SUBNET = (
    "/subscriptions/0000/resourceGroups/rg-ml/providers/Microsoft.Network/virtualNetworks/v/subnets/nodes"
)
API_SUBNET = (
    "/subscriptions/0000/resourceGroups/rg-ml/providers/Microsoft.Network/virtualNetworks/v/subnets/api"
)
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
"""What the offline getClientConfig answer reports for subscription, tenant and object id."""
ADMIN_GROUP = "11111111-2222-3333-4444-555555555555"

STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:azure-native"
K8S_PROVIDER = "pulumi:providers:kubernetes"
CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
RELEASE = "kubernetes:helm.sh/v3:Release"

CPU_POOL = {"name": "cpu", "instance_type": "Standard_D8ds_v5", "min_nodes": 0, "max_nodes": 5}
T4_POOL = {
    "name": "t4",
    "instance_type": "Standard_NC4as_T4_v3",
    "min_nodes": 0,
    "max_nodes": 4,
    "accelerator": {"type": "nvidia-t4", "count": 1},
    "spot": True,
}
A100_POOL = {
    "name": "a100",
    "instance_type": "Standard_NC24ads_A100_v4",
    "min_nodes": 0,
    "max_nodes": 2,
    "accelerator": {"type": "nvidia-a100", "count": 1},
    "labels": {"workload": "training"},
    "disk_size_gb": 256,
}
A10_POOL = {
    "name": "a10",
    "instance_type": "Standard_NV36ads_A10_v5",
    "min_nodes": 0,
    "max_nodes": 2,
    "accelerator": {"type": "nvidia-a10", "count": 1},
}
POOLS = [CPU_POOL, T4_POOL, A100_POOL]

EXPECTED_COUNTS = {
    "azure-native:managedidentity:UserAssignedIdentity": 2,
    ROLE_ASSIGNMENT: 6,
    "random:index/randomString:RandomString": 1,
    "azure-native:keyvault:Vault": 1,
    "azure-native:keyvault:Key": 1,
    "azure-native:operationalinsights:Workspace": 1,
    CLUSTER: 1,
    AGENT_POOL: 3,
    "azure-native:monitor:DiagnosticSetting": 1,
    K8S_PROVIDER: 1,
    ADDONS_TOKEN: 1,
}


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    @property
    def last(self) -> RunResult | None: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...
    def tags_of(self, resource: RecordedResource) -> dict[str, Any] | None: ...


def cluster_args(**overrides: Any) -> AksGpuClusterArgs:
    return cast(
        AksGpuClusterArgs,
        {
            "resource_group_name": RESOURCE_GROUP,
            "location": LOCATION,
            "kubernetes_version": "1.33",
            "nodes_subnet_id": NODES_SUBNET,
            "api_server_subnet_id": API_SUBNET,
            "node_pools": POOLS,
            "tags": TAGS,
            **overrides,
        },
    )


def cluster_program(
    *names: str, built: list[AksGpuCluster] | None = None, **overrides: Any
) -> Callable[[], None]:
    """A program body: an explicit westeurope provider and one cluster per name."""

    def body() -> None:
        provider = azure_native.Provider("p", location=LOCATION)
        for name in names or (NAME,):
            cluster = AksGpuCluster(
                name, cluster_args(**overrides), opts=pulumi.ResourceOptions(providers=[provider])
            )
            if built is not None:
                built.append(cluster)

    return body


_RECORDED: dict[str, Recorder] = {}
"""Runs shared by the tests that only read them: each run of the SDK costs most of a second."""
_BUILT: list[AksGpuCluster] = []
"""The component object of the shared run."""


@pytest.fixture
def cluster(pulumi_run: Recorder) -> Recorder:
    """A recorded run of the default cluster `gpu`: a CPU pool, a Spot T4 pool and an on-demand A100 pool."""
    if NAME not in _RECORDED:
        pulumi_run.run(cluster_program(built=_BUILT))
        _RECORDED[NAME] = pulumi_run
    return _RECORDED[NAME]


@pytest.fixture
def collect_failed_runs() -> Iterator[None]:
    """Collect what a failed run left behind at a known point (see test_aws_network.py for why)."""
    yield
    gc.collect()


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def children(recorder: Recorder, name: str = NAME) -> list[RecordedResource]:
    return recorder.children_of(component(recorder, name))


def descendants(recorder: Recorder, name: str = NAME) -> list[RecordedResource]:
    """Every resource under the component, at any depth."""
    found: list[RecordedResource] = []
    frontier = [component(recorder, name)]
    while frontier:
        level = [r for parent in frontier for r in recorder.children_of(parent)]
        found += level
        frontier = level
    return found


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    """Logical names of the resources property `prop` depends on, sorted."""
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def dependency_names(resource: RecordedResource) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.dependencies)


def role_id(role: str) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def credentials(kubeconfig: dict[str, Any]) -> list[SimpleNamespace]:
    """What listClusterUserCredential returns: base64 kubeconfigs."""
    return [
        SimpleNamespace(
            name="clusterUser", value=base64.b64encode(yaml.safe_dump(kubeconfig).encode()).decode()
        )
    ]


# Catalogue and pure helpers, no mocks.


def test_catalogue_sizes_belong_to_one_accelerator_each() -> None:
    sizes = [size for by_size in GPUS_PER_VM_SIZE.values() for size in by_size]

    assert len(sizes) == len(set(sizes))
    for accelerator, rule in ACCELERATORS.items():
        for other, other_rule in ACCELERATORS.items():
            if other != accelerator:
                # A size of one accelerator never matches another's prefixes.
                assert not any(
                    size.startswith(rule.instance_prefixes) for size in other_rule.instance_prefixes
                )
        assert rule.max_count == max(GPUS_PER_VM_SIZE[accelerator].values())


def test_catalogue_covers_the_azure_gpus() -> None:
    assert set(ACCELERATORS) == {
        "nvidia-t4",
        "nvidia-a10",
        "nvidia-a100",
        "nvidia-h100",
        "nvidia-h200",
        "nvidia-v100",
    }
    assert ACCELERATORS["nvidia-t4"].instance_prefixes[0] == "Standard_NC4as_T4_v3"
    assert GPUS_PER_VM_SIZE["nvidia-a100"]["Standard_ND96asr_v4"] == 8


@pytest.mark.parametrize(
    "name", ["gpu", "prod-gpu-cluster-westeurope", "A_B", "x", "---", "staging--aks", "0123456789012345678"]
)
def test_key_vault_names_are_valid(name: str) -> None:
    vault = key_vault_name(name, "a1b2c3")

    assert 3 <= len(vault) <= 24
    assert re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", vault)
    assert "--" not in vault
    assert vault.endswith("-a1b2c3")


def test_certificate_authority_is_read_from_the_credentials() -> None:
    kubeconfig = {
        "clusters": [{"name": "gpu", "cluster": {"certificate-authority-data": "Q0E=", "server": "x"}}]
    }

    assert certificate_authority(credentials(kubeconfig)) == "Q0E="
    with pytest.raises(ValueError, match="no kubeconfig"):
        certificate_authority([])


def test_kubeconfig_matches_golden() -> None:
    rendered = json.loads(
        render_kubeconfig("gpu", "https://gpu.privatelink.westeurope.azmk8s.io:443", "Q0E=")
    )
    path = GOLDEN_DIR / "aks_kubeconfig.json"
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(rendered, indent=2) + "\n")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert rendered == json.loads(path.read_text())


def test_kubeconfig_holds_no_credentials_and_uses_kubelogin() -> None:
    rendered = json.loads(render_kubeconfig("gpu", "https://h:443", "Q0E="))
    (user,) = rendered["users"]

    assert set(user["user"]) == {"exec"}
    assert user["user"]["exec"]["command"] == "kubelogin"
    assert user["user"]["exec"]["args"] == list(KUBELOGIN_ARGS)
    assert "--server-id" in KUBELOGIN_ARGS and "azurecli" in KUBELOGIN_ARGS


# What the component registers (preview, offline mocks).


def test_resource_counts(cluster: Recorder) -> None:
    assert Counter(r.type for r in children(cluster)) == EXPECTED_COUNTS


PRIVATE_API_SERVER = {
    "enablePrivateCluster": True,
    "enablePrivateClusterPublicFQDN": False,
    "enableVnetIntegration": True,
    "subnetId": API_SUBNET,
}


def test_control_plane_is_private_with_vnet_integration(cluster: Recorder) -> None:
    inputs = cluster.one(CLUSTER).inputs

    assert inputs["apiServerAccessProfile"] == PRIVATE_API_SERVER
    assert (inputs["resourceName"], inputs["dnsPrefix"], inputs["kubernetesVersion"]) == (NAME, NAME, "1.33")
    assert inputs["sku"] == {"name": "Base", "tier": "Standard"}


def test_empty_authorized_cidrs_mean_private_as_on_eks_and_gke(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(authorized_cidrs=[]))

    assert pulumi_run.one(CLUSTER).inputs["apiServerAccessProfile"] == PRIVATE_API_SERVER


def test_authorized_cidrs_make_a_public_but_fenced_api_server(pulumi_run: Recorder) -> None:
    pulumi_run.run(
        cluster_program(
            authorized_cidrs=["203.0.113.0/24", "198.51.100.7/32"], admin_group_object_ids=[ADMIN_GROUP]
        )
    )
    inputs = pulumi_run.one(CLUSTER).inputs

    assert inputs["apiServerAccessProfile"] == {
        "enablePrivateCluster": False,
        "enableVnetIntegration": True,
        "subnetId": API_SUBNET,
        "authorizedIPRanges": ["203.0.113.0/24", "198.51.100.7/32"],
    }
    assert inputs["aadProfile"]["adminGroupObjectIDs"] == [ADMIN_GROUP]


def test_entra_id_only_with_azure_rbac(cluster: Recorder) -> None:
    inputs = cluster.one(CLUSTER).inputs

    assert inputs["aadProfile"] == {"managed": True, "enableAzureRBAC": True, "adminGroupObjectIDs": []}
    assert inputs["disableLocalAccounts"] is True
    assert inputs["enableRBAC"] is True
    assert "servicePrincipalProfile" not in inputs


def test_identities_are_user_assigned(cluster: Recorder) -> None:
    found = cluster.one(CLUSTER)

    assert found.inputs["identity"] == {"type": "UserAssigned", "userAssignedIdentities": "[unknown]"}
    assert depends_on(found, "identity") == [f"{NAME}-control-plane-identity"]
    assert found.inputs["identityProfile"] == {
        "kubeletidentity": {"resourceId": "[unknown]", "clientId": "[unknown]", "objectId": "[unknown]"}
    }
    assert depends_on(found, "identityProfile") == [f"{NAME}-kubelet-identity"]


def test_oidc_issuer_workload_identity_kms_and_image_cleaner(cluster: Recorder) -> None:
    found = cluster.one(CLUSTER)

    assert found.inputs["oidcIssuerProfile"] == {"enabled": True}
    assert found.inputs["securityProfile"] == {
        "workloadIdentity": {"enabled": True},
        "azureKeyVaultKms": {
            "enabled": True,
            "keyId": "[unknown]",
            "keyVaultNetworkAccess": "Private",
            "keyVaultResourceId": "[unknown]",
        },
        "imageCleaner": {"enabled": True, "intervalHours": 168},
    }
    assert depends_on(found, "securityProfile") == [f"{NAME}-etcd-key", f"{NAME}-kv"]


def test_network_overlay_cilium_policies_and_nat_egress(cluster: Recorder) -> None:
    assert cluster.one(CLUSTER).inputs["networkProfile"] == {
        "networkPlugin": "azure",
        "networkPluginMode": "overlay",
        "networkDataplane": "cilium",
        "networkPolicy": "cilium",
        "outboundType": "userAssignedNATGateway",
        "loadBalancerSku": "standard",
        "podCidr": "10.244.0.0/16",
        "serviceCidr": "10.96.0.0/16",
        "dnsServiceIP": "10.96.0.10",
    }


def test_upgrades_and_autoscaler_profile(cluster: Recorder) -> None:
    inputs = cluster.one(CLUSTER).inputs

    assert inputs["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert inputs["autoScalerProfile"] == {
        "scanInterval": "10s",
        "scaleDownUnneededTime": "5m",
        "scaleDownDelayAfterAdd": "5m",
        "scaleDownUnreadyTime": "5m",
        "expander": "least-waste",
        "skipNodesWithLocalStorage": "false",
        "daemonsetEvictionForEmptyNodes": True,
    }
    assert len(AUTOSCALER_PROFILE) == len(inputs["autoScalerProfile"])


def test_system_pool_is_the_tainted_system_mode_pool(cluster: Recorder) -> None:
    found = cluster.one(CLUSTER)

    assert found.inputs["agentPoolProfiles"] == [
        {
            "name": "system",
            "mode": "System",
            "type": "VirtualMachineScaleSets",
            "vmSize": "Standard_D4ds_v5",
            "osType": "Linux",
            "osSKU": "AzureLinux",
            "orchestratorVersion": "1.33",
            "enableAutoScaling": True,
            "minCount": 1,
            "maxCount": 3,
            "count": 1,
            "nodeTaints": [SYSTEM_POOL_TAINT],
            "nodeLabels": {POOL_LABEL: "system"},
            "osDiskSizeGB": 128,
            "maxPods": 110,
            "vnetSubnetID": NODES_SUBNET,
            "enableNodePublicIP": False,
            "securityProfile": {"sshAccess": "Disabled"},
            "tags": TAGS,
        }
    ]
    assert found.options["ignoreChanges"] == ["agentPoolProfiles[0].count"]


def test_a_given_system_pool_replaces_the_default(pulumi_run: Recorder) -> None:
    system = {"name": "sys", "instance_type": "Standard_D8ds_v5", "min_nodes": 2, "max_nodes": 4}
    pulumi_run.run(cluster_program(system_pool=system))
    (profile,) = pulumi_run.one(CLUSTER).inputs["agentPoolProfiles"]

    assert (profile["name"], profile["vmSize"], profile["minCount"], profile["maxCount"]) == (
        "sys",
        "Standard_D8ds_v5",
        2,
        4,
    )


def test_spot_gpu_pool_scales_from_zero(cluster: Recorder) -> None:
    pool = cluster.named(f"{NAME}-pool-t4")

    assert pool.inputs == {
        "agentPoolName": "t4",
        "resourceGroupName": RESOURCE_GROUP,
        "resourceName": "[unknown]",
        "mode": "User",
        "type": "VirtualMachineScaleSets",
        "vmSize": "Standard_NC4as_T4_v3",
        "osType": "Linux",
        "osSKU": "Ubuntu",
        "orchestratorVersion": "1.33",
        "enableAutoScaling": True,
        "minCount": 0,
        "maxCount": 4,
        "count": 0,
        "scaleSetPriority": "Spot",
        "scaleSetEvictionPolicy": "Delete",
        "spotMaxPrice": -1,
        "nodeTaints": ["nvidia.com/gpu=present:NoSchedule", SPOT_TAINT],
        "nodeLabels": {POOL_LABEL: "t4", ACCELERATOR_LABEL: "nvidia-t4"},
        "osDiskSizeGB": 100,
        "maxPods": 110,
        "vnetSubnetID": NODES_SUBNET,
        "enableNodePublicIP": False,
        "securityProfile": {"sshAccess": "Disabled"},
        "gpuProfile": {"driver": "None"},
        "tags": TAGS,
    }
    assert depends_on(pool, "resourceName") == [f"{NAME}-cluster"]
    assert pool.options["ignoreChanges"] == ["count"]


def test_on_demand_gpu_pool(cluster: Recorder) -> None:
    inputs = cluster.named(f"{NAME}-pool-a100").inputs

    assert inputs["scaleSetPriority"] == "Regular"
    assert "scaleSetEvictionPolicy" not in inputs and "spotMaxPrice" not in inputs
    assert (inputs["minCount"], inputs["maxCount"], inputs["count"]) == (0, 2, 0)
    assert inputs["nodeTaints"] == ["nvidia.com/gpu=present:NoSchedule"]
    assert inputs["nodeLabels"] == {
        POOL_LABEL: "a100",
        "workload": "training",
        ACCELERATOR_LABEL: "nvidia-a100",
    }
    assert inputs["osDiskSizeGB"] == 256
    assert inputs["gpuProfile"] == {"driver": "None"}


def test_cpu_pool_has_no_gpu_settings(cluster: Recorder) -> None:
    inputs = cluster.named(f"{NAME}-pool-cpu").inputs

    assert inputs["osSKU"] == "AzureLinux"
    assert inputs["nodeTaints"] == []
    assert inputs["nodeLabels"] == {POOL_LABEL: "cpu"}
    assert "gpuProfile" not in inputs


@pytest.mark.parametrize(
    ("overrides", "pool", "driver"),
    [
        # (With the GPU operator on, AKS installs none: test_spot_gpu_pool_scales_from_zero.)
        # Without it, AKS installs the driver.
        ({"addons": {"gpu_operator": False}}, "t4", "Install"),
        # A10 sizes are vGPU VMs: only AKS's GRID driver works there.
        ({"node_pools": [CPU_POOL, A10_POOL]}, "a10", "Install"),
    ],
    ids=["no-operator", "a10"],
)
def test_gpu_driver_handling_matches_cluster_addons(
    pulumi_run: Recorder, overrides: dict[str, Any], pool: str, driver: str
) -> None:
    pulumi_run.run(cluster_program(**overrides))

    assert pulumi_run.named(f"{NAME}-pool-{pool}").inputs["gpuProfile"] == {"driver": driver}


def test_autoscaler_off_fixes_every_pool_at_its_minimum(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(addons={"autoscaler": False}))
    found = pulumi_run.one(CLUSTER)
    (system,) = found.inputs["agentPoolProfiles"]

    assert "autoScalerProfile" not in found.inputs
    assert (system["enableAutoScaling"], system["count"]) == (False, 1)
    assert "minCount" not in system and "maxCount" not in system
    assert "ignoreChanges" not in found.options
    for pool in pulumi_run.of_type(AGENT_POOL):
        assert (pool.inputs["enableAutoScaling"], pool.inputs["count"]) == (False, 0)
        assert "minCount" not in pool.inputs and "maxCount" not in pool.inputs
        assert "ignoreChanges" not in pool.options


def test_key_vault_is_rbac_only_purge_protected_and_private(cluster: Recorder) -> None:
    vault = cluster.named(f"{NAME}-kv")

    assert vault.inputs == {
        "vaultName": "[unknown]",
        "resourceGroupName": RESOURCE_GROUP,
        "location": LOCATION,
        "properties": {
            "tenantId": SUBSCRIPTION,
            "sku": {"family": "A", "name": "premium"},
            "enableRbacAuthorization": True,
            "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90,
            "enablePurgeProtection": True,
            "publicNetworkAccess": "Disabled",
            "networkAcls": {"defaultAction": "Deny", "bypass": "None"},
        },
        "tags": TAGS,
    }
    assert depends_on(vault, "vaultName") == [f"{NAME}-kv-suffix"]


def test_kms_key_rotates(cluster: Recorder) -> None:
    key = cluster.named(f"{NAME}-etcd-key")

    assert key.inputs == {
        "keyName": "etcd-encryption",
        "vaultName": "[unknown]",
        "resourceGroupName": RESOURCE_GROUP,
        "properties": {
            "kty": "RSA-HSM",
            "keySize": 2048,
            "keyOps": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
            "rotationPolicy": {
                "attributes": {"expiryTime": "P2Y"},
                "lifetimeActions": [
                    {"trigger": {"timeAfterCreate": "P1Y"}, "action": {"type": "rotate"}},
                    {"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "notify"}},
                ],
            },
        },
        "tags": TAGS,
    }
    assert depends_on(key, "vaultName") == [f"{NAME}-kv"]


def test_role_assignments_are_scoped_and_the_cluster_waits_for_them(cluster: Recorder) -> None:
    found = {r.name: r for r in cluster.of_type(ROLE_ASSIGNMENT)}
    expected = {
        # name: (role, principal, scope (a resource's name, or a literal id))
        "kubelet-identity-operator": (
            ROLE_MANAGED_IDENTITY_OPERATOR,
            "control-plane-identity",
            "kubelet-identity",
        ),
        "nodes-subnet-network-contributor": (
            ROLE_NETWORK_CONTRIBUTOR,
            "control-plane-identity",
            NODES_SUBNET,
        ),
        "apiserver-subnet-network-contributor": (
            ROLE_NETWORK_CONTRIBUTOR,
            "control-plane-identity",
            API_SUBNET,
        ),
        "kms-crypto-user": (ROLE_KEY_VAULT_CRYPTO_USER, "control-plane-identity", "kv"),
        "kms-vault-contributor": (ROLE_KEY_VAULT_CONTRIBUTOR, "control-plane-identity", "kv"),
    }

    assert set(found) == {f"{NAME}-{role}" for role in (*expected, "deployer-cluster-admin")}
    for role_name, (role, principal, scope) in expected.items():
        grant = found[f"{NAME}-{role_name}"]
        assert grant.inputs["roleDefinitionId"] == role_id(role)
        assert grant.inputs["principalType"] == "ServicePrincipal"
        assert depends_on(grant, "principalId") == [f"{NAME}-{principal}"]
        if scope.startswith("/"):
            assert grant.inputs["scope"] == scope
        else:
            assert depends_on(grant, "scope") == [f"{NAME}-{scope}"]
    assert set(dependency_names(cluster.one(CLUSTER))) >= {f"{NAME}-{role}" for role in expected}


def test_deployer_becomes_cluster_admin(cluster: Recorder) -> None:
    grant = cluster.named(f"{NAME}-deployer-cluster-admin")

    assert grant.inputs == {
        "principalId": SUBSCRIPTION,
        "principalType": "ServicePrincipal",
        "roleDefinitionId": role_id(ROLE_AKS_RBAC_CLUSTER_ADMIN),
        "scope": "[unknown]",
        "description": "Lets the identity that runs Pulumi install the cluster add-ons",
    }
    assert depends_on(grant, "scope") == [f"{NAME}-cluster"]


def test_deployer_type_and_log_retention_are_passed_through(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(deployer_principal_type="User", log_retention_days=90))

    assert pulumi_run.named(f"{NAME}-deployer-cluster-admin").inputs["principalType"] == "User"
    assert pulumi_run.named(f"{NAME}-logs").inputs["retentionInDays"] == 90


def test_control_plane_logs_go_to_log_analytics(cluster: Recorder) -> None:
    setting = cluster.named(f"{NAME}-control-plane-logs")
    workspace = cluster.named(f"{NAME}-logs")

    assert setting.inputs["logs"] == [{"category": c, "enabled": True} for c in AUDIT_LOG_CATEGORIES]
    assert {"kube-audit", "kube-audit-admin", "guard", "kube-apiserver"} <= set(AUDIT_LOG_CATEGORIES)
    assert setting.inputs["logAnalyticsDestinationType"] == "Dedicated"
    assert depends_on(setting, "resourceUri") == [f"{NAME}-cluster"]
    assert depends_on(setting, "workspaceId") == [f"{NAME}-logs"]
    assert workspace.inputs["retentionInDays"] == 365
    assert workspace.inputs["features"] == {"disableLocalAuth": True}


def test_kubernetes_provider_uses_a_secret_kubeconfig_after_pools_and_admin_role(cluster: Recorder) -> None:
    provider = cluster.one(K8S_PROVIDER)

    assert provider.inputs == {"kubeconfig": "[secret]"}
    assert set(dependency_names(provider)) >= {
        f"{NAME}-pool-cpu",
        f"{NAME}-pool-t4",
        f"{NAME}-pool-a100",
        f"{NAME}-deployer-cluster-admin",
    }
    assert isinstance(_BUILT[0].kubernetes_provider, k8s.Provider)


def test_preview_asks_azure_for_no_credentials(cluster: Recorder) -> None:
    assert cluster.last is not None
    assert [d.message for d in cluster.last.diagnostics if "invoke" in d.message] == []


def test_addons_are_installed_through_the_cluster_provider(cluster: Recorder) -> None:
    addons = cluster.one(ADDONS_TOKEN)
    provider = cluster.one(K8S_PROVIDER)
    releases = cluster.of_type(RELEASE)

    assert addons.name == f"{NAME}-addons"
    assert addons.parent == component(cluster).urn
    assert sorted(r.inputs["chart"] for r in releases) == [
        "dcgm-exporter",
        "gpu-operator",
        "kuberay-operator",
        "opencost",
    ]
    assert all(r.provider == provider.urn and r.parent == addons.urn for r in releases)


@pytest.mark.parametrize(
    ("addons", "charts"),
    [
        ({"kuberay": False, "opencost": False}, ["dcgm-exporter", "gpu-operator"]),
        (
            {"gpu_operator": False, "dcgm_exporter": False, "kuberay": False, "opencost": False},
            [],
        ),
    ],
    ids=["some-off", "all-off"],
)
def test_switched_off_addons_remove_their_releases(
    pulumi_run: Recorder, addons: dict[str, bool], charts: list[str]
) -> None:
    pulumi_run.run(cluster_program(addons=addons))

    assert sorted(r.inputs["chart"] for r in pulumi_run.of_type(RELEASE)) == charts


def test_without_addons_a_cluster_may_have_gpu_pools_only(pulumi_run: Recorder) -> None:
    off = {"gpu_operator": False, "dcgm_exporter": False, "kuberay": False, "opencost": False}
    pulumi_run.run(cluster_program(node_pools=[T4_POOL], addons=off))

    assert [r.name for r in pulumi_run.of_type(AGENT_POOL)] == [f"{NAME}-pool-t4"]
    assert pulumi_run.of_type(RELEASE) == []


def test_gpu_daemonsets_tolerate_the_spot_taint_aks_puts_on_spot_nodes(cluster: Recorder) -> None:
    assert cluster.last is not None
    assert [d for d in cluster.last.diagnostics if d.severity == "warning"] == []
    releases = {r.inputs["chart"]: r.inputs["values"] for r in cluster.of_type(RELEASE)}
    spot = {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }
    assert spot in releases["gpu-operator"]["daemonsets"]["tolerations"]
    assert spot in releases["gpu-operator"]["node-feature-discovery"]["worker"]["tolerations"]
    assert spot in releases["dcgm-exporter"]["tolerations"]


def test_parenting_providers_and_names(cluster: Recorder) -> None:
    provider = cluster.one(PROVIDER)
    k8s_provider = cluster.one(K8S_PROVIDER)
    addons = cluster.one(ADDONS_TOKEN)
    under = descendants(cluster)
    others = [r for r in cluster.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert component(cluster).type == TYPE_TOKEN == "mlopshub:index:AksGpuCluster"
    # Every resource of the program but the stack and the given provider sits under the component.
    assert sorted(r.urn for r in under) == sorted(r.urn for r in others)
    assert all(r.name.startswith(f"{NAME}-") for r in under)
    for resource in under:
        if resource.type.startswith("azure-native:"):
            assert resource.provider == provider.urn, resource.name
        elif resource.type.startswith("kubernetes:"):
            assert resource.provider == k8s_provider.urn, resource.name
            assert resource.parent == addons.urn


def test_every_taggable_child_carries_the_tags(cluster: Recorder) -> None:
    tags = {r.name: cluster.tags_of(r) for r in descendants(cluster)}
    untaggable = {name for name, found in tags.items() if found is None}

    assert untaggable == {
        *(f"{NAME}-{role}" for role in ("kv-suffix", "control-plane-logs", "k8s", "addons")),
        *(r.name for r in cluster.of_type(ROLE_ASSIGNMENT)),
        *(r.name for r in cluster.resources if r.type.startswith("kubernetes:")),
    }
    assert {name: found for name, found in tags.items() if found is not None} == {
        f"{NAME}-{role}": TAGS
        for role in (
            "control-plane-identity",
            "kubelet-identity",
            "kv",
            "etcd-key",
            "logs",
            "cluster",
            "pool-cpu",
            "pool-t4",
            "pool-a100",
        )
    }
    # The system pool's scale set is tagged through the cluster's pool profile.
    assert cluster.one(CLUSTER).inputs["agentPoolProfiles"][0]["tags"] == TAGS


def test_outputs_are_the_cluster_contract(cluster: Recorder) -> None:
    outputs = component(cluster).outputs

    assert outputs is not None
    assert sorted(outputs) == sorted(CLUSTER_OUTPUTS)
    assert outputs["kubeconfig"] == "[secret]"
    assert outputs["gpu_pool_names"] == ["t4", "a100"]
    # Assigned by Azure, so a preview of a new cluster cannot know them.
    assert {
        k: outputs[k] for k in ("cluster_name", "endpoint", "oidc_issuer_url", "node_identity")
    } == dict.fromkeys(("cluster_name", "endpoint", "oidc_issuer_url", "node_identity"), "[unknown]")


def test_two_clusters_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in descendants(pulumi_run, "a")}
    names_b = {r.name for r in descendants(pulumi_run, "b")}

    assert len(urns) == len(set(urns))
    assert names_a and {n.removeprefix("a-") for n in names_a} == {n.removeprefix("b-") for n in names_b}
    assert all(name.startswith("a-") for name in names_a)
    assert [r.inputs["resourceName"] for r in pulumi_run.of_type(CLUSTER)] == ["a", "b"]


def pool(**changes: Any) -> dict[str, Any]:
    return {**T4_POOL, **changes}


BAD_ARGS = [
    pytest.param(
        {"node_pools": [CPU_POOL, pool(min_nodes=5, max_nodes=2)]}, "min_nodes (5) is greater", id="min>max"
    ),
    pytest.param(
        {"node_pools": [CPU_POOL, pool(accelerator={"type": "nvidia-t4", "count": 0})]},
        "accelerator count 0",
        id="count-0",
    ),
    pytest.param(
        {"node_pools": [CPU_POOL, pool(accelerator={"type": "nvidia-l4", "count": 1})]},
        "accelerator 'nvidia-l4' is not known",
        id="unknown-accelerator",
    ),
    pytest.param(
        {"node_pools": [CPU_POOL, pool(instance_type="Standard_NC24ads_A100_v4")]},
        "'Standard_NC24ads_A100_v4' does not carry nvidia-t4",
        id="size-not-matching-accelerator",
    ),
    pytest.param(
        {"node_pools": [CPU_POOL, pool(accelerator={"type": "nvidia-t4", "count": 4})]},
        "accelerator count 4 does not match Standard_NC4as_T4_v3, which has 1",
        id="count-not-matching-size",
    ),
    pytest.param(
        {"node_pools": [CPU_POOL, pool(name="system")]}, "'system': name is used", id="duplicate-name"
    ),
    pytest.param({"node_pools": [T4_POOL]}, "need a CPU pool in node_pools", id="no-cpu-pool-for-addons"),
    pytest.param(
        {"authorized_cidrs": ["0.0.0.0/0"]},
        "0.0.0.0/0 opens the API endpoint to the whole internet",
        id="internet",
    ),
    pytest.param({"authorized_cidrs": ["10.0.0.1/8"]}, "'10.0.0.1/8' is not a network", id="bad-cidr"),
    pytest.param(
        {"system_pool": {**CPU_POOL, "name": "sys", "spot": True, "min_nodes": 1}},
        "system pool 'sys'",
        id="spot-system",
    ),
    pytest.param({"system_pool": {**CPU_POOL, "name": "sys"}}, "system pool 'sys'", id="system-min-0"),
    pytest.param({"system_pool": pool(name="sys", min_nodes=1)}, "system pool 'sys'", id="gpu-system"),
    pytest.param({"kubernetes_version": "latest"}, "kubernetes_version 'latest'", id="version"),
    pytest.param({"admin_group_object_ids": ["admins"]}, "'admins' is not an object id", id="admin-group"),
    pytest.param({"log_retention_days": 10}, "log_retention_days 10", id="retention"),
    pytest.param({"addons": {"karpenter": True}}, "unknown add-on karpenter", id="unknown-addon"),
    pytest.param({"sku_tier": "Gold"}, "sku_tier 'Gold'", id="sku-tier"),
    pytest.param({"deployer_principal_type": "Group"}, "deployer_principal_type 'Group'", id="deployer-type"),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(cluster_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert str(failure.value.cause).startswith(f"AksGpuCluster {NAME}: ")
    assert bad_value in str(failure.value.cause)
    # The component itself registers first (super().__init__ comes before validation), nothing else.
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]


@pytest.mark.usefixtures("collect_failed_runs")
def test_a_bad_name_is_refused(pulumi_run: Recorder) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(cluster_program("gpu_cluster"))

    assert str(failure.value.cause).startswith(
        "AksGpuCluster gpu_cluster: the name is the cluster's DNS prefix"
    )
