"""AksGpuCluster: an AKS cluster for GPU work, secure by default, whose GPU pools cost nothing when idle.

The cluster contract (contract.py) on Azure:

- Control plane: private (API Server VNet Integration, no public FQDN) unless `authorized_cidrs` lists networks;
  Entra ID integration with Azure RBAC, local accounts off, OIDC issuer and workload identity on; a
  user-assigned identity for the control plane and another for the kubelets (no service principal
  secrets); Kubernetes secrets envelope-encrypted (KMS) with an RSA key that rotates yearly, held in a
  Key Vault with RBAC authorization, purge protection and public network access disabled; control-plane
  logs (audit included) to a Log Analytics workspace; patch-level and node-image auto-upgrades.
- Network: Azure CNI Overlay powered by Cilium (with Cilium network policies), egress through the
  user-assigned NAT gateway on the nodes subnet, no public IPs on nodes, SSH to nodes disabled.
- Pools: the system pool is the cluster's system-mode pool, tainted CriticalAddonsOnly; every other pool
  is its own `AgentPool`. GPU pools scale to and from zero with AKS's cluster autoscaler (tuned to remove
  empty nodes after 5 minutes), carry GPU_TAINT, and can be Spot (evicted nodes are deleted).
- Drivers: ClusterAddons installs the NVIDIA GPU operator on AKS with its driver enabled, so AKS's own
  driver install is skipped on GPU pools (`gpuProfile.driver = None`), except on A10 sizes, which are
  vGPU (GRID) VMs whose driver only AKS installs; the GPU operator finds it there and leaves it alone.
  With the `gpu_operator` add-on off, AKS installs the driver on every GPU pool.
- Add-ons: ClusterAddons, through a Kubernetes provider whose kubeconfig authenticates with kubelogin
  (`--login azurecli`). Whoever runs Pulumi gets "Azure Kubernetes Service RBAC Cluster Admin" on this
  cluster so the add-ons can be installed; a private cluster must be reachable from where Pulumi runs.
"""

import base64
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import yaml
from pulumi_azure_native import (
    authorization,
    containerservice,
    keyvault,
    managedidentity,
    monitor,
    operationalinsights,
)

from components.compute.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.compute.contract import (
    AcceleratorRule,
    AddonsSpec,
    ClusterFlavor,
    NodePoolSpec,
    ResolvedPool,
    authorized_cidrs,
    enabled_addons,
    exec_kubeconfig,
    resolve_node_pools,
)
from components.network.azure_network import AKS_DNS_SERVICE_IP, AKS_POD_CIDR, AKS_SERVICE_CIDR

TYPE_TOKEN = "mlopshub:index:AksGpuCluster"

GPUS_PER_VM_SIZE: dict[str, dict[str, int]] = {
    "nvidia-t4": {
        "Standard_NC4as_T4_v3": 1,
        "Standard_NC8as_T4_v3": 1,
        "Standard_NC16as_T4_v3": 1,
        "Standard_NC64as_T4_v3": 4,
    },
    # NV6/12/18ads_A10_v5 are fractions of one A10 (vGPU slices), which a GPU count cannot express.
    "nvidia-a10": {"Standard_NV36ads_A10_v5": 1, "Standard_NV36adms_A10_v5": 1, "Standard_NV72ads_A10_v5": 2},
    "nvidia-a100": {
        "Standard_NC24ads_A100_v4": 1,
        "Standard_NC48ads_A100_v4": 2,
        "Standard_NC96ads_A100_v4": 4,
        "Standard_ND96asr_v4": 8,
        "Standard_ND96amsr_A100_v4": 8,
    },
    "nvidia-h100": {
        "Standard_NC40ads_H100_v5": 1,
        "Standard_NC80adis_H100_v5": 2,
        "Standard_ND96isr_H100_v5": 8,
    },
    "nvidia-h200": {"Standard_ND96isr_H200_v5": 8},
    # Azure retired the NCv3 series on 30 Sep 2025; kept for subscriptions that still hold capacity.
    "nvidia-v100": {
        "Standard_NC6s_v3": 1,
        "Standard_NC12s_v3": 2,
        "Standard_NC24s_v3": 4,
        "Standard_NC24rs_v3": 4,
    },
}
"""Accelerator → VM size → GPUs per VM, for the sizes AKS GPU pools are built from."""

ACCELERATORS: dict[str, AcceleratorRule] = {
    accelerator: AcceleratorRule(instance_prefixes=tuple(sizes), max_count=max(sizes.values()))
    for accelerator, sizes in GPUS_PER_VM_SIZE.items()
}
"""The Azure accelerator catalogue for resolve_node_pools (whole VM sizes, used as prefixes)."""

AKS_INSTALLS_DRIVER = frozenset({"nvidia-a10"})
"""Accelerators on vGPU (GRID) VM sizes: only AKS's driver install works there."""

DEFAULT_SYSTEM_POOL: NodePoolSpec = {
    "name": "system",
    "instance_type": "Standard_D4ds_v5",
    "min_nodes": 1,
    "max_nodes": 3,
    "disk_size_gb": 128,
}
"""System pool used when none is given: small, on demand, CPU only."""

SYSTEM_POOL_TAINT = "CriticalAddonsOnly=true:NoSchedule"
"""Keeps everything but critical system pods off the system pool."""
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"
"""AKS puts this taint on every Spot node; declared so the pool's inputs match what Azure reports."""

AUDIT_LOG_CATEGORIES = (
    "kube-apiserver",
    "kube-audit",
    "kube-audit-admin",
    "kube-controller-manager",
    "kube-scheduler",
    "cluster-autoscaler",
    "cloud-controller-manager",
    "guard",
    "csi-azuredisk-controller",
    "csi-azurefile-controller",
    "csi-snapshot-controller",
)
"""Control-plane log categories sent to Log Analytics."""

AUTOSCALER_PROFILE: containerservice.ManagedClusterPropertiesAutoScalerProfileArgsDict = {
    "scan_interval": "10s",
    "scale_down_unneeded_time": "5m",
    "scale_down_delay_after_add": "5m",
    "scale_down_unready_time": "5m",
    "expander": "least-waste",
    "skip_nodes_with_local_storage": "false",
    "daemonset_eviction_for_empty_nodes": True,
}
"""Cluster autoscaler settings: an empty GPU node is removed about 5 minutes after its last pod."""

MAX_PODS = 110
"""Pods per node: AKS's default for Azure CNI overlay, set explicitly (CIS AKS asks for at least 50)."""

ETCD_KEY_PROPERTIES: keyvault.KeyPropertiesArgsDict = {
    # HSM-protected (Key Vault Premium): the key that unlocks every cluster secret never leaves the HSM.
    "kty": "RSA-HSM",
    "key_size": 2048,
    "key_ops": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    "rotation_policy": {
        "attributes": {"expiry_time": "P2Y"},
        "lifetime_actions": [
            {
                "trigger": {"time_after_create": "P1Y"},
                "action": {"type": keyvault.KeyRotationPolicyActionType.ROTATE},
            },
            {
                "trigger": {"time_before_expiry": "P30D"},
                "action": {"type": keyvault.KeyRotationPolicyActionType.NOTIFY},
            },
        ],
    },
}
"""The KMS key: RSA 2048, a new version every year, each version valid for two."""

# Built-in role definition ids (the same GUID in every tenant).
ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
ROLE_MANAGED_IDENTITY_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
ROLE_KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-d2b8c4db7c49"
ROLE_KEY_VAULT_CONTRIBUTOR = "f25e0fa2-a7c8-4377-a976-54943a77a395"
ROLE_AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"

AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
"""The Entra ID application every AKS-managed Entra ID cluster issues tokens for."""
KUBELOGIN_ARGS = ("get-token", "--login", "azurecli", "--server-id", AKS_AAD_SERVER_APP_ID)
"""kubelogin uses the Azure CLI's login (`az login`, or `az login --federated-token` in CI)."""

_KUBERNETES_VERSION = re.compile(r"^1\.\d{1,2}(\.\d{1,3})?$")
_DNS_PREFIX = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,52}[a-zA-Z0-9])?$")
# Add-ons that run Deployments, which need a node without the system pool's taint.
_ADDONS_NEEDING_CPU_POOL = frozenset({"gpu_operator", "kuberay", "opencost"})


class AksSkuTier(StrEnum):
    """AKS control-plane tier."""

    FREE = "Free"
    """No uptime SLA; for experiments."""
    STANDARD = "Standard"
    """Uptime SLA and control-plane autoscaling; for anything others depend on."""
    PREMIUM = "Premium"
    """Standard plus long-term support versions."""


class DeployerPrincipalType(StrEnum):
    """What kind of Entra ID principal runs Pulumi (Azure rejects a role assignment of the wrong kind)."""

    USER = "User"
    """A person, signed in with `az login`."""
    SERVICE_PRINCIPAL = "ServicePrincipal"
    """An app registration or managed identity, as in CI (`az login --service-principal/--identity`)."""


class AksGpuClusterArgs(TypedDict):
    """Arguments of AksGpuCluster."""

    resource_group_name: pulumi.Input[str]
    """Resource group of the cluster and its Key Vault, identities and workspace."""
    location: pulumi.Input[str]
    """Azure region, e.g. `westeurope`."""
    kubernetes_version: str
    """Kubernetes minor (`1.33`) or patch (`1.33.2`) version; patches then arrive through auto-upgrade."""
    nodes_subnet_id: pulumi.Input[str]
    """Subnet for every node pool; its NAT gateway carries egress (AzureNetwork.nodes_subnet_id)."""
    api_server_subnet_id: pulumi.Input[str]
    """Subnet delegated to AKS for API Server VNet Integration (AzureNetwork.api_server_subnet_id)."""
    node_pools: Sequence[NodePoolSpec]
    """User pools (GPU and CPU); validated with the Azure catalogue ACCELERATORS."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags put on every taggable child (azure-native has no provider default tags)."""
    system_pool: NotRequired[NodePoolSpec]
    """The system-mode pool; on demand, CPU, at least 1 node (default DEFAULT_SYSTEM_POOL)."""
    authorized_cidrs: NotRequired[Sequence[str]]
    """IPv4 ranges allowed to reach a public API server; absent or empty means a private cluster."""
    admin_group_object_ids: NotRequired[Sequence[str]]
    """Entra ID groups (object ids) that administer the cluster."""
    addons: NotRequired[AddonsSpec]
    """Add-ons to switch off (all on by default); `autoscaler` is AKS's cluster autoscaler."""
    log_retention_days: NotRequired[int]
    """Days the Log Analytics workspace keeps control-plane logs, 30 to 730 (default 365)."""
    sku_tier: NotRequired[AksSkuTier]
    """Control-plane tier (default Standard)."""
    deployer_principal_type: NotRequired[DeployerPrincipalType]
    """Kind of principal that runs Pulumi; it is made cluster admin to install the add-ons (default
    ServicePrincipal, as in CI)."""


def role_definition_id(subscription_id: str, role: str) -> str:
    """The resource id of a built-in role definition in a subscription."""
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"


def key_vault_name(name: str, suffix: str) -> str:
    """A Key Vault name (globally unique, 3 to 24 letters, digits and single hyphens) for cluster `name`."""
    stem = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", name.lower()))[:13].strip("-")
    return f"kv-{stem}-{suffix}" if stem else f"kv-{suffix}"


def certificate_authority(kubeconfigs: Sequence[Any] | None) -> str:
    """The cluster CA (base64) from the kubeconfigs `listClusterUserCredential` returns."""
    if not kubeconfigs:
        raise ValueError("listClusterUserCredential returned no kubeconfig; cannot read the cluster CA")
    document = yaml.safe_load(base64.b64decode(kubeconfigs[0].value))
    return str(document["clusters"][0]["cluster"]["certificate-authority-data"])


def render_kubeconfig(cluster_name: str, server: str, certificate_authority_data: str) -> str:
    """A kubeconfig (JSON) for an Entra ID cluster: no credentials in it, tokens from kubelogin."""
    exec_ = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "kubelogin",
        "args": list(KUBELOGIN_ARGS),
        "interactiveMode": "Never",
        "provideClusterInfo": False,
    }
    return json.dumps(
        exec_kubeconfig(cluster_name, server, certificate_authority_data, f"{cluster_name}-entra-id", exec_),
        indent=2,
    )


def _validate_pools(owner: str, args: AksGpuClusterArgs) -> tuple[ResolvedPool, list[ResolvedPool]]:
    """The system pool and the user pools, checked against the contract and the Azure catalogue."""
    system, *pools = resolve_node_pools(
        owner, [args.get("system_pool", DEFAULT_SYSTEM_POOL), *args["node_pools"]], ACCELERATORS
    )
    if system.is_gpu or system.spot or system.min_nodes < 1:
        raise ValueError(
            f"{owner}: system pool {system.name!r} must be on-demand CPU nodes with min_nodes 1 or more"
        )
    for pool in pools:
        if pool.accelerator_type is None:
            continue
        gpus = GPUS_PER_VM_SIZE[pool.accelerator_type].get(pool.instance_type)
        if gpus != pool.accelerator_count:
            raise ValueError(
                f"{owner}: node pool {pool.name!r}: accelerator count {pool.accelerator_count} does not match "
                f"{pool.instance_type}, which has {gpus} {pool.accelerator_type}"
            )
    return system, pools


def _validate_access(owner: str, args: AksGpuClusterArgs) -> None:
    """Authorized CIDRs (never the whole Internet) and admin group object ids."""
    authorized_cidrs(owner, args.get("authorized_cidrs", ()))
    for group in args.get("admin_group_object_ids", ()):
        try:
            uuid.UUID(group)
        except ValueError:
            raise ValueError(f"{owner}: admin_group_object_ids entry {group!r} is not an object id") from None


def _validate(name: str, args: AksGpuClusterArgs) -> tuple[ResolvedPool, list[ResolvedPool], frozenset[str]]:
    """Check every plain argument; return the system pool, the user pools and the add-ons switched on."""
    owner = f"AksGpuCluster {name}"
    if not _DNS_PREFIX.match(name):
        raise ValueError(
            f"{owner}: the name is the cluster's DNS prefix: 1 to 54 letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    version = args["kubernetes_version"]
    if not _KUBERNETES_VERSION.match(version):
        raise ValueError(f"{owner}: kubernetes_version {version!r} must look like 1.33 or 1.33.2")
    system, pools = _validate_pools(owner, args)
    try:
        addons = enabled_addons(args.get("addons"))
    except ValueError as err:
        raise ValueError(f"{owner}: {err}") from None
    if addons & _ADDONS_NEEDING_CPU_POOL and not any(not pool.is_gpu for pool in pools):
        raise ValueError(
            f"{owner}: add-ons {', '.join(sorted(addons & _ADDONS_NEEDING_CPU_POOL))} need a CPU pool in "
            "node_pools (the system pool is tainted CriticalAddonsOnly); add one or switch them off"
        )
    _validate_access(owner, args)
    retention = args.get("log_retention_days", 365)
    if not 30 <= retention <= 730:
        raise ValueError(f"{owner}: log_retention_days {retention} must be from 30 to 730")
    tier = args.get("sku_tier", AksSkuTier.STANDARD)
    if tier not in set(AksSkuTier):
        raise ValueError(f"{owner}: sku_tier {tier!r} is not one of {', '.join(AksSkuTier)}")
    deployer = args.get("deployer_principal_type", DeployerPrincipalType.SERVICE_PRINCIPAL)
    if deployer not in set(DeployerPrincipalType):
        raise ValueError(
            f"{owner}: deployer_principal_type {deployer!r} is not one of {', '.join(DeployerPrincipalType)}"
        )
    return system, pools, addons


def _issuer_url(values: list[Any]) -> str:
    profile = values[1]
    if profile is None or not profile.issuer_url:
        raise ValueError("the cluster reports no OIDC issuer URL although its OIDC issuer is enabled")
    return str(profile.issuer_url)


def _gpu_driver(pool: ResolvedPool, addons: frozenset[str]) -> str:
    """Whether AKS installs the NVIDIA driver on a GPU pool (`Install`) or leaves it to the GPU operator."""
    if "gpu_operator" not in addons or pool.accelerator_type in AKS_INSTALLS_DRIVER:
        return "Install"
    return "None"


def _pool_taints(pool: ResolvedPool) -> list[str]:
    return [*pool.taint_strings(), SPOT_TAINT] if pool.spot else pool.taint_strings()


def _spot_max_price(pool: ResolvedPool) -> float | None:
    # -1: pay up to the on-demand price, so Spot nodes are evicted for capacity only, never for price.
    return -1 if pool.spot else None


class AksGpuCluster(pulumi.ComponentResource):
    """A private, Entra ID-only AKS cluster with KMS-encrypted secrets, audit logs and scale-to-zero GPU pools."""

    cluster_name: pulumi.Output[str]
    """The AKS cluster's name (the component's name)."""
    endpoint: pulumi.Output[str]
    """API server URL: the private FQDN, or the public one when authorized CIDRs were given."""
    oidc_issuer_url: pulumi.Output[str]
    """OIDC issuer for workload identity federation (AzureWorkloadIdentity)."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (secret) that gets Entra ID tokens from kubelogin with the Azure CLI's login."""
    gpu_pool_names: pulumi.Output[list[str]]
    """Names of the pools that carry GPUs."""
    node_identity: pulumi.Output[str]
    """Object (principal) id of the kubelet identity the nodes run as (grant it AcrPull, for example)."""
    kubernetes_provider: k8s.Provider
    """Provider for resources inside the cluster (not a registered output)."""

    def __init__(
        self, name: str, args: AksGpuClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        system_pool, user_pools, addons = _validate(name, args)
        version = args["kubernetes_version"]
        private = not args.get("authorized_cidrs")
        autoscale = "autoscaler" in addons
        resource_group = args["resource_group_name"]
        location = args["location"]
        tags = args["tags"]
        tier = AksSkuTier(args.get("sku_tier", AksSkuTier.STANDARD))
        deployer_type = DeployerPrincipalType(
            args.get("deployer_principal_type", DeployerPrincipalType.SERVICE_PRINCIPAL)
        )
        child = pulumi.ResourceOptions(parent=self)
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))

        def role(role_id: str) -> pulumi.Output[str]:
            return client.subscription_id.apply(
                lambda subscription: role_definition_id(subscription, role_id)
            )

        def grant(
            role_name: str, role_id: str, principal_id: pulumi.Input[str], scope: pulumi.Input[str]
        ) -> authorization.RoleAssignment:
            return authorization.RoleAssignment(
                f"{name}-{role_name}",
                principal_id=principal_id,
                principal_type="ServicePrincipal",
                role_definition_id=role(role_id),
                scope=scope,
                opts=child,
            )

        control_plane = managedidentity.UserAssignedIdentity(
            f"{name}-control-plane-identity",
            resource_group_name=resource_group,
            location=location,
            tags=tags,
            opts=child,
        )
        kubelet = managedidentity.UserAssignedIdentity(
            f"{name}-kubelet-identity",
            resource_group_name=resource_group,
            location=location,
            tags=tags,
            opts=child,
        )
        cluster_grants = [
            # AKS assigns the kubelet identity to the node scale sets on the control plane's behalf.
            grant(
                "kubelet-identity-operator",
                ROLE_MANAGED_IDENTITY_OPERATOR,
                control_plane.principal_id,
                kubelet.id,
            ),
            # Joining nodes and the API server's load balancer to the caller's subnets.
            grant(
                "nodes-subnet-network-contributor",
                ROLE_NETWORK_CONTRIBUTOR,
                control_plane.principal_id,
                args["nodes_subnet_id"],
            ),
            grant(
                "apiserver-subnet-network-contributor",
                ROLE_NETWORK_CONTRIBUTOR,
                control_plane.principal_id,
                args["api_server_subnet_id"],
            ),
        ]

        vault_suffix = random.RandomString(
            f"{name}-kv-suffix", length=6, special=False, upper=False, numeric=True, opts=child
        )
        vault_properties: keyvault.VaultPropertiesArgsDict = {
            "tenant_id": client.tenant_id,
            "sku": {"family": "A", "name": keyvault.SkuName.PREMIUM},
            "enable_rbac_authorization": True,
            "enable_soft_delete": True,
            "soft_delete_retention_in_days": 90,
            "enable_purge_protection": True,
            # AKS reaches a private vault through a private endpoint it creates itself.
            "public_network_access": "Disabled",
            "network_acls": {"default_action": "Deny", "bypass": "None"},
        }
        vault = keyvault.Vault(
            f"{name}-kv",
            vault_name=vault_suffix.result.apply(lambda suffix: key_vault_name(name, suffix)),
            resource_group_name=resource_group,
            location=location,
            properties=vault_properties,
            tags=tags,
            opts=child,
        )
        key = keyvault.Key(
            f"{name}-etcd-key",
            key_name="etcd-encryption",
            vault_name=vault.name,
            resource_group_name=resource_group,
            properties=ETCD_KEY_PROPERTIES,
            tags=tags,
            opts=child,
        )
        cluster_grants += [
            grant("kms-crypto-user", ROLE_KEY_VAULT_CRYPTO_USER, control_plane.principal_id, vault.id),
            # With a private vault, AKS creates the private endpoint to it: that needs vault write access.
            grant("kms-vault-contributor", ROLE_KEY_VAULT_CONTRIBUTOR, control_plane.principal_id, vault.id),
        ]

        workspace = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=resource_group,
            location=location,
            sku={"name": "PerGB2018"},
            retention_in_days=args.get("log_retention_days", 365),
            features={"disable_local_auth": True},
            tags=tags,
            opts=child,
        )

        subnet = args["nodes_subnet_id"]
        api_access: containerservice.ManagedClusterAPIServerAccessProfileArgsDict = {
            "enable_vnet_integration": True,
            "subnet_id": args["api_server_subnet_id"],
            "enable_private_cluster": private,
        }
        if private:
            api_access["enable_private_cluster_public_fqdn"] = False
        else:
            api_access["authorized_ip_ranges"] = list(args["authorized_cidrs"])
        identity_profile: dict[str, containerservice.UserAssignedIdentityArgsDict] = {
            "kubeletidentity": {
                "resource_id": kubelet.id,
                "client_id": kubelet.client_id,
                "object_id": kubelet.principal_id,
            }
        }
        security_profile: containerservice.ManagedClusterSecurityProfileArgsDict = {
            "workload_identity": {"enabled": True},
            "azure_key_vault_kms": {
                "enabled": True,
                "key_id": key.key_uri_with_version,
                "key_vault_network_access": "Private",
                "key_vault_resource_id": vault.id,
            },
            "image_cleaner": {"enabled": True, "interval_hours": 168},
        }
        network_profile: containerservice.ContainerServiceNetworkProfileArgsDict = {
            "network_plugin": "azure",
            "network_plugin_mode": "overlay",
            "network_dataplane": "cilium",
            "network_policy": "cilium",
            "outbound_type": "userAssignedNATGateway",
            "load_balancer_sku": "standard",
            "pod_cidr": AKS_POD_CIDR,
            "service_cidr": AKS_SERVICE_CIDR,
            "dns_service_ip": AKS_DNS_SERVICE_IP,
        }
        system_profile: containerservice.ManagedClusterAgentPoolProfileArgsDict = {
            "name": system_pool.name,
            "mode": "System",
            "type": "VirtualMachineScaleSets",
            "vm_size": system_pool.instance_type,
            "os_type": "Linux",
            "os_sku": "AzureLinux",
            "orchestrator_version": version,
            "enable_auto_scaling": autoscale,
            "count": system_pool.min_nodes,
            "node_taints": [SYSTEM_POOL_TAINT, *system_pool.taint_strings()],
            "node_labels": system_pool.labels,
            "os_disk_size_gb": system_pool.disk_size_gb,
            "max_pods": MAX_PODS,
            "vnet_subnet_id": subnet,
            "enable_node_public_ip": False,
            "security_profile": {"ssh_access": "Disabled"},
            "tags": tags,
        }
        if autoscale:
            system_profile["min_count"] = system_pool.min_nodes
            system_profile["max_count"] = system_pool.max_nodes
        cluster = containerservice.ManagedCluster(
            f"{name}-cluster",
            resource_name_=name,
            resource_group_name=resource_group,
            location=location,
            dns_prefix=name,
            kubernetes_version=version,
            sku={"name": "Base", "tier": tier.value},
            identity={
                "type": containerservice.ResourceIdentityType.USER_ASSIGNED,
                # One Output rather than a list holding one: Azure answers with a map keyed by id, and
                # a preview that echoes inputs as state (the offline engine's) cannot turn a list into it.
                "user_assigned_identities": control_plane.id.apply(lambda identity_id: [identity_id]),
            },
            identity_profile=identity_profile,
            enable_rbac=True,
            disable_local_accounts=True,
            aad_profile={
                "managed": True,
                "enable_azure_rbac": True,
                "admin_group_object_ids": list(args.get("admin_group_object_ids", ())),
            },
            api_server_access_profile=api_access,
            oidc_issuer_profile={"enabled": True},
            security_profile=security_profile,
            network_profile=network_profile,
            auto_upgrade_profile={"upgrade_channel": "patch", "node_os_upgrade_channel": "NodeImage"},
            addon_profiles={
                # Container Insights into the same workspace as the control-plane logs.
                "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": workspace.id}},
                # Secrets Store CSI driver for Key Vault, rotating mounted secrets.
                "azureKeyvaultSecretsProvider": {
                    "enabled": True,
                    "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"},
                },
            },
            auto_scaler_profile=AUTOSCALER_PROFILE if autoscale else None,
            agent_pool_profiles=[system_profile],
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=cluster_grants,
                # The autoscaler owns the node count once the cluster exists.
                ignore_changes=["agentPoolProfiles[0].count"] if autoscale else None,
            ),
        )

        agent_pools = [
            containerservice.AgentPool(
                f"{name}-pool-{pool.name}",
                agent_pool_name=pool.name,
                resource_group_name=resource_group,
                resource_name_=cluster.name,
                mode="User",
                type="VirtualMachineScaleSets",
                vm_size=pool.instance_type,
                os_type="Linux",
                # The GPU operator's driver containers are built for Ubuntu.
                os_sku="Ubuntu" if pool.is_gpu else "AzureLinux",
                orchestrator_version=version,
                enable_auto_scaling=autoscale,
                min_count=pool.min_nodes if autoscale else None,
                max_count=pool.max_nodes if autoscale else None,
                count=pool.min_nodes,
                scale_set_priority="Spot" if pool.spot else "Regular",
                scale_set_eviction_policy="Delete" if pool.spot else None,
                spot_max_price=_spot_max_price(pool),
                node_taints=[*pool.taint_strings(), SPOT_TAINT] if pool.spot else pool.taint_strings(),
                node_labels=pool.labels,
                os_disk_size_gb=pool.disk_size_gb,
                max_pods=MAX_PODS,
                vnet_subnet_id=subnet,
                enable_node_public_ip=False,
                security_profile={"ssh_access": "Disabled"},
                gpu_profile={"driver": _gpu_driver(pool, addons)} if pool.is_gpu else None,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"] if autoscale else None),
            )
            for pool in user_pools
        ]

        monitor.DiagnosticSetting(
            f"{name}-control-plane-logs",
            resource_uri=cluster.id,
            workspace_id=workspace.id,
            # Resource-specific tables (AKSAudit, AKSControlPlane...) rather than AzureDiagnostics.
            log_analytics_destination_type="Dedicated",
            logs=[{"category": category, "enabled": True} for category in AUDIT_LOG_CATEGORIES],
            opts=child,
        )
        deployer_admin = authorization.RoleAssignment(
            f"{name}-deployer-cluster-admin",
            principal_id=client.object_id,
            principal_type=deployer_type.value,
            role_definition_id=role(ROLE_AKS_RBAC_CLUSTER_ADMIN),
            scope=cluster.id,
            description="Lets the identity that runs Pulumi install the cluster add-ons",
            opts=child,
        )

        server = pulumi.Output.concat("https://", cluster.private_fqdn if private else cluster.fqdn)
        credentials = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=resource_group,
            resource_name=cluster.name,
            format="exec",
            # Waiting for the cluster keeps a preview of a new cluster from asking Azure for it.
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[cluster]),
        )
        rendered: pulumi.Output[str] = pulumi.Output.all(
            cluster.name, server, credentials.kubeconfigs.apply(certificate_authority)
        ).apply(lambda values: render_kubeconfig(values[0], values[1], values[2]))
        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(rendered)
        self.kubernetes_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            # Add-on pods need the CPU pool, and the deployer needs its role, before anything is applied.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*agent_pools, deployer_admin]),
        )
        addons_args: ClusterAddonsArgs = {"flavor": ClusterFlavor.AKS, "cluster_name": cluster.name}
        if "addons" in args:
            addons_args["addons"] = args["addons"]
        ClusterAddons(
            f"{name}-addons",
            addons_args,
            opts=pulumi.ResourceOptions(parent=self, providers=[self.kubernetes_provider]),
        )

        # Tied to the cluster's id: the issuer exists once the cluster does, so a preview of a new cluster
        # shows it as unknown rather than empty.
        issuer = pulumi.Output.all(cluster.id, cluster.oidc_issuer_profile).apply(_issuer_url)
        self.cluster_name = cluster.name
        self.endpoint = server
        self.oidc_issuer_url = issuer
        self.kubeconfig = kubeconfig
        self.gpu_pool_names = pulumi.Output.from_input([pool.name for pool in user_pools if pool.is_gpu])
        self.node_identity = kubelet.principal_id
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "oidc_issuer_url": self.oidc_issuer_url,
                "kubeconfig": self.kubeconfig,
                "gpu_pool_names": self.gpu_pool_names,
                "node_identity": self.node_identity,
            }
        )
