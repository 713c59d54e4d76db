"""ClusterAddons: pinned releases per cloud, health counters on, switches honoured, everything parented."""

from collections.abc import Callable
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.compute.cluster_addons import CHARTS, DCGM_COUNTERS_CSV, TYPE_TOKEN, ClusterAddons
from components.compute.contract import ADDONS, AddonsSpec, ClusterFlavor, enabled_addons
from scripts.hub.offline.engine import RecordedResource, RunResult

RELEASE = "kubernetes:helm.sh/v3:Release"


class Recorder(Protocol):
    resources: list[RecordedResource]

    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...


def addons_program(flavor: ClusterFlavor, addons: AddonsSpec | None = None) -> Callable[[], None]:
    def body() -> None:
        provider = k8s.Provider("k8s", kubeconfig="{}")
        args: Any = {"flavor": flavor, "cluster_name": "c1", "prometheus_url": "http://prometheus:9090"}
        if addons is not None:
            args["addons"] = addons
        ClusterAddons("addons", args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


def releases(recorder: Recorder) -> dict[str, dict[str, Any]]:
    return {r.inputs["chart"]: r.inputs for r in recorder.of_type(RELEASE)}


@pytest.mark.parametrize(
    ("flavor", "charts"),
    [
        (ClusterFlavor.EKS, {"gpu-operator", "dcgm-exporter", "kuberay-operator", "opencost"}),
        (ClusterFlavor.AKS, {"gpu-operator", "dcgm-exporter", "kuberay-operator", "opencost"}),
        # GKE installs the driver and device plugin itself.
        (ClusterFlavor.GKE, {"dcgm-exporter", "kuberay-operator", "opencost"}),
    ],
)
def test_each_cloud_gets_its_releases_pinned(
    pulumi_run: Recorder, flavor: ClusterFlavor, charts: set[str]
) -> None:
    pulumi_run.run(addons_program(flavor))
    found = releases(pulumi_run)
    assert set(found) == charts
    pinned = {c["chart"]: (c["version"], c["repo"]) for c in CHARTS.values()}
    for chart, inputs in found.items():
        assert (inputs["version"], inputs["repositoryOpts"]["repo"]) == pinned[chart]
        assert inputs["atomic"] is True


def test_driver_handling_follows_the_cloud(pulumi_run: Recorder) -> None:
    pulumi_run.run(addons_program(ClusterFlavor.EKS))
    eks = releases(pulumi_run)["gpu-operator"]["values"]
    pulumi_run.run(addons_program(ClusterFlavor.AKS))
    aks = releases(pulumi_run)["gpu-operator"]["values"]
    assert eks["driver"] == {"enabled": False} and eks["toolkit"] == {"enabled": False}
    assert "driver" not in aks
    # dcgm-exporter always comes from its own release, with our counters.
    assert eks["dcgmExporter"] == {"enabled": False} == aks["dcgmExporter"]


def test_dcgm_exporter_reads_our_counters_with_the_health_counters_on(pulumi_run: Recorder) -> None:
    pulumi_run.run(addons_program(ClusterFlavor.GKE))
    config_map = pulumi_run.of_type("kubernetes:core/v1:ConfigMap")[0]
    counters = config_map.inputs["data"]["counters.csv"]
    assert counters == DCGM_COUNTERS_CSV
    fields = {line.split(",")[0] for line in counters.splitlines() if line and not line.startswith("#")}
    assert {
        "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL",
        "DCGM_FI_DEV_RETIRED_DBE",
        "DCGM_EXP_XID_ERRORS_COUNT",
        "DCGM_EXP_GPU_HEALTH_STATUS",
        "DCGM_FI_DEV_THERMAL_VIOLATION",
        "DCGM_FI_DEV_POWER_VIOLATION",
        "DCGM_FI_DEV_XID_ERRORS",
    } <= fields
    values = releases(pulumi_run)["dcgm-exporter"]["values"]
    assert values["arguments"] == ["-f", "/etc/dcgm-exporter/mlops-hub/counters.csv"]
    assert values["extraConfigMapVolumes"][0]["configMap"]["name"] == "mlops-hub-dcgm-counters"
    assert values["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    # On GKE the driver lives under /home/kubernetes/bin/nvidia.
    assert {"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"} in values[
        "extraHostVolumes"
    ]


def test_switched_off_addons_are_not_installed(pulumi_run: Recorder) -> None:
    pulumi_run.run(
        addons_program(ClusterFlavor.EKS, {"gpu_operator": False, "dcgm_exporter": False, "opencost": False})
    )
    assert set(releases(pulumi_run)) == {"kuberay-operator"}
    namespaces = {r.inputs["metadata"]["name"] for r in pulumi_run.of_type("kubernetes:core/v1:Namespace")}
    assert namespaces == {"kuberay"}


def test_only_the_gpu_namespace_is_privileged(pulumi_run: Recorder) -> None:
    pulumi_run.run(addons_program(ClusterFlavor.AKS))
    levels = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for r in pulumi_run.of_type("kubernetes:core/v1:Namespace")
    }
    assert levels == {"gpu-operator": "privileged", "kuberay": "restricted", "opencost": "restricted"}


def test_opencost_reports_the_cluster_and_queries_the_given_prometheus(pulumi_run: Recorder) -> None:
    pulumi_run.run(addons_program(ClusterFlavor.EKS))
    opencost = releases(pulumi_run)["opencost"]["values"]["opencost"]
    assert opencost["exporter"]["defaultClusterId"] == "c1"
    assert opencost["prometheus"]["external"] == {"enabled": True, "url": "http://prometheus:9090"}


def test_everything_is_parented_and_goes_through_the_given_provider(pulumi_run: Recorder) -> None:
    pulumi_run.run(addons_program(ClusterFlavor.EKS))
    component = pulumi_run.of_type(TYPE_TOKEN)[0]
    provider = pulumi_run.of_type("pulumi:providers:kubernetes")[0]
    children = [r for r in pulumi_run.resources if r.parent == component.urn]
    assert len(children) == 8  # 3 namespaces, 1 config map, 4 releases, and nothing else
    assert all(child.provider == provider.urn for child in children)
    assert all(child.name.startswith("addons-") for child in children)
    assert component.outputs is not None and set(component.outputs) == {"release_names"}


def test_unknown_addon_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown add-on karpenter; allowed: gpu_operator"):
        enabled_addons({"karpenter": True})  # type: ignore[arg-type]
    assert enabled_addons(None) == frozenset(ADDONS)
