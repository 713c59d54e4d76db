"""Behaviour of GkeGpuCluster: its pure helpers, and what it registers under the offline engine's mocks."""

import json
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, cast

import pulumi
import pulumi_gcp as gcp
import pytest

from components.compute.contract import CLUSTER_OUTPUTS, NodePoolSpec, TaintEffect, authorized_cidrs
from components.compute.gke_gpu_cluster import (
    ACCELERATORS,
    NODE_ROLES,
    TYPE_TOKEN,
    GkeGpuCluster,
    GkeGpuClusterArgs,
    GpuDriverVersion,
    gpu_count_problem,
    render_kubeconfig,
)
from components.network.gcp_network import GcpNetwork
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

# tags_of imports pulumi_gcp's modules whole, which warn about their own deprecated aliases.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_gcp.*")

NAME = "gke"
PROJECT = "mlops-hub-test"
PROJECT_NUMBER = "123456789012"
"""The project number the offline getProject answer reports."""
REGION = "europe-west4"
NETWORK_ID = f"projects/{PROJECT}/global/networks/net"
SUBNETWORK_ID = f"projects/{PROJECT}/regions/{REGION}/subnetworks/net"
DEFAULT_LABELS = {
    "environment": "test",
    "team": "ml-platform",
    "cost-center": "cc-42",
    "managed-by": "pulumi",
}

STACK = "pulumi:pulumi:Stack"
GCP_PROVIDER = "pulumi:providers:gcp"
K8S_PROVIDER = "pulumi:providers:kubernetes"
ADDONS = "mlopshub:index:ClusterAddons"
CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
ACCOUNT = "gcp:serviceaccount/account:Account"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
KEY_RING = "gcp:kms/keyRing:KeyRing"
CRYPTO_KEY = "gcp:kms/cryptoKey:CryptoKey"
KEY_MEMBER = "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
RELEASE = "kubernetes:helm.sh/v3:Release"

L4_POOL: NodePoolSpec = {
    "name": "l4",
    "instance_type": "g2-standard-8",
    "min_nodes": 0,
    "max_nodes": 4,
    "accelerator": {"type": "nvidia-l4", "count": 1},
    "spot": True,
    "labels": {"workload": "inference"},
    "disk_size_gb": 200,
}
H100_POOL: NodePoolSpec = {
    "name": "h100",
    "instance_type": "a3-highgpu-8g",
    "min_nodes": 0,
    "max_nodes": 2,
    "accelerator": {"type": "nvidia-h100-80gb", "count": 8},
    "taints": [{"key": "dedicated", "value": "training", "effect": TaintEffect.NO_EXECUTE}],
}
CPU_POOL: NodePoolSpec = {"name": "cpu", "instance_type": "n2-standard-8", "min_nodes": 0, "max_nodes": 5}

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
NODE_HARDENING = {
    "serviceAccount": "[unknown]",
    "oauthScopes": ["https://www.googleapis.com/auth/cloud-platform"],
    "shieldedInstanceConfig": {"enableSecureBoot": True, "enableIntegrityMonitoring": True},
    "workloadMetadataConfig": {"mode": "GKE_METADATA"},
    "metadata": {"disable-legacy-endpoints": "true"},
}
"""What every node (pools and the transient default pool) gets."""


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...
    def tags_of(self, resource: RecordedResource) -> dict[str, Any] | None: ...


def base_args(**overrides: Any) -> GkeGpuClusterArgs:
    args = {
        "project": PROJECT,
        "location": REGION,
        "kubernetes_version": "1.33",
        "network": NETWORK_ID,
        "subnetwork": SUBNETWORK_ID,
        "pods_range_name": "pods",
        "services_range_name": "services",
        "node_pools": [L4_POOL, H100_POOL, CPU_POOL],
        **overrides,
    }
    return cast(GkeGpuClusterArgs, args)


def provider() -> gcp.Provider:
    return gcp.Provider("p", project=PROJECT, region=REGION, default_labels=DEFAULT_LABELS)


def cluster_program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit europe-west4 provider with default labels, and one cluster per name."""

    def body() -> None:
        gcp_provider = provider()
        for name in names or (NAME,):
            GkeGpuCluster(name, base_args(**overrides), opts=pulumi.ResourceOptions(providers=[gcp_provider]))

    return body


@pytest.fixture
def cluster(pulumi_run: Recorder) -> Recorder:
    """A recorded run of the default cluster `gke` (L4 spot, H100 and CPU pools)."""
    pulumi_run.run(cluster_program())
    return pulumi_run


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def descendants(recorder: Recorder, root: RecordedResource) -> list[RecordedResource]:
    """Every resource below `root`, in registration order."""
    below = {root.urn}
    found = []
    for resource in recorder.resources:
        if resource.parent in below:
            below.add(resource.urn)
            found.append(resource)
    return found


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    """Logical names of the resources property `prop` depends on, sorted."""
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def names(urns: list[str]) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in urns)


# Pure helpers, no mocks.


def test_accelerator_catalogue() -> None:
    assert {name: (rule.instance_prefixes, rule.max_count) for name, rule in ACCELERATORS.items()} == {
        "nvidia-tesla-t4": (("n1-",), 4),
        "nvidia-tesla-v100": (("n1-",), 8),
        "nvidia-l4": (("g2-",), 8),
        "nvidia-tesla-a100": (("a2-highgpu-", "a2-megagpu-"), 16),
        "nvidia-a100-80gb": (("a2-ultragpu-",), 8),
        "nvidia-h100-80gb": (("a3-highgpu-",), 8),
    }


@pytest.mark.parametrize(
    ("machine_type", "accelerator", "count", "problem"),
    [
        ("g2-standard-8", "nvidia-l4", 1, None),
        ("g2-standard-48", "nvidia-l4", 4, None),
        ("g2-standard-96", "nvidia-l4", 8, None),
        ("a2-highgpu-4g", "nvidia-tesla-a100", 4, None),
        ("a2-megagpu-16g", "nvidia-tesla-a100", 16, None),
        ("a2-ultragpu-8g", "nvidia-a100-80gb", 8, None),
        ("a3-highgpu-8g", "nvidia-h100-80gb", 8, None),
        ("n1-standard-8", "nvidia-tesla-t4", 2, None),
        ("n1-standard-16", "nvidia-tesla-v100", 8, None),
        (
            "g2-standard-8",
            "nvidia-l4",
            2,
            "g2-standard-8 comes with 1 x nvidia-l4; set the accelerator count to 1",
        ),
        ("a3-highgpu-8g", "nvidia-h100-80gb", 4, "a3-highgpu-8g comes with 8 x nvidia-h100-80gb"),
        ("g2-custom-8", "nvidia-l4", 1, "machine type 'g2-custom-8' is not a known GPU machine type"),
        ("n1-standard-8", "nvidia-tesla-t4", 3, "n1-standard-8 takes 1, 2, 4 x nvidia-tesla-t4, not 3"),
    ],
)
def test_gpu_count_must_fit_the_machine_type(
    machine_type: str, accelerator: str, count: int, problem: str | None
) -> None:
    found = gpu_count_problem(machine_type, accelerator, count)

    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)


def test_authorized_cidrs_are_canonical() -> None:
    assert authorized_cidrs("GkeGpuCluster x", ["203.0.113.0/24", "198.51.100.7/32"]) == [
        "203.0.113.0/24",
        "198.51.100.7/32",
    ]


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("0.0.0.0/0", "authorized_cidrs entry 0.0.0.0/0 opens the API endpoint to the whole internet"),
        ("::/0", "authorized_cidrs entry ::/0 opens the API endpoint to the whole internet"),
        ("203.0.113.1/24", "authorized_cidrs entry '203.0.113.1/24' is not a network"),
        ("somewhere", "authorized_cidrs entry 'somewhere' is not a network"),
    ],
)
def test_authorized_cidrs_reject_the_internet_and_malformed_ranges(cidr: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^GkeGpuCluster x: ") as raised:
        authorized_cidrs("GkeGpuCluster x", ["10.0.0.0/8", cidr])
    assert message in str(raised.value)


def test_kubeconfig_authenticates_through_the_gke_plugin_only() -> None:
    config = json.loads(render_kubeconfig("gke_p_r_c", "10.0.0.2", "Q0E="))

    assert config["current-context"] == "gke_p_r_c"
    assert config["clusters"] == [
        {"name": "gke_p_r_c", "cluster": {"server": "https://10.0.0.2", "certificate-authority-data": "Q0E="}}
    ]
    assert config["contexts"] == [
        {"name": "gke_p_r_c", "context": {"cluster": "gke_p_r_c", "user": "gke_p_r_c"}}
    ]
    (user,) = config["users"]
    assert user["name"] == "gke_p_r_c"
    assert set(user["user"]) == {"exec"}
    assert {k: v for k, v in user["user"]["exec"].items() if k != "installHint"} == {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "gke-gcloud-auth-plugin",
        "provideClusterInfo": True,
    }


# What the component registers (preview, offline mocks).


def test_children_by_type(cluster: Recorder) -> None:
    assert Counter(r.type for r in cluster.children_of(component(cluster))) == {
        ACCOUNT: 1,
        PROJECT_MEMBER: len(NODE_ROLES),
        KEY_RING: 1,
        CRYPTO_KEY: 1,
        KEY_MEMBER: 1,
        CLUSTER: 1,
        NODE_POOL: 4,
        K8S_PROVIDER: 1,
        ADDONS: 1,
    }


def test_every_resource_is_parented_named_and_on_the_right_provider(cluster: Recorder) -> None:
    root = component(cluster)
    below = descendants(cluster, root)
    gcp_provider = cluster.one(GCP_PROVIDER)
    k8s_provider = cluster.one(K8S_PROVIDER)

    assert root.type == TYPE_TOKEN == "mlopshub:index:GkeGpuCluster"
    assert {r.urn for r in below} == {
        r.urn for r in cluster.resources if r.type not in {STACK, GCP_PROVIDER, TYPE_TOKEN}
    }
    assert all(r.name.startswith(f"{NAME}-") for r in below)
    assert all(r.provider == gcp_provider.urn for r in below if r.type.startswith("gcp:"))
    assert [r for r in below if r.type.startswith("kubernetes:")]
    assert all(r.provider == k8s_provider.urn for r in below if r.type.startswith("kubernetes:"))
    assert k8s_provider.parent == root.urn


def test_cluster_is_private_hardened_and_encrypted(cluster: Recorder) -> None:
    inputs = cluster.one(CLUSTER).inputs

    assert inputs == {
        "project": PROJECT,
        "location": REGION,
        "description": f"GPU cluster {NAME}",
        "network": NETWORK_ID,
        "subnetwork": SUBNETWORK_ID,
        "networkingMode": "VPC_NATIVE",
        "ipAllocationPolicy": {
            "clusterSecondaryRangeName": "pods",
            "servicesSecondaryRangeName": "services",
            "stackType": "IPV4",
        },
        "removeDefaultNodePool": True,
        "initialNodeCount": 1,
        "nodeConfig": NODE_HARDENING,
        "releaseChannel": {"channel": "REGULAR"},
        "minMasterVersion": "1.33",
        "privateClusterConfig": {
            "enablePrivateNodes": True,
            "enablePrivateEndpoint": True,
            "masterIpv4CidrBlock": "172.16.0.0/28",
            "masterGlobalAccessConfig": {"enabled": False},
        },
        "masterAuthorizedNetworksConfig": {"cidrBlocks": [], "gcpPublicCidrsAccessEnabled": False},
        "masterAuth": {"clientCertificateConfig": {"issueClientCertificate": False}},
        "enableLegacyAbac": False,
        "enableShieldedNodes": True,
        "workloadIdentityConfig": {"workloadPool": f"{PROJECT}.svc.id.goog"},
        "databaseEncryption": {"state": "ENCRYPTED", "keyName": "[unknown]"},
        "datapathProvider": "ADVANCED_DATAPATH",
        "loggingConfig": {
            "enableComponents": [
                "SYSTEM_COMPONENTS",
                "APISERVER",
                "CONTROLLER_MANAGER",
                "SCHEDULER",
                "WORKLOADS",
            ]
        },
        "monitoringConfig": {
            "enableComponents": ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER"],
            "managedPrometheus": {"enabled": True},
        },
        "clusterAutoscaling": {"enabled": False, "autoscalingProfile": "OPTIMIZE_UTILIZATION"},
        "securityPostureConfig": {"mode": "BASIC"},
        "enableIntranodeVisibility": True,
        "binaryAuthorization": {"evaluationMode": "PROJECT_SINGLETON_POLICY_ENFORCE"},
        "costManagementConfig": {"enabled": True},
        "addonsConfig": {
            "gcePersistentDiskCsiDriverConfig": {"enabled": True},
            "gcsFuseCsiDriverConfig": {"enabled": True},
            # The driver behind ReadWriteMany (Filestore) claims, such as the ML workloads' shared data.
            "gcpFilestoreCsiDriverConfig": {"enabled": True},
        },
        "deletionProtection": True,
    }
    # No basic auth, no Calico policy block beside Dataplane V2, no public endpoint by default.
    assert "networkPolicy" not in inputs


def test_cluster_waits_for_the_key_grant_and_ignores_the_default_pool_config(cluster: Recorder) -> None:
    found = cluster.one(CLUSTER)

    assert depends_on(found, "databaseEncryption") == [f"{NAME}-secrets-key"]
    assert f"{NAME}-secrets-key-gke" in names(found.dependencies)
    assert depends_on(found, "nodeConfig") == [f"{NAME}-nodes"]
    assert found.options["ignoreChanges"] == ["nodeConfig"]


def test_authorized_cidrs_open_only_those_networks(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(authorized_cidrs=["203.0.113.0/24", "198.51.100.7/32"]))
    inputs = pulumi_run.one(CLUSTER).inputs

    assert inputs["privateClusterConfig"]["enablePrivateEndpoint"] is False
    assert inputs["privateClusterConfig"]["enablePrivateNodes"] is True
    assert inputs["masterAuthorizedNetworksConfig"] == {
        "cidrBlocks": [
            {"cidrBlock": "203.0.113.0/24", "displayName": "authorized-0"},
            {"cidrBlock": "198.51.100.7/32", "displayName": "authorized-1"},
        ],
        "gcpPublicCidrsAccessEnabled": False,
    }


def test_release_channel_and_master_range_are_passed_through(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(release_channel="STABLE", master_ipv4_cidr="172.16.0.16/28"))
    inputs = pulumi_run.one(CLUSTER).inputs

    assert inputs["releaseChannel"] == {"channel": "STABLE"}
    assert inputs["privateClusterConfig"]["masterIpv4CidrBlock"] == "172.16.0.16/28"


@pytest.mark.parametrize(("location", "key_location"), [(REGION, REGION), ("europe-west4-b", REGION)])
def test_secrets_key_rotates_and_only_the_gke_agent_may_use_it(
    pulumi_run: Recorder, location: str, key_location: str
) -> None:
    pulumi_run.run(cluster_program(location=location))
    key_ring = pulumi_run.one(KEY_RING)
    key = pulumi_run.one(CRYPTO_KEY)
    grant = pulumi_run.one(KEY_MEMBER)

    assert key_ring.inputs == {"project": PROJECT, "location": key_location}
    assert key.inputs == {"keyRing": "[unknown]", "purpose": "ENCRYPT_DECRYPT", "rotationPeriod": "7776000s"}
    assert depends_on(key, "keyRing") == [f"{NAME}-keyring"]
    assert grant.inputs == {
        "cryptoKeyId": "[unknown]",
        "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
        "member": f"serviceAccount:service-{PROJECT_NUMBER}@container-engine-robot.iam.gserviceaccount.com",
    }
    assert depends_on(grant, "cryptoKeyId") == [f"{NAME}-secrets-key"]


def test_nodes_run_as_a_dedicated_least_privilege_account(cluster: Recorder) -> None:
    account = cluster.one(ACCOUNT)
    grants = cluster.of_type(PROJECT_MEMBER)

    assert account.name == f"{NAME}-nodes"
    assert account.inputs == {
        "project": PROJECT,
        "accountId": f"{NAME}-nodes",
        "displayName": f"GKE nodes of {NAME}",
        "description": "Least-privilege identity of the cluster's nodes: logs, metrics, image pulls",
    }
    assert sorted(g.inputs["role"] for g in grants) == sorted(
        [
            "roles/logging.logWriter",
            "roles/monitoring.metricWriter",
            "roles/monitoring.viewer",
            "roles/stackdriver.resourceMetadata.writer",
            "roles/artifactregistry.reader",
        ]
    )
    assert all(g.inputs["project"] == PROJECT for g in grants)
    assert all(depends_on(g, "member") == [f"{NAME}-nodes"] for g in grants)
    # Every node (pools and the cluster's transient default pool) runs as that account, never the
    # default compute account (which an unset service_account would mean).
    for holder in [cluster.one(CLUSTER), *cluster.of_type(NODE_POOL)]:
        assert holder.inputs["nodeConfig"]["serviceAccount"] == "[unknown]"
        assert depends_on(holder, "nodeConfig") == [f"{NAME}-nodes"]


def pool(recorder: Recorder, pool_name: str) -> RecordedResource:
    return recorder.named(f"{NAME}-pool-{pool_name}")


def test_spot_l4_pool_scales_from_zero_with_the_gpu_taint(cluster: Recorder) -> None:
    found = pool(cluster, "l4")

    assert found.inputs == {
        "name": "l4",
        "project": PROJECT,
        "location": REGION,
        "cluster": "[unknown]",
        "autoscaling": {"totalMinNodeCount": 0, "totalMaxNodeCount": 4, "locationPolicy": "ANY"},
        "management": {"autoRepair": True, "autoUpgrade": True},
        "upgradeSettings": {"strategy": "SURGE", "maxSurge": 0, "maxUnavailable": 1},
        "nodeConfig": {
            **NODE_HARDENING,
            "machineType": "g2-standard-8",
            "diskSizeGb": 200,
            "diskType": "pd-balanced",
            "imageType": "COS_CONTAINERD",
            "spot": True,
            "labels": {
                "mlops-hub.io/pool": "l4",
                "workload": "inference",
                "mlops-hub.io/accelerator": "nvidia-l4",
            },
            "taints": [GPU_TAINT],
            "gvnic": {"enabled": True},
            "guestAccelerators": [
                {
                    "type": "nvidia-l4",
                    "count": 1,
                    "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"},
                }
            ],
        },
    }
    assert depends_on(found, "cluster") == [f"{NAME}-cluster"]
    assert sorted(names(found.dependencies)) == sorted(
        [f"{NAME}-cluster", f"{NAME}-nodes"] + [g.name for g in cluster.of_type(PROJECT_MEMBER)]
    )


def test_on_demand_h100_pool_keeps_its_own_taints_and_adds_the_gpu_taint(cluster: Recorder) -> None:
    node_config = pool(cluster, "h100").inputs["nodeConfig"]

    assert node_config["spot"] is False
    assert node_config["machineType"] == "a3-highgpu-8g"
    assert node_config["diskSizeGb"] == 100
    assert node_config["taints"] == [
        {"key": "dedicated", "value": "training", "effect": "NO_EXECUTE"},
        GPU_TAINT,
    ]
    assert node_config["guestAccelerators"] == [
        {
            "type": "nvidia-h100-80gb",
            "count": 8,
            "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"},
        }
    ]
    assert pool(cluster, "h100").inputs["autoscaling"] == {
        "totalMinNodeCount": 0,
        "totalMaxNodeCount": 2,
        "locationPolicy": "ANY",
    }


def test_cpu_pools_carry_no_gpus_and_no_gpu_taint(cluster: Recorder) -> None:
    for pool_name, machine_type, minimum, maximum in (
        ("system", "e2-standard-4", 1, 3),
        ("cpu", "n2-standard-8", 0, 5),
    ):
        found = pool(cluster, pool_name)
        assert found.inputs["nodeConfig"] == {
            **NODE_HARDENING,
            "machineType": machine_type,
            "diskSizeGb": 100,
            "diskType": "pd-balanced",
            "imageType": "COS_CONTAINERD",
            "spot": False,
            "labels": {"mlops-hub.io/pool": pool_name},
            "taints": [],
            "gvnic": {"enabled": True},
        }
        assert found.inputs["autoscaling"] == {
            "totalMinNodeCount": minimum,
            "totalMaxNodeCount": maximum,
            "locationPolicy": "BALANCED",
        }
        assert found.inputs["upgradeSettings"] == {"strategy": "SURGE", "maxSurge": 1, "maxUnavailable": 0}


def test_every_pool_is_hardened_and_self_managing(cluster: Recorder) -> None:
    pools = cluster.of_type(NODE_POOL)

    # The autoscaler owns the size: no fixed node_count anywhere.
    assert [p.name for p in pools if "nodeCount" in p.inputs] == []

    assert sorted(p.name for p in pools) == sorted(
        f"{NAME}-pool-{n}" for n in ("system", "l4", "h100", "cpu")
    )
    for found in pools:
        assert found.inputs["management"] == {"autoRepair": True, "autoUpgrade": True}
        assert {k: found.inputs["nodeConfig"][k] for k in NODE_HARDENING} == NODE_HARDENING


def test_gpu_zones_and_driver_version_apply_to_gpu_pools_only(pulumi_run: Recorder) -> None:
    pulumi_run.run(
        cluster_program(
            gpu_node_locations=["europe-west4-b", "europe-west4-c"],
            gpu_driver_version=GpuDriverVersion.DEFAULT,
        )
    )

    for pool_name in ("l4", "h100"):
        found = pool(pulumi_run, pool_name)
        assert found.inputs["nodeLocations"] == ["europe-west4-b", "europe-west4-c"]
        (accelerator,) = found.inputs["nodeConfig"]["guestAccelerators"]
        assert accelerator["gpuDriverInstallationConfig"] == {"gpuDriverVersion": "DEFAULT"}
    assert all("nodeLocations" not in pool(pulumi_run, n).inputs for n in ("system", "cpu"))


def test_a_custom_system_pool_replaces_the_default(pulumi_run: Recorder) -> None:
    system: NodePoolSpec = {"name": "sys", "instance_type": "e2-standard-8", "min_nodes": 2, "max_nodes": 6}
    pulumi_run.run(cluster_program(system_pool=system))

    assert sorted(p.name for p in pulumi_run.of_type(NODE_POOL)) == sorted(
        f"{NAME}-pool-{n}" for n in ("sys", "l4", "h100", "cpu")
    )
    assert pool(pulumi_run, "sys").inputs["autoscaling"]["totalMinNodeCount"] == 2
    assert f"{NAME}-pool-sys" in names(pulumi_run.one(K8S_PROVIDER).dependencies)


def test_kubernetes_provider_uses_a_secret_kubeconfig_and_waits_for_the_system_pool(
    cluster: Recorder,
) -> None:
    found = cluster.one(K8S_PROVIDER)

    assert found.name == f"{NAME}-k8s"
    assert found.inputs["kubeconfig"] == "[secret]"
    assert names(found.dependencies) == [f"{NAME}-cluster", f"{NAME}-pool-system"]


def test_addons_on_gke_skip_the_gpu_operator(cluster: Recorder) -> None:
    addons = cluster.one(ADDONS)

    assert addons.name == f"{NAME}-addons"
    assert addons.parent == component(cluster).urn
    assert sorted(r.inputs["chart"] for r in cluster.of_type(RELEASE)) == [
        "dcgm-exporter",
        "kuberay-operator",
        "opencost",
    ]


def test_switched_off_addons_install_no_releases(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(addons={"dcgm_exporter": False, "kuberay": False, "opencost": False}))

    assert pulumi_run.of_type(RELEASE) == []
    assert pulumi_run.one(ADDONS).outputs == {"release_names": []}


def test_autoscaler_off_pins_every_pool_at_its_minimum(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(addons={"autoscaler": False}))

    sizing = {
        p.inputs["name"]: (p.inputs.get("autoscaling"), p.inputs.get("nodeCount"))
        for p in pulumi_run.of_type(NODE_POOL)
    }

    # GKE's node_count is per zone, so a non-empty pool is pinned through its total minimum and maximum;
    # an empty one (autoscaling needs a maximum of 1 or more) is a pool of 0 nodes.
    assert sizing == {
        "system": ({"totalMinNodeCount": 1, "totalMaxNodeCount": 1, "locationPolicy": "BALANCED"}, None),
        "l4": (None, 0),
        "h100": (None, 0),
        "cpu": (None, 0),
    }
    # The add-on releases do not depend on the autoscaler flag.
    assert len(pulumi_run.of_type(RELEASE)) == 3


def test_every_labelable_resource_carries_the_default_labels(cluster: Recorder) -> None:
    labels = {r.name: cluster.tags_of(r) for r in descendants(cluster, component(cluster))}
    labelable = {name: found for name, found in labels.items() if found is not None}

    # The cluster's resource labels are also copied by GKE onto its node VMs and disks.
    assert sorted(labelable) == [f"{NAME}-cluster", f"{NAME}-secrets-key"]
    assert all(found == DEFAULT_LABELS for found in labelable.values())


def test_outputs_are_exactly_the_cluster_contract(cluster: Recorder) -> None:
    outputs = component(cluster).outputs

    assert outputs is not None
    assert tuple(sorted(outputs)) == tuple(sorted(CLUSTER_OUTPUTS))
    assert outputs["kubeconfig"] == "[secret]"
    assert outputs["gpu_pool_names"] == ["l4", "h100"]
    # The cluster's name, endpoint and node account email are assigned by GCP: unknown in a preview.
    assert {k: v for k, v in outputs.items() if k not in {"kubeconfig", "gpu_pool_names"}} == dict.fromkeys(
        ("cluster_name", "endpoint", "oidc_issuer_url", "node_identity"), "[unknown]"
    )


def test_without_gpu_pools_gpu_pool_names_is_empty(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(node_pools=[CPU_POOL]))
    outputs = component(pulumi_run).outputs

    assert outputs is not None and outputs["gpu_pool_names"] == []


def test_unregistered_attributes_for_programs(pulumi_run: Recorder) -> None:
    seen: dict[str, Any] = {}

    def body() -> None:
        found = GkeGpuCluster(NAME, base_args(), opts=pulumi.ResourceOptions(providers=[provider()]))
        seen["provider"] = found.kubernetes_provider
        found.workload_pool.apply(lambda pool: seen.setdefault("workload_pool", pool))

    pulumi_run.run(body)

    assert seen["workload_pool"] == f"{PROJECT}.svc.id.goog"
    assert isinstance(seen["provider"], pulumi.ProviderResource)


def test_two_clusters_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in descendants(pulumi_run, component(pulumi_run, "a"))}
    names_b = {r.name for r in descendants(pulumi_run, component(pulumi_run, "b"))}

    assert len(urns) == len(set(urns))
    assert names_a and len(names_a) == len(names_b)
    assert names_a.isdisjoint(names_b)
    assert all(name.startswith("a-") for name in names_a)
    assert all(name.startswith("b-") for name in names_b)
    assert sorted(a.inputs["accountId"] for a in pulumi_run.of_type(ACCOUNT)) == ["a-nodes", "b-nodes"]


def test_wired_to_a_gcp_network(pulumi_run: Recorder) -> None:
    def body() -> None:
        opts = pulumi.ResourceOptions(providers=[provider()])
        network = GcpNetwork(
            "net",
            {
                "region": REGION,
                "nodes_cidr": "10.50.0.0/20",
                "pods_cidr": "10.52.0.0/14",
                "services_cidr": "10.56.0.0/20",
            },
            opts=opts,
        )
        args = base_args(
            network=network.network_id,
            subnetwork=network.subnetwork_id,
            pods_range_name=network.pods_range_name,
            services_range_name=network.services_range_name,
        )
        GkeGpuCluster(NAME, args, opts=opts)

    pulumi_run.run(body)
    found = pulumi_run.one(CLUSTER)

    assert found.inputs["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "services",
        "stackType": "IPV4",
    }
    assert depends_on(found, "network") == ["net-vpc"]
    assert depends_on(found, "subnetwork") == ["net-subnet"]
    assert depends_on(found, "ipAllocationPolicy") == ["net-subnet"]


def gpu_pool(**changes: Any) -> NodePoolSpec:
    return cast(NodePoolSpec, {**L4_POOL, **changes})


BAD_ARGS = [
    pytest.param(
        {"node_pools": [gpu_pool(min_nodes=3, max_nodes=2)]},
        "min_nodes (3) is greater than max_nodes (2)",
        id="min>max",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(accelerator={"type": "nvidia-l4", "count": 0})]},
        "accelerator count 0 must be from 1 to 8",
        id="count-0",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(accelerator={"type": "nvidia-a10g", "count": 1})]},
        "accelerator 'nvidia-a10g' is not known on this cloud",
        id="aws-accelerator",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(instance_type="n1-standard-8")]},
        "instance type 'n1-standard-8' does not carry nvidia-l4; use one starting with g2-",
        id="machine-mismatch",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(accelerator={"type": "nvidia-l4", "count": 2})]},
        "g2-standard-8 comes with 1 x nvidia-l4",
        id="count-vs-machine",
    ),
    pytest.param(
        {"node_pools": [{**CPU_POOL, "instance_type": "a2-highgpu-1g"}]},
        "machine type a2-highgpu-1g comes with GPUs; declare its accelerator",
        id="gpu-machine-as-cpu",
    ),
    pytest.param(
        {"node_pools": [{**CPU_POOL, "taints": [{"key": "k", "value": "v", "effect": "NO_SCHEDULE"}]}]},
        "taint k has effect 'NO_SCHEDULE'; allowed: NoExecute, NoSchedule, PreferNoSchedule",
        id="taint-effect",
    ),
    pytest.param(
        {"node_pools": [{**CPU_POOL, "name": "system"}]}, "name is used by another pool", id="duplicate"
    ),
    pytest.param(
        {"system_pool": gpu_pool(name="gsys")}, "system pool 'gsys' must be a CPU pool", id="gpu-system-pool"
    ),
    pytest.param(
        {"system_pool": {**CPU_POOL, "name": "sys"}},
        "system pool 'sys' must be a CPU pool with min_nodes 1",
        id="empty-system",
    ),
    pytest.param(
        {"authorized_cidrs": ["0.0.0.0/0"]},
        "authorized_cidrs entry 0.0.0.0/0 opens the API endpoint",
        id="open-endpoint",
    ),
    pytest.param(
        {"authorized_cidrs": ["10.0.0.0/33"]},
        "authorized_cidrs entry '10.0.0.0/33' is not a network",
        id="bad-cidr",
    ),
    pytest.param(
        {"master_ipv4_cidr": "172.16.0.0/24"},
        "master_ipv4_cidr 172.16.0.0/24 must be a private /28",
        id="master-size",
    ),
    pytest.param(
        {"master_ipv4_cidr": "8.8.8.0/28"},
        "master_ipv4_cidr 8.8.8.0/28 must be a private /28",
        id="master-public",
    ),
    pytest.param(
        {"kubernetes_version": "latest"}, "kubernetes_version 'latest' must look like 1.33", id="version"
    ),
    pytest.param({"release_channel": "NIGHTLY"}, "release_channel 'NIGHTLY' is not one of", id="channel"),
    pytest.param({"gpu_driver_version": "535"}, "gpu_driver_version '535' is not one of", id="driver"),
    pytest.param({"addons": {"karpenter": True}}, "unknown add-on karpenter", id="unknown-addon"),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(cluster_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert str(failure.value.cause).startswith(f"GkeGpuCluster {NAME}: ")
    assert bad_value in str(failure.value.cause)
    # The component itself registers first (super().__init__ comes before validation), nothing else.
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, GCP_PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]


@pytest.mark.parametrize("bad_name", ["GKE", "a-very-long-cluster-name-x", "gke-", "9gke"])
def test_names_that_cannot_name_gcp_resources_are_rejected(pulumi_run: Recorder, bad_name: str) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(cluster_program(bad_name))

    assert str(failure.value.cause).startswith(
        f"GkeGpuCluster {bad_name}: the name {bad_name!r} must be 1 to 24"
    )
    assert [r.type for r in failure.value.resources if r.type not in {STACK, GCP_PROVIDER}] == [TYPE_TOKEN]
