"""k8s-gpu-pods-tolerate-gpu-taint: pods that request GPUs tolerate the GPU nodes' taint."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.k8s_support import (
    GPU_RESOURCE,
    containers,
    gpu_quantities,
    pod_prefix,
    pod_specs,
    report_unless_exempt,
    workload_schema,
)
from mlops_policies.platform_support import whole_number
from mlops_policies.support import Controls, as_list, resource_policy

GPU_TAINT_VALUE = "present"
"""The value of the `nvidia.com/gpu` taint our GPU pools carry (components/compute/contract.py GPU_TAINT)."""
NO_SCHEDULE = "NoSchedule"


def _asks_for_gpus(value: Any) -> bool:
    count = whole_number(value)
    return count > 0 if count is not None else value not in (None, "")


def tolerates_gpu_taint(toleration: Any) -> bool:
    """Whether a toleration lets a pod onto nodes tainted `nvidia.com/gpu=present:NoSchedule`."""
    if not isinstance(toleration, Mapping):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    effect = toleration.get("effect") or ""
    if effect not in ("", NO_SCHEDULE):
        return False
    if operator == "Exists":
        return key in ("", GPU_RESOURCE)
    return key == GPU_RESOURCE and toleration.get("value") == GPU_TAINT_VALUE


def intolerant_gpu_pods(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each pod spec that requests GPUs without tolerating the GPU taint."""
    pods = pod_specs(type_token, props)
    for pod in pods:
        wants_gpu = any(
            _asks_for_gpus(quantity)
            for _, container in containers([pod])
            for quantity in gpu_quantities(container.spec)
        )
        if wants_gpu and not any(tolerates_gpu_taint(t) for t in as_list(pod.spec.get("tolerations"))):
            yield (
                f"{pod_prefix(pods, pod)}the pod requests {GPU_RESOURCE} but does not tolerate the "
                f"`{GPU_RESOURCE}` {NO_SCHEDULE} taint of GPU nodes: add a toleration "
                f"{{key: {GPU_RESOURCE}, operator: Exists, effect: {NO_SCHEDULE}}}"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_unless_exempt(args, intolerant_gpu_pods(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="k8s-gpu-pods-tolerate-gpu-taint",
    description=(
        "Kubernetes pods that request nvidia.com/gpu tolerate the nvidia.com/gpu NoSchedule taint that keeps "
        "other workloads off GPU nodes."
    ),
    severity=Severity.LOW,
    remediation=(
        "Add tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}] to the pod spec. "
        "Without it the pod stays Pending on EKS and AKS."
    ),
    controls=Controls(nist=("CM-6",)),
    validate=_validate,
    # Advisory: GKE's ExtendedResourceToleration admission adds this toleration itself, and a policy cannot
    # tell which cloud a Kubernetes provider points at, so a GKE-only workload would be a false positive.
    enforcement_level=EnforcementLevel.ADVISORY,
    config_schema=workload_schema(),
)
