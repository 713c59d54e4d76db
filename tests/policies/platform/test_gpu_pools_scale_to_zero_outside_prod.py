"""gpu-pools-scale-to-zero-outside-prod: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.gpu_pools_scale_to_zero_outside_prod import POLICY
from mlops_policies.platform_types import AKS_AGENT_POOL, AKS_CLUSTER, EKS_NODE_GROUP, GKE_NODE_POOL

EKS: dict[str, Any] = {
    "instanceTypes": ["g5.xlarge"],
    "amiType": "AL2023_x86_64_NVIDIA",
    "scalingConfig": {"minSize": 0, "maxSize": 2, "desiredSize": 0},
}
GKE: dict[str, Any] = {
    "autoscaling": {"totalMinNodeCount": 0, "totalMaxNodeCount": 4},
    "nodeConfig": {"machineType": "g2-standard-8", "guestAccelerators": [{"type": "nvidia-l4", "count": 1}]},
}
AKS_POOL: dict[str, Any] = {
    "vmSize": "Standard_NC24ads_A100_v4",
    "enableAutoScaling": True,
    "minCount": 0,
    "maxCount": 4,
    "count": 0,
}
DEV = {"environment": "dev"}
SUFFIX = "in non-production environment `dev`: set it to 0 so idle GPUs cost nothing (Karpenter pools already start at 0)"


@pytest.mark.parametrize(
    ("resource_type", "props"), [(EKS_NODE_GROUP, EKS), (GKE_NODE_POOL, GKE), (AKS_AGENT_POOL, AKS_POOL)]
)
def test_baselines_pass(check_policy: Any, resource_type: str, props: dict[str, Any]) -> None:
    assert check_policy(POLICY, resource_type, props, config=DEV) == []


@pytest.mark.parametrize(
    ("resource_type", "base", "path", "value", "expected"),
    [
        (
            EKS_NODE_GROUP,
            EKS,
            "scalingConfig.minSize",
            2,
            [f"the GPU node group keeps 2 nodes running (scalingConfig.minSize) {SUFFIX}"],
        ),
        (
            EKS_NODE_GROUP,
            {**EKS, "instanceTypes": ["m7i.xlarge"], "amiType": "AL2023_x86_64_STANDARD"},
            "scalingConfig.minSize",
            2,
            [],
        ),
        (
            EKS_NODE_GROUP,
            {**EKS, "instanceTypes": ["p4d.24xlarge"], "amiType": "AL2023_x86_64_STANDARD"},
            "scalingConfig.minSize",
            1,
            [f"the GPU node group keeps 1 node running (scalingConfig.minSize) {SUFFIX}"],
        ),
        (
            EKS_NODE_GROUP,
            {"taints": [{"key": "nvidia.com/gpu", "effect": "NO_SCHEDULE"}], "scalingConfig": {"minSize": 0}},
            "scalingConfig.minSize",
            1,
            [f"the GPU node group keeps 1 node running (scalingConfig.minSize) {SUFFIX}"],
        ),
        (
            GKE_NODE_POOL,
            GKE,
            "autoscaling.totalMinNodeCount",
            1,
            [f"the GPU node pool keeps 1 node running (autoscaling.totalMinNodeCount) {SUFFIX}"],
        ),
        (
            GKE_NODE_POOL,
            GKE,
            "autoscaling.minNodeCount",
            3,
            [f"the GPU node pool keeps 3 nodes running (autoscaling.minNodeCount) {SUFFIX}"],
        ),
        (
            GKE_NODE_POOL,
            GKE,
            "initialNodeCount",
            1,
            [f"the GPU node pool keeps 1 node running (initialNodeCount) {SUFFIX}"],
        ),
        (
            GKE_NODE_POOL,
            {**GKE, "nodeConfig": {"machineType": "a3-highgpu-8g"}},
            "nodeCount",
            2,
            [f"the GPU node pool keeps 2 nodes running (nodeCount) {SUFFIX}"],
        ),
        (GKE_NODE_POOL, {**GKE, "nodeConfig": {"machineType": "n2-standard-8"}}, "initialNodeCount", 3, []),
        (
            AKS_AGENT_POOL,
            AKS_POOL,
            "minCount",
            1,
            [f"the GPU agent pool keeps 1 node running (minCount) {SUFFIX}"],
        ),
        (AKS_AGENT_POOL, AKS_POOL, "enableAutoScaling", False, []),
        (
            AKS_AGENT_POOL,
            {**AKS_POOL, "enableAutoScaling": False},
            "count",
            ...,
            [f"the GPU agent pool keeps 1 node running (count) {SUFFIX}"],
        ),
        (AKS_AGENT_POOL, {**AKS_POOL, "vmSize": "Standard_D8s_v5"}, "minCount", 2, []),
        (
            AKS_AGENT_POOL,
            {**AKS_POOL, "vmSize": "Standard_D8s_v5", "nodeTaints": ["nvidia.com/gpu=present:NoSchedule"]},
            "minCount",
            2,
            [f"the GPU agent pool keeps 2 nodes running (minCount) {SUFFIX}"],
        ),
    ],
    ids=[
        "eks-min",
        "eks-cpu",
        "eks-p4d",
        "eks-taint",
        "gke-total-min",
        "gke-min",
        "gke-initial",
        "gke-fixed-a3",
        "gke-cpu",
        "aks-min",
        "aks-fixed-zero",
        "aks-fixed-default",
        "aks-cpu",
        "aks-taint",
    ],
)
def test_mutations(
    check_policy: Any,
    with_value: Any,
    resource_type: str,
    base: dict[str, Any],
    path: str,
    value: Any,
    expected: list[str],
) -> None:
    assert check_policy(POLICY, resource_type, with_value(base, path, value), config=DEV) == expected


def test_inline_aks_pools_are_checked(check_policy: Any) -> None:
    props = {
        "agentPoolProfiles": [
            {"name": "system", "vmSize": "Standard_D4s_v5", "minCount": 1, "enableAutoScaling": True},
            {**AKS_POOL, "name": "gpu", "minCount": 1},
        ]
    }
    assert check_policy(POLICY, AKS_CLUSTER, props, config=DEV) == [
        f'GPU agent pool "gpu" keeps 1 node running (agentPoolProfiles[1].minCount) {SUFFIX}'
    ]


def test_production_may_keep_warm_gpus(check_policy: Any, stack: Any) -> None:
    warm = {**EKS, "scalingConfig": {"minSize": 2}}
    assert check_policy(POLICY, EKS_NODE_GROUP, warm, config={"environment": "prod"}) == []
    assert (
        check_policy(
            POLICY, EKS_NODE_GROUP, warm, config={"environment": "perf", "productionEnvironments": ["perf"]}
        )
        == []
    )
    stack("prod")
    assert check_policy(POLICY, EKS_NODE_GROUP, warm) == []
    stack("staging")
    assert check_policy(POLICY, EKS_NODE_GROUP, warm) == [
        "the GPU node group keeps 2 nodes running (scalingConfig.minSize) in non-production environment `staging`: "
        "set it to 0 so idle GPUs cost nothing (Karpenter pools already start at 0)"
    ]
