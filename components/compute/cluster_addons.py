"""ClusterAddons: the cloud-neutral add-ons of a GPU cluster, as pinned Helm releases.

The NVIDIA GPU operator (EKS and AKS; GKE installs drivers and the device plugin itself), dcgm-exporter
with a counters file that also turns on the GPU health counters dcgm-exporter leaves off by default, the
KubeRay operator and OpenCost. Node autoscaling is cloud-specific and lives in each cluster component.
Every release goes through the Kubernetes provider the cluster passes in `opts`.
"""

from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.compute.contract import (
    ACCELERATOR_LABEL,
    GPU_TAINT,
    AddonsSpec,
    ClusterFlavor,
    enabled_addons,
)

TYPE_TOKEN = "mlopshub:index:ClusterAddons"


class Chart(TypedDict):
    """A pinned Helm chart."""

    chart: str
    version: str
    repo: str


# Pinned chart versions. Bump deliberately: each bump is a change to every cluster.
CHARTS: dict[str, Chart] = {
    "gpu_operator": {
        "chart": "gpu-operator",
        "version": "v25.10.1",
        "repo": "https://helm.ngc.nvidia.com/nvidia",
    },
    "dcgm_exporter": {
        "chart": "dcgm-exporter",
        "version": "4.1.1",
        "repo": "https://nvidia.github.io/dcgm-exporter/helm-charts",
    },
    "kuberay": {
        "chart": "kuberay-operator",
        "version": "1.3.2",
        "repo": "https://ray-project.github.io/kuberay-helm",
    },
    "opencost": {
        "chart": "opencost",
        "version": "1.42.0",
        "repo": "https://opencost.github.io/opencost-helm-chart",
    },
}

DCGM_COUNTERS_CSV = """\
# Format: DCGM field, Prometheus type, help. dcgm-exporter's defaults, plus the health counters it
# leaves off (ECC, retired pages, XID count, health status, throttling violations, NVLink errors).
DCGM_FI_DEV_SM_CLOCK, gauge, SM clock frequency (in MHz).
DCGM_FI_DEV_MEM_CLOCK, gauge, Memory clock frequency (in MHz).
DCGM_FI_DEV_GPU_TEMP, gauge, GPU temperature (in C).
DCGM_FI_DEV_MEMORY_TEMP, gauge, Memory temperature (in C).
DCGM_FI_DEV_POWER_USAGE, gauge, Power draw (in W).
DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION, counter, Total energy consumption since boot (in mJ).
DCGM_FI_DEV_GPU_UTIL, gauge, GPU utilization (in %).
DCGM_FI_DEV_MEM_COPY_UTIL, gauge, Memory utilization (in %).
DCGM_FI_DEV_FB_FREE, gauge, Framebuffer memory free (in MiB).
DCGM_FI_DEV_FB_USED, gauge, Framebuffer memory used (in MiB).
DCGM_FI_DEV_XID_ERRORS, gauge, Value of the last XID error encountered.
DCGM_FI_DEV_PCIE_REPLAY_COUNTER, counter, Total number of PCIe retries.
DCGM_FI_DEV_ECC_SBE_VOL_TOTAL, counter, Single-bit volatile ECC errors.
DCGM_FI_DEV_ECC_DBE_VOL_TOTAL, counter, Double-bit volatile ECC errors.
DCGM_FI_DEV_ECC_SBE_AGG_TOTAL, counter, Single-bit persistent ECC errors.
DCGM_FI_DEV_ECC_DBE_AGG_TOTAL, counter, Double-bit persistent ECC errors.
DCGM_FI_DEV_RETIRED_SBE, counter, Pages retired for single-bit errors.
DCGM_FI_DEV_RETIRED_DBE, counter, Pages retired for double-bit errors.
DCGM_FI_DEV_RETIRED_PENDING, counter, Pages pending retirement.
DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS, counter, Rows remapped for uncorrectable errors.
DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS, counter, Rows remapped for correctable errors.
DCGM_FI_DEV_ROW_REMAP_FAILURE, gauge, Whether remapping of rows has failed.
DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL, counter, NVLink flow-control CRC errors.
DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL, counter, NVLink data CRC errors.
DCGM_FI_DEV_POWER_VIOLATION, counter, Throttling duration due to power constraints (in us).
DCGM_FI_DEV_THERMAL_VIOLATION, counter, Throttling duration due to thermal constraints (in us).
DCGM_FI_DEV_SYNC_BOOST_VIOLATION, counter, Throttling duration due to sync-boost constraints (in us).
DCGM_FI_DEV_BOARD_LIMIT_VIOLATION, counter, Throttling duration due to board limit constraints (in us).
DCGM_FI_DEV_LOW_UTIL_VIOLATION, counter, Throttling duration due to low utilization (in us).
DCGM_FI_DEV_RELIABILITY_VIOLATION, counter, Throttling duration due to reliability constraints (in us).
DCGM_FI_DEV_CLOCK_THROTTLE_REASONS, gauge, Current clock throttle reasons (bitmask).
DCGM_FI_PROF_GR_ENGINE_ACTIVE, gauge, Ratio of time the graphics engine is active.
DCGM_FI_PROF_SM_ACTIVE, gauge, Ratio of cycles an SM has at least one warp assigned.
DCGM_FI_PROF_PIPE_TENSOR_ACTIVE, gauge, Ratio of cycles the tensor pipe is active.
DCGM_FI_PROF_DRAM_ACTIVE, gauge, Ratio of cycles the device memory interface is active.
DCGM_EXP_XID_ERRORS_COUNT, gauge, Count of XID errors within the collection interval.
DCGM_EXP_GPU_HEALTH_STATUS, gauge, GPU health status (0 healthy).
DCGM_EXP_CLOCK_EVENTS_COUNT, gauge, Count of clock events within the collection interval.
"""

_COUNTERS_DIR = "/etc/dcgm-exporter/mlops-hub"
_GPU_TOLERATION = {"key": GPU_TAINT["key"], "operator": "Exists", "effect": GPU_TAINT["effect"].value}
# AKS taints every Spot node with this; GPU daemonsets must run on Spot GPU nodes too.
_AKS_SPOT_TOLERATION = {
    "key": "kubernetes.azure.com/scalesetpriority",
    "operator": "Equal",
    "value": "spot",
    "effect": "NoSchedule",
}


def gpu_tolerations(flavor: ClusterFlavor) -> list[dict[str, str]]:
    """Tolerations GPU daemonsets need on `flavor` (the GPU taint, plus AKS's Spot taint)."""
    return [_GPU_TOLERATION, _AKS_SPOT_TOLERATION] if flavor is ClusterFlavor.AKS else [_GPU_TOLERATION]


class ClusterAddonsArgs(TypedDict):
    """Arguments of ClusterAddons."""

    flavor: ClusterFlavor
    """The managed Kubernetes underneath; decides driver handling."""
    cluster_name: pulumi.Input[str]
    """The cluster's name, reported by OpenCost as its cluster id."""
    addons: NotRequired[AddonsSpec]
    """Add-ons to switch off (all on by default); `autoscaler` is handled by the cluster itself."""
    prometheus_url: NotRequired[pulumi.Input[str]]
    """Prometheus that OpenCost queries (a managed one: AMP, Managed Prometheus, Azure Monitor)."""


def gpu_operator_values(flavor: ClusterFlavor) -> dict[str, Any]:
    """GPU operator values per cloud: who installs the driver and the container toolkit."""
    values: dict[str, Any] = {
        # dcgm-exporter is installed on its own (below), with our counters, on every cloud alike.
        "dcgmExporter": {"enabled": False},
        "daemonsets": {"tolerations": gpu_tolerations(flavor)},
        "node-feature-discovery": {"worker": {"tolerations": gpu_tolerations(flavor)}},
    }
    if flavor is ClusterFlavor.EKS:
        # The EKS AL2023 NVIDIA AMI ships the driver and the container toolkit.
        values |= {"driver": {"enabled": False}, "toolkit": {"enabled": False}}
    return values


def dcgm_exporter_values(flavor: ClusterFlavor, config_map: str) -> dict[str, Any]:
    """dcgm-exporter values: our counters file, GPU nodes only, bounded resources."""
    values: dict[str, Any] = {
        "arguments": ["-f", f"{_COUNTERS_DIR}/counters.csv"],
        "extraConfigMapVolumes": [{"name": "mlops-hub-counters", "configMap": {"name": config_map}}],
        "extraVolumeMounts": [{"name": "mlops-hub-counters", "mountPath": _COUNTERS_DIR, "readOnly": True}],
        "tolerations": gpu_tolerations(flavor),
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": ACCELERATOR_LABEL, "operator": "Exists"}]}
                    ]
                }
            }
        },
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "serviceMonitor": {"enabled": False},
    }
    if flavor is ClusterFlavor.GKE:
        # GKE installs the driver under /home/kubernetes/bin/nvidia, not where the image looks.
        values["extraHostVolumes"] = [
            {"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"}
        ]
        values["extraVolumeMounts"].append(
            {"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia"}
        )
    return values


class ClusterAddons(pulumi.ComponentResource):
    """GPU operator, dcgm-exporter (with health counters), KubeRay and OpenCost on one cluster."""

    release_names: pulumi.Output[list[str]]
    """Names of the Helm releases installed."""

    def __init__(
        self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        flavor = ClusterFlavor(args["flavor"])
        enabled = enabled_addons(args.get("addons"))
        child = pulumi.ResourceOptions(parent=self)
        releases: list[k8s.helm.v3.Release] = []

        def namespace(role: str, privileged: bool = False) -> k8s.core.v1.Namespace:
            level = "privileged" if privileged else "restricted"
            return k8s.core.v1.Namespace(
                f"{name}-{role}-ns",
                metadata={
                    "name": role,
                    "labels": {
                        "pod-security.kubernetes.io/enforce": level,
                        "app.kubernetes.io/managed-by": "pulumi",
                    },
                },
                opts=child,
            )

        def release(
            key: str, ns: k8s.core.v1.Namespace, values: pulumi.Input[dict[str, Any]]
        ) -> k8s.helm.v3.Release:
            chart = CHARTS[key]
            created = k8s.helm.v3.Release(
                f"{name}-{chart['chart']}",
                name=chart["chart"],
                chart=chart["chart"],
                version=chart["version"],
                repository_opts={"repo": chart["repo"]},
                namespace=ns.metadata["name"],
                values=values,
                atomic=True,
                cleanup_on_fail=True,
                timeout=900,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
            )
            releases.append(created)
            return created

        gpu_ns = None
        if {"gpu_operator", "dcgm_exporter"} & enabled:
            # Device plugins and exporters read host devices: this namespace alone is privileged.
            gpu_ns = namespace("gpu-operator", privileged=True)
        if "gpu_operator" in enabled and flavor is not ClusterFlavor.GKE:
            release("gpu_operator", gpu_ns, gpu_operator_values(flavor))  # type: ignore[arg-type]
        if "dcgm_exporter" in enabled:
            assert gpu_ns is not None
            counters = k8s.core.v1.ConfigMap(
                f"{name}-dcgm-counters",
                metadata={"name": "mlops-hub-dcgm-counters", "namespace": gpu_ns.metadata["name"]},
                data={"counters.csv": DCGM_COUNTERS_CSV},
                opts=child,
            )
            release(
                "dcgm_exporter",
                gpu_ns,
                counters.metadata["name"].apply(lambda cm: dcgm_exporter_values(flavor, cm)),
            )
        if "kuberay" in enabled:
            release(
                "kuberay",
                namespace("kuberay"),
                {
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "256Mi"},
                        "limits": {"memory": "512Mi"},
                    }
                },
            )
        if "opencost" in enabled:
            opencost_values = pulumi.Output.all(args["cluster_name"], args.get("prometheus_url", "")).apply(
                lambda values: {
                    "opencost": {
                        "exporter": {"defaultClusterId": values[0]},
                        "prometheus": {"external": {"enabled": bool(values[1]), "url": values[1]}}
                        if values[1]
                        else {},
                        "ui": {"enabled": False},
                    }
                }
            )
            release("opencost", namespace("opencost"), opencost_values)

        self.release_names = (
            pulumi.Output.all(*[r.name for r in releases]) if releases else pulumi.Output.from_input([])
        )
        self.register_outputs({"release_names": self.release_names})
