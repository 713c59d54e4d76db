"""k8s-read-only-root-filesystem: containers cannot write to their image's filesystem."""

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
from mlops_policies.platform_support import is_true
from mlops_policies.support import Controls, resource_policy


def writable_root_filesystems(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each container whose root filesystem is writable (the default)."""
    for _, container in containers(pod_specs(type_token, props)):
        if not is_true(security_context(container.spec).get("readOnlyRootFilesystem")):
            yield (
                f"{container.label} has a writable root filesystem: set "
                "securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it writes"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_unless_exempt(args, writable_root_filesystems(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="k8s-read-only-root-filesystem",
    description="Kubernetes containers run with a read-only root filesystem (readOnlyRootFilesystem: true).",
    severity=Severity.MEDIUM,
    remediation=(
        "Set securityContext.readOnlyRootFilesystem: true; give the paths the process writes (/tmp, caches, "
        "model downloads) an emptyDir or a volume."
    ),
    controls=Controls(nist=("CM-7", "SI-7")),
    validate=_validate,
    config_schema=workload_schema(),
)
