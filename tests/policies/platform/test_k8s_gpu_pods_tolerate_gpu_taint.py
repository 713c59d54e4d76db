"""k8s-gpu-pods-tolerate-gpu-taint: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy import EnforcementLevel

from mlops_policies.k8s_gpu_pods_tolerate_gpu_taint import POLICY

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
POD = "spec.template.spec"
BASELINE: dict[str, Any] = {
    "metadata": {"namespace": "ml"},
    "spec": {
        "template": {
            "spec": {
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                "containers": [{"name": "llm", "image": "i", "resources": {"limits": {"nvidia.com/gpu": 1}}}],
            }
        }
    },
}
INTOLERANT = (
    "the pod requests nvidia.com/gpu but does not tolerate the `nvidia.com/gpu` NoSchedule taint of GPU nodes: "
    "add a toleration {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}"
)


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, DEPLOYMENT, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (f"{POD}.tolerations", ..., [INTOLERANT]),
        (
            f"{POD}.tolerations",
            [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}],
            [INTOLERANT],
        ),
        (f"{POD}.tolerations", [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}], []),
        (f"{POD}.tolerations", [{"key": "nvidia.com/gpu", "value": "other"}], [INTOLERANT]),
        (f"{POD}.tolerations", [{"operator": "Exists"}], []),
        (f"{POD}.tolerations", [{"key": "nvidia.com/gpu", "operator": "Exists"}], []),
        (f"{POD}.containers.0.resources", {"limits": {"cpu": "1"}}, []),
    ],
    ids=[
        "none",
        "wrong-effect",
        "equal-present",
        "equal-other",
        "tolerate-everything",
        "any-effect",
        "no-gpu",
    ],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, DEPLOYMENT, with_value(BASELINE, path, value)) == expected


def test_it_is_advisory(check_policy: Any) -> None:
    # GKE adds the toleration itself (ExtendedResourceToleration); the policy cannot tell the cloud.
    assert POLICY.enforcement_level == EnforcementLevel.ADVISORY
