"""gke-nodes-shielded: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.gke_nodes_shielded import POLICY
from mlops_policies.platform_types import GKE_CLUSTER, GKE_NODE_POOL

SHIELDED = {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
NODE_POOL: dict[str, Any] = {"cluster": "c", "nodeConfig": {"shieldedInstanceConfig": SHIELDED}}
CLUSTER: dict[str, Any] = {"enableShieldedNodes": True, "nodeConfig": {"shieldedInstanceConfig": SHIELDED}}
NO_SECURE_BOOT = (
    "node pool boots without secure boot: set nodeConfig.shieldedInstanceConfig.enableSecureBoot: true"
)
NO_MONITORING = (
    "node pool has integrity monitoring switched off: "
    "set nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring: true"
)


def test_baselines_pass(check_policy: Any) -> None:
    assert check_policy(POLICY, GKE_NODE_POOL, NODE_POOL) == []
    assert check_policy(POLICY, GKE_CLUSTER, CLUSTER) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("nodeConfig.shieldedInstanceConfig.enableSecureBoot", False, [NO_SECURE_BOOT]),
        ("nodeConfig.shieldedInstanceConfig.enableSecureBoot", ..., [NO_SECURE_BOOT]),
        ("nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", False, [NO_MONITORING]),
        # Integrity monitoring is on by default.
        ("nodeConfig.shieldedInstanceConfig.enableIntegrityMonitoring", ..., []),
        ("nodeConfig", ..., [NO_SECURE_BOOT]),
    ],
    ids=["secure-boot-off", "secure-boot-unset", "monitoring-off", "monitoring-default", "no-node-config"],
)
def test_node_pool_mutations(
    check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, GKE_NODE_POOL, with_value(NODE_POOL, path, value)) == expected


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "enableShieldedNodes",
            False,
            ["Shielded GKE Nodes are switched off: remove enableShieldedNodes: false"],
        ),
        ("enableShieldedNodes", ..., []),
        (
            "nodeConfig.shieldedInstanceConfig",
            ...,
            [
                "default node pool boots without secure boot: set nodeConfig.shieldedInstanceConfig.enableSecureBoot: true"
            ],
        ),
        ("enableAutopilot", True, []),
    ],
    ids=["shielded-off", "shielded-default", "default-pool", "autopilot"],
)
def test_cluster_mutations(
    check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, GKE_CLUSTER, with_value(CLUSTER, path, value)) == expected
