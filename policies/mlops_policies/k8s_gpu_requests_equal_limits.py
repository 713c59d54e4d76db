"""k8s-gpu-requests-equal-limits: a container's nvidia.com/gpu request equals its limit."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.k8s_support import (
    GPU_RESOURCE,
    containers,
    gpu_quantities,
    pod_specs,
    report_unless_exempt,
    workload_schema,
)
from mlops_policies.platform_support import whole_number
from mlops_policies.support import Controls, resource_policy


def _quantity(value: Any) -> str:
    number = whole_number(value)
    return str(number) if number is not None else "(value not shown)"


def _same(request: Any, limit: Any) -> bool:
    request_count, limit_count = whole_number(request), whole_number(limit)
    if request_count is not None and limit_count is not None:
        return request_count == limit_count
    return bool(request == limit)


def unequal_gpu_quantities(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each container whose GPU request has no limit or differs from it."""
    for _, container in containers(pod_specs(type_token, props)):
        request, limit = gpu_quantities(container.spec)
        if request is None:
            # A limit alone is fine: Kubernetes sets the request of an extended resource to its limit.
            continue
        if limit is None:
            yield f"{container.label} requests {GPU_RESOURCE} without a limit: set resources.limits.{GPU_RESOURCE} to the request"
        elif not _same(request, limit):
            yield (
                f"{container.label} requests {_quantity(request)} {GPU_RESOURCE} but limits it to {_quantity(limit)}: "
                "GPUs cannot be overcommitted, make the request equal the limit"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_unless_exempt(args, unequal_gpu_quantities(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="k8s-gpu-requests-equal-limits",
    description=(
        "Kubernetes containers that request nvidia.com/gpu set the same number as their limit (the API server "
        "rejects anything else at apply time, after the preview passed)."
    ),
    severity=Severity.MEDIUM,
    remediation="Set resources.limits.nvidia.com/gpu, and resources.requests.nvidia.com/gpu if given, to the same whole number.",
    controls=Controls(nist=("CM-6", "SC-6")),
    validate=_validate,
    config_schema=workload_schema(),
)
