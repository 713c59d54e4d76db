"""GkeGpuCluster: a private, hardened regional GKE cluster whose GPU pools cost nothing when idle.

The cluster follows the GPU cluster contract (contract.py): node pools are `NodePoolSpec`s validated
against GCP's accelerator catalogue, and the outputs are `CLUSTER_OUTPUTS`. Secure by default: private
nodes and a private endpoint (or an endpoint limited to explicit CIDRs), Kubernetes secrets encrypted
with a Cloud KMS key the component owns, Workload Identity, shielded nodes, the GKE metadata server on
every pool, a node service account with only the logging, monitoring and image-pull roles, Dataplane V2,
control-plane logs and metrics, no client certificate, no legacy ABAC, deletion protection. The persistent
disk, Cloud Storage FUSE and Filestore CSI drivers are on, the last for ReadWriteMany claims.

GKE installs the NVIDIA driver and device plugin itself (`gpu_driver_installation_config`), so the
add-ons installed through `ClusterAddons` skip the GPU operator on this flavor; the cluster autoscaler is
GKE's own, with the OPTIMIZE_UTILIZATION profile so empty GPU nodes are removed quickly.
"""

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.compute.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.compute.contract import (
    AcceleratorRule,
    AddonsSpec,
    ClusterFlavor,
    NodePoolSpec,
    ResolvedPool,
    TaintEffect,
    authorized_cidrs,
    enabled_addons,
    exec_kubeconfig,
    resolve_node_pools,
)

TYPE_TOKEN = "mlopshub:index:GkeGpuCluster"

ACCELERATORS: dict[str, AcceleratorRule] = {
    "nvidia-tesla-t4": AcceleratorRule(("n1-",), max_count=4),
    "nvidia-tesla-v100": AcceleratorRule(("n1-",), max_count=8),
    "nvidia-l4": AcceleratorRule(("g2-",), max_count=8),
    "nvidia-tesla-a100": AcceleratorRule(("a2-highgpu-", "a2-megagpu-"), max_count=16),
    "nvidia-a100-80gb": AcceleratorRule(("a2-ultragpu-",), max_count=8),
    "nvidia-h100-80gb": AcceleratorRule(("a3-highgpu-",), max_count=8),
}
"""GCP accelerator type → the machine families that carry it and the most GPUs per node."""

GPU_MACHINE_PREFIXES = ("a2-", "a3-", "g2-")
"""Machine families that always come with GPUs attached: a pool of them must declare its accelerator."""

NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
"""Project roles of the node service account: Google's least-privilege set for GKE nodes, plus image pulls."""

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
"""Nodes get the broad scope and are limited by IAM roles instead, as Google recommends."""

LOGGING_COMPONENTS = ("SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS")
"""Control-plane and workload logs sent to Cloud Logging."""
MONITORING_COMPONENTS = ("SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER")
"""Metrics sent to Cloud Monitoring. Not `DCGM`: dcgm-exporter (ClusterAddons) already reads the GPUs."""

DEFAULT_MASTER_CIDR = "172.16.0.0/28"
"""The control plane's private range; must be unique among clusters peered with the same VPC."""
KEY_ROTATION_PERIOD = "7776000s"
"""90 days."""

DEFAULT_SYSTEM_POOL: NodePoolSpec = {
    "name": "system",
    "instance_type": "e2-standard-4",
    "min_nodes": 1,
    "max_nodes": 3,
    "disk_size_gb": 100,
}
"""Small on-demand CPU pool for system pods and the add-ons."""

_GKE_TAINT_EFFECT = {
    TaintEffect.NO_SCHEDULE: "NO_SCHEDULE",
    TaintEffect.PREFER_NO_SCHEDULE: "PREFER_NO_SCHEDULE",
    TaintEffect.NO_EXECUTE: "NO_EXECUTE",
}
# Fixed GPU counts of G2 machine types (A2 and A3 spell theirs in the name: a2-highgpu-4g).
_G2_GPU_COUNTS = {"4": 1, "8": 1, "12": 1, "16": 1, "32": 1, "24": 2, "48": 4, "96": 8}
# GPUs per node N1 machines accept.
_N1_GPU_COUNTS = {"nvidia-tesla-t4": (1, 2, 4), "nvidia-tesla-v100": (1, 2, 4, 8)}
_KUBERNETES_VERSION = re.compile(r"^1\.\d+(\.\d+(-gke\.\d+)?)?$")
# The name makes the node service account id (`<name>-nodes`, 30 characters at most) and the cluster's
# autoname (`<name>-cluster-<7 random>`, GKE allows 40): lowercase RFC 1035, 24 characters at most.
_CLUSTER_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,22}[a-z0-9])?$")


class ReleaseChannel(StrEnum):
    """GKE release channels: how soon the cluster gets new Kubernetes versions."""

    RAPID = "RAPID"
    REGULAR = "REGULAR"
    STABLE = "STABLE"
    EXTENDED = "EXTENDED"


class GpuDriverVersion(StrEnum):
    """Which NVIDIA driver GKE installs on GPU nodes."""

    DEFAULT = "DEFAULT"
    """The driver GKE tested with the node version."""
    LATEST = "LATEST"
    """The newest driver available for the node version (newest CUDA)."""


class GkeGpuClusterArgs(TypedDict):
    """Arguments of GkeGpuCluster."""

    project: pulumi.Input[str]
    """GCP project id the cluster, its key and its node service account live in."""
    location: pulumi.Input[str]
    """Region of the (regional) cluster, e.g. `europe-west4`; the KMS key ring lives there too."""
    kubernetes_version: str
    """Minimum control-plane version, e.g. `1.33`; the release channel upgrades from there."""
    network: pulumi.Input[str]
    """The VPC (GcpNetwork.network_id)."""
    subnetwork: pulumi.Input[str]
    """The subnetwork for nodes (GcpNetwork.subnetwork_id)."""
    pods_range_name: pulumi.Input[str]
    """Subnetwork secondary range for pods (GcpNetwork.pods_range_name)."""
    services_range_name: pulumi.Input[str]
    """Subnetwork secondary range for Services (GcpNetwork.services_range_name)."""
    node_pools: Sequence[NodePoolSpec]
    """The workload pools (GPU pools with `accelerator`); validated against ACCELERATORS."""
    release_channel: NotRequired[ReleaseChannel]
    """Release channel (default REGULAR)."""
    system_pool: NotRequired[NodePoolSpec]
    """CPU pool for system pods and add-ons (default DEFAULT_SYSTEM_POOL); at least one node."""
    authorized_cidrs: NotRequired[Sequence[str]]
    """CIDRs that may reach a public endpoint; absent or empty: the endpoint is private only."""
    master_ipv4_cidr: NotRequired[str]
    """The control plane's /28 (default DEFAULT_MASTER_CIDR)."""
    gpu_node_locations: NotRequired[Sequence[str]]
    """Zones for the GPU pools (default: every zone of the cluster); list the zones that have the GPUs."""
    gpu_driver_version: NotRequired[GpuDriverVersion]
    """NVIDIA driver GKE installs on GPU nodes (default LATEST)."""
    addons: NotRequired[AddonsSpec]
    """Add-ons to switch off (all on by default); `autoscaler` off pins every pool at its min_nodes (as on AKS)."""
    prometheus_url: NotRequired[pulumi.Input[str]]
    """Prometheus that OpenCost queries (a Managed Service for Prometheus frontend)."""
    labels: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Labels on the cluster itself (GKE copies them to its node VMs); the provider's default labels
    do not reach `resource_labels`."""


def gpu_count_problem(machine_type: str, accelerator_type: str, count: int) -> str | None:
    """Why `count` GPUs of `accelerator_type` do not fit `machine_type`, or None when they do.

    A2, A3 and G2 machine types come with a fixed number of GPUs; N1 machines take 1, 2, 4 (or 8) of them.
    """
    fixed: int | None = None
    if machine_type.startswith(("a2-", "a3-")):
        match = re.fullmatch(r"a[23]-[a-z]+gpu-(\d+)g", machine_type)
        fixed = int(match.group(1)) if match else None
    elif machine_type.startswith("g2-"):
        match = re.fullmatch(r"g2-standard-(\d+)", machine_type)
        fixed = _G2_GPU_COUNTS.get(match.group(1)) if match else None
    elif machine_type.startswith("n1-"):
        allowed = _N1_GPU_COUNTS.get(accelerator_type, ())
        if allowed and count not in allowed:
            return f"{machine_type} takes {', '.join(map(str, allowed))} x {accelerator_type}, not {count}"
        return None
    else:
        return None
    if fixed is None:
        return f"machine type {machine_type!r} is not a known GPU machine type"
    if count != fixed:
        return f"{machine_type} comes with {fixed} x {accelerator_type}; set the accelerator count to {fixed}"
    return None


def render_kubeconfig(context: str, endpoint: str, ca_certificate: str) -> str:
    """A kubeconfig that authenticates through gke-gcloud-auth-plugin (no credentials inside).

    Args:
        context: name of the cluster, context and user entries (`gke_<project>_<location>_<name>`).
        endpoint: the API server's address (host or IP) as GKE reports it.
        ca_certificate: the cluster CA, base64 PEM as GKE reports it.
    """
    exec_ = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "gke-gcloud-auth-plugin",
        "installHint": (
            "Install gke-gcloud-auth-plugin: https://cloud.google.com/kubernetes-engine/docs/"
            "how-to/cluster-access-for-kubectl#install_plugin"
        ),
        "provideClusterInfo": True,
    }
    return json.dumps(
        exec_kubeconfig(context, f"https://{endpoint}", ca_certificate, context, exec_), indent=2
    )


def _region_of(location: str) -> str:
    """The region of a location: `europe-west4` stays, `europe-west4-a` becomes `europe-west4`."""
    parts = location.split("-")
    return "-".join(parts[:2]) if len(parts) == 3 else location


def _role_slug(role: str) -> str:
    """`roles/logging.logWriter` → `logging-logwriter`, for child names."""
    return role.removeprefix("roles/").replace(".", "-").lower()


def _check_choices(name: str, args: GkeGpuClusterArgs) -> None:
    """Check the name, version, enums, control-plane range and add-ons."""
    owner = f"GkeGpuCluster {name}"
    if not _CLUSTER_NAME.match(name):
        raise ValueError(
            f"{owner}: the name {name!r} must be 1 to 24 lowercase letters, digits or hyphens, starting "
            "with a letter and not ending with a hyphen (it names the node service account and the cluster)"
        )
    version = args["kubernetes_version"]
    if not _KUBERNETES_VERSION.match(version):
        raise ValueError(
            f"{owner}: kubernetes_version {version!r} must look like 1.33, 1.33.5 or 1.33.5-gke.1080000"
        )
    channel = args.get("release_channel", ReleaseChannel.REGULAR)
    if channel not in set(ReleaseChannel):
        allowed = ", ".join(c.value for c in ReleaseChannel)
        raise ValueError(f"{owner}: release_channel {channel!r} is not one of {allowed}")
    driver = args.get("gpu_driver_version", GpuDriverVersion.LATEST)
    if driver not in set(GpuDriverVersion):
        allowed = ", ".join(d.value for d in GpuDriverVersion)
        raise ValueError(f"{owner}: gpu_driver_version {driver!r} is not one of {allowed}")
    master_cidr = args.get("master_ipv4_cidr", DEFAULT_MASTER_CIDR)
    try:
        master = ipaddress.IPv4Network(master_cidr)
    except ValueError as err:
        raise ValueError(
            f"{owner}: master_ipv4_cidr {master_cidr!r} is not an IPv4 network ({err})"
        ) from None
    if master.prefixlen != 28 or not master.is_private:
        raise ValueError(f"{owner}: master_ipv4_cidr {master_cidr} must be a private /28")
    try:
        enabled_addons(args.get("addons"))
    except ValueError as err:
        raise ValueError(f"{owner}: {err}") from None


def _pool_problem(pool: ResolvedPool) -> str | None:
    """What GKE would reject in a pool the contract accepts, or None."""
    if pool.accelerator_type is None:
        if pool.instance_type.startswith(GPU_MACHINE_PREFIXES):
            return f"machine type {pool.instance_type} comes with GPUs; declare its accelerator"
        return None
    return gpu_count_problem(pool.instance_type, pool.accelerator_type, pool.accelerator_count)


def _pool_autoscaling(
    pool: ResolvedPool, autoscale: bool
) -> gcp.container.NodePoolAutoscalingArgsDict | None:
    """Autoscaling of a pool: totals across the region's zones, as the contract means min/max.

    With the autoscaler off a pool is pinned at min_nodes. GKE's fixed `node_count` is per zone and cannot
    express a total, so a pinned pool is one whose total minimum equals its maximum; an empty one has
    no autoscaling and `node_count` 0 (autoscaling needs a maximum of one node or more).
    """
    if not autoscale and pool.min_nodes == 0:
        return None
    return {
        "total_min_node_count": pool.min_nodes,
        "total_max_node_count": pool.max_nodes if autoscale else pool.min_nodes,
        # GPUs (and spot capacity) are scarce: take whichever zone has them.
        "location_policy": "ANY" if pool.is_gpu or pool.spot else "BALANCED",
    }


def _validate(
    name: str, args: GkeGpuClusterArgs
) -> tuple[ResolvedPool, list[ResolvedPool], list[str] | None]:
    """Check every plain argument; returns the system pool, the workload pools and the authorized CIDRs."""
    owner = f"GkeGpuCluster {name}"
    _check_choices(name, args)
    system_spec = args.get("system_pool", DEFAULT_SYSTEM_POOL)
    system, *pools = resolve_node_pools(owner, [system_spec, *args["node_pools"]], ACCELERATORS)
    if system.is_gpu or system.min_nodes < 1:
        raise ValueError(f"{owner}: system pool {system.name!r} must be a CPU pool with min_nodes 1 or more")
    for pool in (system, *pools):
        problem = _pool_problem(pool)
        if problem:
            raise ValueError(f"{owner}: node pool {pool.name!r}: {problem}")
    cidrs = args.get("authorized_cidrs")
    authorized = authorized_cidrs(owner, cidrs) if cidrs else None
    return system, pools, authorized


class GkeGpuCluster(pulumi.ComponentResource):
    """A private regional GKE cluster with a system pool, scale-to-zero GPU pools and the ML add-ons."""

    cluster_name: pulumi.Output[str]
    """The GKE cluster's name."""
    endpoint: pulumi.Output[str]
    """API server URL (`https://<address>`); a private address unless authorized CIDRs were given."""
    oidc_issuer_url: pulumi.Output[str]
    """The cluster's OIDC issuer (`https://container.googleapis.com/v1/projects/<p>/locations/<l>/clusters/<n>`)."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (secret) that authenticates through gke-gcloud-auth-plugin."""
    gpu_pool_names: pulumi.Output[list[str]]
    """Names of the node pools that carry GPUs (the contract's names, which GKE uses too), in the order given."""
    node_identity: pulumi.Output[str]
    """Email of the service account the nodes run as."""
    kubernetes_provider: k8s.Provider
    """Kubernetes provider for this cluster (not registered as an output): pass it to in-cluster components."""
    workload_pool: pulumi.Output[str]
    """Workload Identity pool (`<project>.svc.id.goog`), not registered: for GcpWorkloadIdentity."""

    def __init__(
        self, name: str, args: GkeGpuClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        system_pool, workload_pools, authorized_cidrs = _validate(name, args)
        project = args["project"]
        location = args["location"]
        channel = ReleaseChannel(args.get("release_channel", ReleaseChannel.REGULAR))
        driver = GpuDriverVersion(args.get("gpu_driver_version", GpuDriverVersion.LATEST))
        gpu_locations = list(args.get("gpu_node_locations", ()))
        autoscale = "autoscaler" in enabled_addons(args.get("addons"))
        child = pulumi.ResourceOptions(parent=self)

        project_number = gcp.organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOptions(parent=self)
        ).number

        # The node service account: never the default compute account (Editor on the whole project).
        nodes_account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            project=project,
            account_id=f"{name}-nodes",
            display_name=f"GKE nodes of {name}",
            description="Least-privilege identity of the cluster's nodes: logs, metrics, image pulls",
            opts=child,
        )
        node_grants = [
            gcp.projects.IAMMember(
                f"{name}-nodes-{_role_slug(role)}",
                project=project,
                role=role,
                member=nodes_account.member,
                opts=child,
            )
            for role in NODE_ROLES
        ]

        key_ring = gcp.kms.KeyRing(
            f"{name}-keyring",
            project=project,
            location=pulumi.Output.from_input(location).apply(_region_of),
            opts=child,
        )
        secrets_key = gcp.kms.CryptoKey(
            f"{name}-secrets-key",
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=KEY_ROTATION_PERIOD,
            opts=child,
        )
        # GKE encrypts Secrets as its service agent; the cluster cannot be created before it may use the key.
        key_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-key-gke",
            crypto_key_id=secrets_key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=pulumi.Output.concat(
                "serviceAccount:service-", project_number, "@container-engine-robot.iam.gserviceaccount.com"
            ),
            opts=child,
        )

        private_endpoint = authorized_cidrs is None
        shielded: gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgsDict = {
            "enable_secure_boot": True,
            "enable_integrity_monitoring": True,
        }
        legacy_metadata_off = {"disable-legacy-endpoints": "true"}
        workload_pool = pulumi.Output.concat(project, ".svc.id.goog")
        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            project=project,
            location=location,
            description=f"GPU cluster {name}",
            network=args["network"],
            subnetwork=args["subnetwork"],
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={
                "cluster_secondary_range_name": args["pods_range_name"],
                "services_secondary_range_name": args["services_range_name"],
                "stack_type": "IPV4",
            },
            # Node pools are separate resources; the default pool only exists while the cluster is created.
            remove_default_node_pool=True,
            initial_node_count=1,
            # That transient default pool still boots nodes: give them the node identity and hardening too.
            node_config={
                "service_account": nodes_account.email,
                "oauth_scopes": [CLOUD_PLATFORM_SCOPE],
                "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
                "workload_metadata_config": {"mode": "GKE_METADATA"},
                "metadata": legacy_metadata_off,
            },
            release_channel={"channel": channel.value},
            min_master_version=args["kubernetes_version"],
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": private_endpoint,
                "master_ipv4_cidr_block": args.get("master_ipv4_cidr", DEFAULT_MASTER_CIDR),
                "master_global_access_config": {"enabled": False},
            },
            master_authorized_networks_config={
                "cidr_blocks": [
                    {"cidr_block": cidr, "display_name": f"authorized-{i}"}
                    for i, cidr in enumerate(authorized_cidrs or ())
                ],
                "gcp_public_cidrs_access_enabled": False,
            },
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            enable_legacy_abac=False,
            enable_shielded_nodes=True,
            workload_identity_config={"workload_pool": workload_pool},
            database_encryption={"state": "ENCRYPTED", "key_name": secrets_key.id},
            # Dataplane V2 enforces NetworkPolicy itself; the Calico `network_policy` block must stay unset.
            datapath_provider="ADVANCED_DATAPATH",
            logging_config={"enable_components": list(LOGGING_COMPONENTS)},
            monitoring_config={
                "enable_components": list(MONITORING_COMPONENTS),
                "managed_prometheus": {"enabled": True},
            },
            # Node auto-provisioning stays off: only the declared pools exist. The profile makes the
            # autoscaler remove empty (GPU) nodes promptly instead of keeping headroom.
            cluster_autoscaling={"enabled": False, "autoscaling_profile": "OPTIMIZE_UTILIZATION"},
            security_posture_config={"mode": "BASIC"},
            # Pod-to-pod traffic on one node goes through the VPC, so flow logs and firewall rules see it.
            enable_intranode_visibility=True,
            # Only images the project's Binary Authorization policy admits can run.
            binary_authorization={"evaluation_mode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
            resource_labels=args.get("labels"),
            cost_management_config={"enabled": True},
            addons_config={
                "gce_persistent_disk_csi_driver_config": {"enabled": True},
                "gcs_fuse_csi_driver_config": {"enabled": True},
                # ReadWriteMany volumes (Filestore); costs nothing until a claim provisions an instance.
                "gcp_filestore_csi_driver_config": {"enabled": True},
            },
            deletion_protection=True,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[key_grant],
                # GKE reports the first remaining pool's config here once the default pool is gone;
                # without this every update would plan a replacement of the cluster.
                ignore_changes=["nodeConfig"],
            ),
        )

        def node_pool(pool: ResolvedPool) -> gcp.container.NodePool:
            node_config: gcp.container.NodePoolNodeConfigArgsDict = {
                "service_account": nodes_account.email,
                "oauth_scopes": [CLOUD_PLATFORM_SCOPE],
                "shielded_instance_config": shielded,
                "workload_metadata_config": {"mode": "GKE_METADATA"},
                "metadata": legacy_metadata_off,
                "machine_type": pool.instance_type,
                "disk_size_gb": pool.disk_size_gb,
                "disk_type": "pd-balanced",
                "image_type": "COS_CONTAINERD",
                "spot": pool.spot,
                "labels": pool.labels,
                "taints": [
                    {
                        "key": t["key"],
                        "value": t["value"],
                        "effect": _GKE_TAINT_EFFECT[TaintEffect(t["effect"])],
                    }
                    for t in pool.taints
                ],
                "gvnic": {"enabled": True},
            }
            if pool.is_gpu:
                node_config["guest_accelerators"] = [
                    {
                        "type": pool.accelerator_type or "",
                        "count": pool.accelerator_count,
                        "gpu_driver_installation_config": {"gpu_driver_version": driver.value},
                    }
                ]
            return gcp.container.NodePool(
                f"{name}-pool-{pool.name}",
                # The contract's pool name (12 characters at most) rather than an autoname, which could pass
                # GKE's 40; it also becomes the `cloud.google.com/gke-nodepool` label workloads can select.
                name=pool.name,
                project=project,
                location=location,
                cluster=cluster.id,
                node_locations=gpu_locations if pool.is_gpu and gpu_locations else None,
                autoscaling=_pool_autoscaling(pool, autoscale),
                node_count=0 if not autoscale and pool.min_nodes == 0 else None,
                management={"auto_repair": True, "auto_upgrade": True},
                # A surge node would need GPU quota beyond max_nodes; GPU pools upgrade one node at a time.
                upgrade_settings={"strategy": "SURGE", "max_surge": 0, "max_unavailable": 1}
                if pool.is_gpu
                else {"strategy": "SURGE", "max_surge": 1, "max_unavailable": 0},
                node_config=node_config,
                # A fixed name cannot exist twice: a replacement must delete the old pool first.
                opts=pulumi.ResourceOptions(parent=self, depends_on=node_grants, delete_before_replace=True),
            )

        system_nodes = node_pool(system_pool)
        gpu_pools = []
        for pool in workload_pools:
            created = node_pool(pool)
            if pool.is_gpu:
                gpu_pools.append(created)

        context = pulumi.Output.concat("gke_", project, "_", location, "_", cluster.name)
        ca_certificate = cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate or "")
        kubeconfig: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.all(context, cluster.endpoint, ca_certificate).apply(
                lambda v: render_kubeconfig(*v)
            )
        )
        # The add-ons need a node to run on: everything through this provider waits for the system pool.
        kubernetes_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[system_nodes]),
        )
        addons_args: ClusterAddonsArgs = {"flavor": ClusterFlavor.GKE, "cluster_name": cluster.name}
        if "addons" in args:
            addons_args["addons"] = args["addons"]
        if "prometheus_url" in args:
            addons_args["prometheus_url"] = args["prometheus_url"]
        ClusterAddons(
            f"{name}-addons",
            addons_args,
            opts=pulumi.ResourceOptions(parent=self, providers=[kubernetes_provider]),
        )

        self.cluster_name = cluster.name
        self.endpoint = pulumi.Output.concat("https://", cluster.endpoint)
        self.oidc_issuer_url = pulumi.Output.concat(
            "https://container.googleapis.com/v1/projects/",
            project,
            "/locations/",
            location,
            "/clusters/",
            cluster.name,
        )
        self.kubeconfig = kubeconfig
        self.gpu_pool_names = (
            pulumi.Output.all(*[p.name for p in gpu_pools]) if gpu_pools else pulumi.Output.from_input([])
        )
        self.node_identity = nodes_account.email
        self.kubernetes_provider = kubernetes_provider
        self.workload_pool = workload_pool
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
