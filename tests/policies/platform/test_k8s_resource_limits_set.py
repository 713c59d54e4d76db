"""k8s-resource-limits-set: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.k8s_resource_limits_set import POLICY

CRONJOB = "kubernetes:batch/v1:CronJob"
POD = "spec.jobTemplate.spec.template.spec"
BASELINE: dict[str, Any] = {
    "metadata": {"namespace": "ml"},
    "spec": {
        "schedule": "0 * * * *",
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "eval",
                                "image": "i",
                                "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                            }
                        ],
                        "initContainers": [
                            {
                                "name": "fetch",
                                "image": "i",
                                "resources": {"limits": {"cpu": 1, "memory": "1Gi"}},
                            }
                        ],
                    }
                }
            }
        },
    },
}


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, CRONJOB, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            f"{POD}.containers.0.resources.limits.cpu",
            ...,
            ['container "eval" has no cpu limit: set resources.limits.{cpu}'],
        ),
        (
            f"{POD}.containers.0.resources.limits.memory",
            "",
            ['container "eval" has no memory limit: set resources.limits.{memory}'],
        ),
        (
            f"{POD}.containers.0.resources",
            ...,
            ['container "eval" has no cpu or memory limit: set resources.limits.{cpu, memory}'],
        ),
        (
            f"{POD}.initContainers.0.resources.limits",
            {"memory": "1Gi"},
            ['init container "fetch" has no cpu limit: set resources.limits.{cpu}'],
        ),
    ],
    ids=["no-cpu", "empty-memory", "no-resources", "init-container"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, CRONJOB, with_value(BASELINE, path, value)) == expected
