"""k8s-capabilities-dropped: containers drop every Linux capability and add back no more than NET_BIND_SERVICE."""

import re
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
from mlops_policies.platform_support import shown
from mlops_policies.support import Controls, as_list, get, resource_policy

ALLOWED_ADDED = frozenset({"NET_BIND_SERVICE"})
"""What Pod Security's `restricted` profile lets a container add back after dropping ALL."""
_CAPABILITY = re.compile(r"^[A-Za-z_]{1,40}$")


def _capability(name: Any) -> str:
    return name.upper().removeprefix("CAP_") if isinstance(name, str) else ""


def kept_capabilities(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each container that does not drop ALL, and each that adds more than NET_BIND_SERVICE."""
    for _, container in containers(pod_specs(type_token, props)):
        capabilities = get(security_context(container.spec), "capabilities")
        if "ALL" not in {_capability(c) for c in as_list(get(capabilities, "drop"))}:
            yield (
                f"{container.label} keeps the runtime's default capabilities (NET_RAW among them): "
                "set securityContext.capabilities.drop: [ALL]"
            )
        added = [c for c in as_list(get(capabilities, "add")) if _capability(c) not in ALLOWED_ADDED]
        if added:
            names = ", ".join(shown(c, _CAPABILITY) for c in added)
            yield f"{container.label} adds capabilities {names}: only NET_BIND_SERVICE may be added back"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_unless_exempt(args, kept_capabilities(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="k8s-capabilities-dropped",
    description=(
        "Kubernetes containers drop all Linux capabilities (capabilities.drop: [ALL]) and add back at most "
        "NET_BIND_SERVICE."
    ),
    severity=Severity.MEDIUM,
    remediation="Set securityContext.capabilities = {drop: [ALL]} and add back only NET_BIND_SERVICE if the process binds a port below 1024.",
    controls=Controls(cis=("K8S-5.2.8", "K8S-5.2.9", "K8S-5.2.10"), nist=("AC-6", "CM-7")),
    validate=_validate,
    config_schema=workload_schema(),
)
