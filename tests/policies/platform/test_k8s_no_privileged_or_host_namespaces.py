"""k8s-no-privileged-or-host-namespaces: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.k8s_no_privileged_or_host_namespaces import POLICY

DAEMONSET = "kubernetes:apps/v1:DaemonSet"
POD = "spec.template.spec"
CONTAINER = f"{POD}.containers.0"
BASELINE: dict[str, Any] = {
    "metadata": {"name": "agent", "namespace": "monitoring"},
    "spec": {
        "template": {
            "spec": {
                "hostNetwork": False,
                "containers": [
                    {
                        "name": "agent",
                        "image": "i",
                        "securityContext": {"privileged": False, "allowPrivilegeEscalation": False},
                    }
                ],
            }
        }
    },
}
ESCALATE = 'container "agent" may gain privileges: set securityContext.allowPrivilegeEscalation: false'


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, DAEMONSET, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (f"{POD}.hostNetwork", True, ["the pod shares the host's network namespace (hostNetwork: true)"]),
        (f"{POD}.hostPID", True, ["the pod shares the host's process (PID) namespace (hostPID: true)"]),
        (f"{POD}.hostIPC", True, ["the pod shares the host's IPC namespace (hostIPC: true)"]),
        (
            f"{CONTAINER}.securityContext.privileged",
            True,
            ['container "agent" is privileged (full access to the host\'s devices and kernel)'],
        ),
        (f"{CONTAINER}.securityContext.allowPrivilegeEscalation", True, [ESCALATE]),
        (f"{CONTAINER}.securityContext.allowPrivilegeEscalation", ..., [ESCALATE]),
        (f"{CONTAINER}.securityContext", ..., [ESCALATE]),
    ],
    ids=[
        "host-network",
        "host-pid",
        "host-ipc",
        "privileged",
        "escalation",
        "escalation-default",
        "no-context",
    ],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, DAEMONSET, with_value(BASELINE, path, value)) == expected


def test_the_gpu_operator_namespace_is_exempt(check_policy: Any, with_value: Any) -> None:
    privileged = with_value(BASELINE, f"{CONTAINER}.securityContext.privileged", True)
    assert check_policy(POLICY, DAEMONSET, with_value(privileged, "metadata.namespace", "gpu-operator")) == []


def test_pod_templates_of_custom_resources_are_walked(check_policy: Any) -> None:
    ray = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"namespace": "ml"},
        "spec": {
            "headGroupSpec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "head",
                                "image": "i",
                                "securityContext": {"allowPrivilegeEscalation": False},
                            }
                        ]
                    }
                }
            },
            "workerGroupSpecs": [
                {"template": {"spec": {"hostIPC": True, "containers": [{"name": "worker", "image": "i"}]}}}
            ],
        },
    }
    assert check_policy(POLICY, "kubernetes:ray.io/v1:RayCluster", ray) == [
        "spec.workerGroupSpecs[0].template.spec: the pod shares the host's IPC namespace (hostIPC: true)",
        'spec.workerGroupSpecs[0].template.spec: container "worker" may gain privileges: '
        "set securityContext.allowPrivilegeEscalation: false",
    ]


def test_patches_and_non_workloads_are_ignored(check_policy: Any, with_value: Any) -> None:
    privileged = with_value(BASELINE, f"{CONTAINER}.securityContext.privileged", True)
    assert check_policy(POLICY, "kubernetes:apps/v1:DaemonSetPatch", privileged) == []
    assert check_policy(POLICY, "kubernetes:core/v1:ConfigMap", {"data": {"a": "b"}}) == []
    assert (
        check_policy(POLICY, "kubernetes:helm.sh/v3:Release", {"values": {"spec": {"containers": [{}]}}})
        == []
    )
