"""k8s-no-privileged-or-host-namespaces: no privileged containers, privilege escalation or host namespaces."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.k8s_support import (
    containers,
    pod_prefix,
    pod_specs,
    report_unless_exempt,
    security_context,
    workload_schema,
)
from mlops_policies.platform_support import is_false, is_true
from mlops_policies.support import Controls, resource_policy

HOST_NAMESPACES = (("hostNetwork", "network"), ("hostPID", "process (PID)"), ("hostIPC", "IPC"))


def privileged_settings(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each host namespace shared, privileged container and container able to escalate."""
    pods = pod_specs(type_token, props)
    for pod in pods:
        for key, namespace in HOST_NAMESPACES:
            if is_true(pod.spec.get(key)):
                yield f"{pod_prefix(pods, pod)}the pod shares the host's {namespace} namespace ({key}: true)"
    for _, container in containers(pods):
        context = security_context(container.spec)
        if is_true(context.get("privileged")):
            yield f"{container.label} is privileged (full access to the host's devices and kernel)"
        # Unset means allowed: the kernel's no_new_privs flag is only set for an explicit false.
        if not is_false(context.get("allowPrivilegeEscalation")):
            yield f"{container.label} may gain privileges: set securityContext.allowPrivilegeEscalation: false"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_unless_exempt(args, privileged_settings(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="k8s-no-privileged-or-host-namespaces",
    description=(
        "Kubernetes pods never share the host's network, PID or IPC namespace, and containers are neither "
        "privileged nor allowed to escalate privileges."
    ),
    severity=Severity.CRITICAL,
    remediation=(
        "Remove hostNetwork/hostPID/hostIPC and privileged: true; set securityContext.allowPrivilegeEscalation: "
        "false on every container. Workloads that need device access (GPU operator, dcgm-exporter) belong in a "
        "namespace listed in exemptNamespaces and labelled pod-security.kubernetes.io/enforce=privileged."
    ),
    controls=Controls(
        cis=("K8S-5.2.2", "K8S-5.2.3", "K8S-5.2.4", "K8S-5.2.5", "K8S-5.2.6"), nist=("AC-6", "CM-7", "SC-39")
    ),
    validate=_validate,
    config_schema=workload_schema(),
)
