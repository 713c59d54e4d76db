"""gcp-no-default-service-accounts: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.gcp_no_default_service_accounts import POLICY
from mlops_policies.platform_types import GCE_INSTANCE, GCE_INSTANCE_TEMPLATE, GKE_CLUSTER, GKE_NODE_POOL

NODES = "gke-nodes@mlops-hub-prod.iam.gserviceaccount.com"
FIX = "create a dedicated service account with only the roles the nodes need"
POOL = f"node pool runs as the Compute Engine default service account (nodeConfig.serviceAccount); {FIX}"
DEFAULT_POOL = (
    f"default node pool runs as the Compute Engine default service account (nodeConfig.serviceAccount); {FIX}"
)
AUTO = "(clusterAutoscaling.autoProvisioningDefaults.serviceAccount)"
INSTANCE = f"the instance runs as the Compute Engine default service account (serviceAccount.email); {FIX}"

NODE_POOL: dict[str, Any] = {
    "cluster": "c",
    "nodeConfig": {"serviceAccount": NODES, "machineType": "g2-standard-8"},
}
CLUSTER: dict[str, Any] = {
    "location": "europe-west4",
    "removeDefaultNodePool": True,
    "nodeConfig": {"serviceAccount": NODES},
}
INSTANCE_PROPS: dict[str, Any] = {
    "zone": "europe-west4-a",
    "serviceAccount": {"email": NODES, "scopes": ["cloud-platform"]},
}


def test_baselines_pass(check_policy: Any) -> None:
    assert check_policy(POLICY, GKE_NODE_POOL, NODE_POOL) == []
    assert check_policy(POLICY, GKE_CLUSTER, CLUSTER) == []
    assert check_policy(POLICY, GCE_INSTANCE, INSTANCE_PROPS) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("nodeConfig.serviceAccount", ..., [POOL]),
        ("nodeConfig.serviceAccount", "default", [POOL]),
        ("nodeConfig.serviceAccount", "123456789012-compute@developer.gserviceaccount.com", [POOL]),
        ("nodeConfig.serviceAccount", "mlops-hub-prod@appspot.gserviceaccount.com", [POOL]),
        ("nodeConfig", ..., [POOL]),
    ],
    ids=["unset", "default", "compute-default", "app-engine-default", "no-node-config"],
)
def test_node_pool_mutations(
    check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, GKE_NODE_POOL, with_value(NODE_POOL, path, value)) == expected


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        # The default pool boots nodes while the cluster is created, even when it is removed afterwards.
        ("nodeConfig", ..., [DEFAULT_POOL]),
        (
            "nodePools",
            [{"name": "gpu", "nodeConfig": {"serviceAccount": NODES}}, {"name": "cpu"}],
            [
                f'node pool "cpu" runs as the Compute Engine default service account (nodeConfig.serviceAccount); {FIX}'
            ],
        ),
        (
            "clusterAutoscaling",
            {"enabled": True},
            [f"auto-provisioned node pools run as the Compute Engine default service account {AUTO}; {FIX}"],
        ),
        ("clusterAutoscaling", {"enabled": True, "autoProvisioningDefaults": {"serviceAccount": NODES}}, []),
        (
            "enableAutopilot",
            True,
            [f"Autopilot nodes run as the Compute Engine default service account {AUTO}; {FIX}"],
        ),
    ],
    ids=["default-pool", "inline-pool", "auto-provisioning", "auto-provisioning-dedicated", "autopilot"],
)
def test_cluster_mutations(
    check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, GKE_CLUSTER, with_value(CLUSTER, path, value)) == expected


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("serviceAccount.email", ..., [INSTANCE]),
        ("serviceAccount.email", "default", [INSTANCE]),
        # No serviceAccount block: the instance has no identity at all.
        ("serviceAccount", ..., []),
    ],
    ids=["email-unset", "default", "no-identity"],
)
def test_instance_mutations(
    check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, GCE_INSTANCE, with_value(INSTANCE_PROPS, path, value)) == expected
    assert check_policy(POLICY, GCE_INSTANCE_TEMPLATE, with_value(INSTANCE_PROPS, path, value)) == expected


def test_an_unknown_account_is_left_to_the_sdk(check_policy: Any, with_value: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_policy(POLICY, GKE_NODE_POOL, with_value(NODE_POOL, "nodeConfig.serviceAccount", unknown))
