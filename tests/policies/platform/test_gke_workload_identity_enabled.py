"""gke-workload-identity-enabled: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.gke_workload_identity_enabled import POLICY
from mlops_policies.platform_types import GKE_CLUSTER, GKE_NODE_POOL

METADATA = {"mode": "GKE_METADATA"}
CLUSTER: dict[str, Any] = {
    "workloadIdentityConfig": {"workloadPool": "mlops-hub-prod.svc.id.goog"},
    "nodeConfig": {"workloadMetadataConfig": METADATA},
}
NODE_POOL: dict[str, Any] = {"cluster": "c", "nodeConfig": {"workloadMetadataConfig": METADATA}}
OFF = "Workload Identity is off: set workloadIdentityConfig.workloadPool to `<project>.svc.id.goog`"


def _metadata(label: str) -> str:
    return (
        f"{label} exposes the node's metadata server to pods: "
        "set nodeConfig.workloadMetadataConfig.mode to GKE_METADATA"
    )


def test_baselines_pass(check_policy: Any) -> None:
    assert check_policy(POLICY, GKE_CLUSTER, CLUSTER) == []
    assert check_policy(POLICY, GKE_NODE_POOL, NODE_POOL) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("workloadIdentityConfig", ..., [OFF]),
        ("workloadIdentityConfig.workloadPool", "", [OFF]),
        ("nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA", [_metadata("default node pool")]),
        ("nodeConfig", ..., [_metadata("default node pool")]),
        (
            "nodePools",
            [{"name": "gpu", "nodeConfig": {"workloadMetadataConfig": {"mode": "MODE_UNSPECIFIED"}}}],
            [_metadata('node pool "gpu"')],
        ),
        ("enableAutopilot", True, []),
    ],
    ids=[
        "no-config",
        "empty-pool",
        "gce-metadata",
        "default-pool-unset",
        "inline-pool",
        "autopilot-manages-it",
    ],
)
def test_cluster_mutations(
    check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, GKE_CLUSTER, with_value(CLUSTER, path, value)) == expected


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("nodeConfig.workloadMetadataConfig", ..., [_metadata("node pool")]),
        ("nodeConfig.workloadMetadataConfig.mode", "GCE_METADATA", [_metadata("node pool")]),
        ("nodeConfig", ..., [_metadata("node pool")]),
    ],
    ids=["unset", "gce-metadata", "no-node-config"],
)
def test_node_pool_mutations(
    check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, GKE_NODE_POOL, with_value(NODE_POOL, path, value)) == expected
