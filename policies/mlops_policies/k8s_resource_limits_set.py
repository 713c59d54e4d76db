"""k8s-resource-limits-set: every container has CPU and memory limits."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.k8s_support import containers, pod_specs, report_unless_exempt, workload_schema
from mlops_policies.support import Controls, get, resource_policy

LIMITED_RESOURCES = ("cpu", "memory")


def missing_limits(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each container without a CPU or memory limit."""
    for _, container in containers(pod_specs(type_token, props)):
        limits = get(container.spec, "resources", "limits")
        missing = [
            resource
            for resource in LIMITED_RESOURCES
            if not isinstance(limits, Mapping) or resource not in limits or limits[resource] in (None, "")
        ]
        if missing:
            yield f"{container.label} has no {' or '.join(missing)} limit: set resources.limits.{{{', '.join(missing)}}}"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_unless_exempt(args, missing_limits(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="k8s-resource-limits-set",
    description=(
        "Kubernetes containers set CPU and memory limits, so one runaway training or inference pod cannot "
        "starve a node's other workloads."
    ),
    severity=Severity.MEDIUM,
    remediation="Set resources.limits.cpu and resources.limits.memory (and matching requests) on every container and init container.",
    controls=Controls(nist=("SC-6", "CM-6")),
    validate=_validate,
    config_schema=workload_schema(),
)
