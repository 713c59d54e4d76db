"""The GPU cluster contract: one node-pool spec and one output surface for EKS, AKS and GKE.

`EksGpuCluster`, `AksGpuCluster` and `GkeGpuCluster` take the same `NodePoolSpec`s, validate them with
`resolve_node_pools` (each against its cloud's accelerator catalogue) and expose the outputs named in
`CLUSTER_OUTPUTS`, so a program can pick a cloud with a `match` and use the result the same way.
"""

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NotRequired, Protocol, TypedDict

import pulumi


class ClusterFlavor(StrEnum):
    """Which managed Kubernetes a cluster is; decides cloud-specific add-on settings."""

    EKS = "eks"
    AKS = "aks"
    GKE = "gke"


class TaintEffect(StrEnum):
    """Kubernetes taint effects."""

    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class NodeTaint(TypedDict):
    """A taint put on every node of a pool."""

    key: str
    """Taint key, e.g. `nvidia.com/gpu`."""
    value: str
    """Taint value, e.g. `present`."""
    effect: TaintEffect
    """What the taint does to pods that do not tolerate it."""


class AcceleratorSpec(TypedDict):
    """The GPUs on each node of a pool."""

    type: str
    """Accelerator name as the cloud spells it (`nvidia-a10g` on AWS, `nvidia-l4` on GCP...)."""
    count: int
    """GPUs per node, at least 1."""


class NodePoolSpec(TypedDict):
    """One node pool, the same on every cloud."""

    name: str
    """Lowercase letters and digits, starting with a letter, at most 12 characters (AKS's rule)."""
    instance_type: str
    """Instance type (AWS), VM size (Azure) or machine type (GCP)."""
    min_nodes: int
    """Fewest nodes across all zones; 0 lets the pool cost nothing when idle."""
    max_nodes: int
    """Most nodes across all zones, at least 1 and at least `min_nodes`."""
    accelerator: NotRequired[AcceleratorSpec]
    """The GPUs per node; absent for a CPU pool."""
    spot: NotRequired[bool]
    """Spot/preemptible capacity (default False)."""
    taints: NotRequired[Sequence[NodeTaint]]
    """Extra taints; GPU pools always get GPU_TAINT."""
    labels: NotRequired[Mapping[str, str]]
    """Extra node labels."""
    disk_size_gb: NotRequired[int]
    """OS disk size in GiB (default 100, at least 20)."""


class AddonsSpec(TypedDict, total=False):
    """Which cluster add-ons to install; each defaults to on."""

    gpu_operator: bool
    """NVIDIA GPU operator (EKS, AKS); GKE installs drivers and the device plugin itself."""
    dcgm_exporter: bool
    """dcgm-exporter with the health counters enabled (DCGM_COUNTERS_CSV)."""
    autoscaler: bool
    """Node autoscaling that takes GPU pools to and from zero: Karpenter on EKS, the managed cluster
    autoscaler on AKS and GKE. Off, every pool is held at `min_nodes`."""
    kuberay: bool
    """The KubeRay operator."""
    opencost: bool
    """OpenCost, for cost per namespace/label."""


ADDONS = ("gpu_operator", "dcgm_exporter", "autoscaler", "kuberay", "opencost")
"""Every add-on key of AddonsSpec."""

GPU_TAINT: NodeTaint = {"key": "nvidia.com/gpu", "value": "present", "effect": TaintEffect.NO_SCHEDULE}
"""Keeps everything but GPU workloads (which tolerate it) off GPU nodes."""
POOL_LABEL = "mlops-hub.io/pool"
"""Node label naming the pool a node belongs to."""
ACCELERATOR_LABEL = "mlops-hub.io/accelerator"
"""Node label naming the accelerator on GPU nodes."""

CLUSTER_OUTPUTS = (
    "cluster_name",
    "endpoint",
    "oidc_issuer_url",
    "kubeconfig",
    "gpu_pool_names",
    "node_identity",
)
"""Outputs every GPU cluster registers, under these names: the contract's surface.

- cluster_name: the cloud's name for the cluster.
- endpoint: API server URL (private unless authorized CIDRs were given).
- oidc_issuer_url: the cluster's OIDC issuer, for workload identity federation.
- kubeconfig: a kubeconfig (secret) that authenticates through the cloud's CLI plugin.
- gpu_pool_names: names of the pools that carry accelerators.
- node_identity: the identity the always-on nodes run as (IAM role ARN, kubelet managed identity, node
  service account email). On EKS, nodes Karpenter launches use a second role of their own.
"""


class GpuCluster(Protocol):
    """What a program can rely on from any of EksGpuCluster, AksGpuCluster and GkeGpuCluster."""

    @property
    def cluster_name(self) -> pulumi.Output[str]: ...
    @property
    def endpoint(self) -> pulumi.Output[str]: ...
    @property
    def oidc_issuer_url(self) -> pulumi.Output[str]: ...
    @property
    def kubeconfig(self) -> pulumi.Output[str]: ...
    @property
    def gpu_pool_names(self) -> pulumi.Output[list[str]]: ...
    @property
    def node_identity(self) -> pulumi.Output[str]: ...
    @property
    def kubernetes_provider(self) -> pulumi.ProviderResource: ...


_POOL_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")


@dataclass(frozen=True, slots=True)
class AcceleratorRule:
    """What a cloud accepts for one accelerator type."""

    instance_prefixes: tuple[str, ...]
    """Instance types (VM sizes, machine types) that carry this accelerator start with one of these."""
    max_count: int = 8
    """Most accelerators per node."""


@dataclass(frozen=True, slots=True)
class ResolvedPool:
    """A validated node pool with its defaults, GPU taint and labels filled in."""

    name: str
    instance_type: str
    min_nodes: int
    max_nodes: int
    spot: bool
    disk_size_gb: int
    accelerator_type: str | None
    accelerator_count: int
    taints: tuple[NodeTaint, ...]
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_gpu(self) -> bool:
        """Whether the pool's nodes carry accelerators."""
        return self.accelerator_type is not None

    def taint_strings(self) -> list[str]:
        """Taints as `key=value:Effect` (the AKS and kubectl spelling)."""
        return [f"{t['key']}={t['value']}:{TaintEffect(t['effect']).value}" for t in self.taints]


def resolve_node_pools(
    owner: str, pools: Sequence[NodePoolSpec], catalogue: Mapping[str, AcceleratorRule]
) -> list[ResolvedPool]:
    """Validate node pools against the contract and a cloud's accelerator catalogue.

    Args:
        owner: `"<Component> <name>"`, put at the start of every error.
        pools: the pools as given.
        catalogue: accelerator type → rule, for this cloud.

    Raises:
        ValueError: one line naming the pool, the bad value and what is allowed.
    """
    resolved = []
    seen: set[str] = set()
    for index, pool in enumerate(pools):
        where = f"{owner}: node pool {pool.get('name', index)!r}"
        name = pool["name"]
        if not _POOL_NAME.match(name):
            raise ValueError(
                f"{where}: name must be lowercase letters and digits, starting with a letter, 12 at most"
            )
        if name in seen:
            raise ValueError(f"{where}: name is used by another pool; pool names must be unique")
        seen.add(name)
        if pool["min_nodes"] < 0 or pool["max_nodes"] < 1:
            raise ValueError(f"{where}: min_nodes must be 0 or more and max_nodes 1 or more")
        if pool["min_nodes"] > pool["max_nodes"]:
            raise ValueError(
                f"{where}: min_nodes ({pool['min_nodes']}) is greater than max_nodes ({pool['max_nodes']})"
            )
        disk = pool.get("disk_size_gb", 100)
        if disk < 20:
            raise ValueError(f"{where}: disk_size_gb {disk} is below the 20 GiB minimum")
        taints = list(pool.get("taints", ()))
        effects = {e.value for e in TaintEffect}
        for taint in taints:
            if taint["effect"] not in effects:
                raise ValueError(
                    f"{where}: taint {taint['key']} has effect {taint['effect']!r}; allowed: {', '.join(sorted(effects))}"
                )
        labels = {POOL_LABEL: name, **pool.get("labels", {})}
        accelerator_type, count = _check_accelerator(where, pool, catalogue, taints, labels)
        resolved.append(
            ResolvedPool(
                name=name,
                instance_type=pool["instance_type"],
                min_nodes=pool["min_nodes"],
                max_nodes=pool["max_nodes"],
                spot=pool.get("spot", False),
                disk_size_gb=disk,
                accelerator_type=accelerator_type,
                accelerator_count=count,
                taints=tuple(taints),
                labels=labels,
            )
        )
    return resolved


def _check_accelerator(
    where: str,
    pool: NodePoolSpec,
    catalogue: Mapping[str, AcceleratorRule],
    taints: list[NodeTaint],
    labels: dict[str, str],
) -> tuple[str | None, int]:
    """Validate a pool's accelerator; for GPU pools add the GPU taint and accelerator label in place."""
    accelerator = pool.get("accelerator")
    if accelerator is None:
        return None, 0
    accelerator_type, count = accelerator["type"], accelerator["count"]
    rule = catalogue.get(accelerator_type)
    if rule is None:
        raise ValueError(
            f"{where}: accelerator {accelerator_type!r} is not known on this cloud; allowed: {', '.join(sorted(catalogue))}"
        )
    if not 1 <= count <= rule.max_count:
        raise ValueError(
            f"{where}: accelerator count {count} must be from 1 to {rule.max_count} on a GPU pool"
        )
    if not pool["instance_type"].startswith(rule.instance_prefixes):
        raise ValueError(
            f"{where}: instance type {pool['instance_type']!r} does not carry {accelerator_type}; "
            f"use one starting with {', '.join(rule.instance_prefixes)}"
        )
    conflicting = [t for t in taints if t["key"] == GPU_TAINT["key"] and t != GPU_TAINT]
    if conflicting:
        taint = conflicting[0]
        raise ValueError(
            f"{where}: taint {taint['key']}={taint['value']}:{taint['effect']} would replace the GPU taint "
            "nvidia.com/gpu=present:NoSchedule that GPU pools always carry"
        )
    if GPU_TAINT not in taints:
        taints.append(GPU_TAINT)
    labels[ACCELERATOR_LABEL] = accelerator_type
    return accelerator_type, count


def authorized_cidrs(owner: str, cidrs: Sequence[str]) -> list[str]:
    """The public API endpoint's allow-list in canonical form: real networks, none the whole internet.

    Raises:
        ValueError: naming the bad entry.
    """
    checked = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(cidr)
        except ValueError as err:
            raise ValueError(f"{owner}: authorized_cidrs entry {cidr!r} is not a network ({err})") from None
        if network.prefixlen == 0:
            raise ValueError(
                f"{owner}: authorized_cidrs entry {cidr} opens the API endpoint to the whole internet; "
                "list the networks of your operators and CI, or leave authorized_cidrs empty for a private endpoint"
            )
        checked.append(str(network))
    return checked


def exec_kubeconfig(
    cluster_name: Any, server: Any, certificate_authority: Any, user: Any, exec_: Any
) -> dict[str, Any]:
    """A kubeconfig with one cluster, context and user that authenticates through an exec plugin.

    No credential is ever written into it: the plugin (`aws eks get-token`, `kubelogin`,
    `gke-gcloud-auth-plugin`) gets a short-lived token from the caller's own cloud identity. Values may be
    Pulumi inputs; compose the result with `Output.json_dumps`.
    """
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server, "certificate-authority-data": certificate_authority},
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "users": [{"name": user, "user": {"exec": exec_}}],
    }


def enabled_addons(addons: AddonsSpec | None) -> frozenset[str]:
    """The add-ons switched on (every add-on unless switched off)."""
    given = dict(addons or {})
    unknown = set(given) - set(ADDONS)
    if unknown:
        raise ValueError(f"unknown add-on {', '.join(sorted(unknown))}; allowed: {', '.join(ADDONS)}")
    return frozenset(name for name in ADDONS if given.get(name, True))
