"""k8s-pods-run-as-non-root: every container runs as a non-root user."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.k8s_support import (
    containers,
    pod_specs,
    report_unless_exempt,
    security_context,
    workload_schema,
)
from mlops_policies.platform_support import is_true, whole_number
from mlops_policies.support import Controls, resource_policy


def _effective(container_context: Mapping[str, Any], pod_context: Mapping[str, Any], key: str) -> Any:
    # A container's securityContext overrides the pod's, field by field.
    return container_context[key] if key in container_context else pod_context.get(key)


def root_containers(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each container that runs as UID 0 or is not required to run as non-root."""
    for pod, container in containers(pod_specs(type_token, props)):
        pod_context = pod.spec.get("securityContext")
        pod_context = pod_context if isinstance(pod_context, Mapping) else {}
        context = security_context(container.spec)
        if whole_number(_effective(context, pod_context, "runAsUser")) == 0:
            yield f"{container.label} runs as root (runAsUser: 0): use a non-zero UID"
        elif not is_true(_effective(context, pod_context, "runAsNonRoot")):
            yield (
                f"{container.label} may run as root: set securityContext.runAsNonRoot: true "
                "on the pod or the container"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_unless_exempt(args, root_containers(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="k8s-pods-run-as-non-root",
    description="Kubernetes containers must run as a non-root user (runAsNonRoot: true, never runAsUser: 0).",
    severity=Severity.HIGH,
    remediation=(
        "Set securityContext.runAsNonRoot: true (and a non-zero runAsUser if the image has no USER) on the pod "
        "spec or every container; build images with a non-root USER."
    ),
    controls=Controls(cis=("K8S-5.2.7",), nist=("AC-6", "CM-7")),
    validate=_validate,
    config_schema=workload_schema(),
)
