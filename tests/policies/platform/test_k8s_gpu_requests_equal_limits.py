"""k8s-gpu-requests-equal-limits: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.k8s_gpu_requests_equal_limits import POLICY

JOB = "kubernetes:batch/v1:Job"
RESOURCES = "spec.template.spec.containers.0.resources"
BASELINE: dict[str, Any] = {
    "metadata": {"namespace": "ml"},
    "spec": {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "train",
                        "image": "i",
                        "resources": {"requests": {"nvidia.com/gpu": 2}, "limits": {"nvidia.com/gpu": "2"}},
                    }
                ]
            }
        }
    },
}


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, JOB, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            f"{RESOURCES}.limits.nvidia.com/gpu",
            4,
            [
                'container "train" requests 2 nvidia.com/gpu but limits it to 4: GPUs cannot be overcommitted, '
                "make the request equal the limit"
            ],
        ),
        (
            f"{RESOURCES}.limits",
            {"cpu": "8"},
            [
                'container "train" requests nvidia.com/gpu without a limit: set resources.limits.nvidia.com/gpu to the request'
            ],
        ),
        # A limit alone is fine: Kubernetes sets the request to it.
        (f"{RESOURCES}.requests", {"cpu": "8"}, []),
        (f"{RESOURCES}", ..., []),
    ],
    ids=["unequal", "request-only", "limit-only", "no-gpu"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    # with_value splits paths on dots; the GPU key holds dots itself.
    if path.endswith("nvidia.com/gpu"):
        props = with_value(BASELINE, f"{RESOURCES}.limits", {"nvidia.com/gpu": value})
    else:
        props = with_value(BASELINE, path, value)
    assert check_policy(POLICY, JOB, props) == expected
