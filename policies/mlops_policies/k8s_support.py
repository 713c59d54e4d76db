"""Finding the pod specs inside Kubernetes objects, wherever their template sits.

A pod spec is a mapping with a `containers` list: `spec` of a Pod, `spec.template.spec` of a Deployment,
StatefulSet, DaemonSet, ReplicaSet or Job, `spec.jobTemplate.spec.template.spec` of a CronJob, and the
`*Spec`/`template` trees of custom resources such as KubeRay's RayCluster
(`spec.headGroupSpec.template.spec`, `spec.workerGroupSpecs[].template.spec`). The walk reads only the
keys that can lead to a pod spec, so an unknown value elsewhere (a Karpenter node class's role name)
does not turn a non-workload into a "cannot run during preview" note; values it does read may raise
`UnknownValueError`, which is left to the SDK.

Helm releases are not rendered offline: only objects Pulumi registers itself are seen.
"""

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs

from mlops_policies.platform_support import STRING_LIST, config_schema, config_strings
from mlops_policies.support import get

DEFAULT_EXEMPT_NAMESPACES = ("gpu-operator", "kube-system")
"""Namespaces the platform runs privileged on purpose (ClusterAddons labels `gpu-operator` privileged)."""

GPU_RESOURCE = "nvidia.com/gpu"
"""The extended resource NVIDIA's device plugin advertises."""

_DESCEND_KEYS = frozenset({"spec", "template", "templates", "jobTemplate", "podTemplate"})
_DESCEND_SUFFIXES = ("Spec", "Specs", "Template", "Templates")
_MAX_DEPTH = 12
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CONTAINER_LISTS = (("containers", "container"), ("initContainers", "init container"))


@dataclass(frozen=True, slots=True)
class PodSpec:
    """One pod spec found in an object, with where it sits (for messages when there are several)."""

    path: str
    spec: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Container:
    """One container of a pod spec and the words a message uses for it."""

    label: str
    """`container "trainer"`, `init container "fetch"`, prefixed with the pod spec path when there are several."""
    spec: Mapping[str, Any]


def _descends(key: str) -> bool:
    return key in _DESCEND_KEYS or key.endswith(_DESCEND_SUFFIXES)


def _walk(value: Any, path: str, depth: int) -> Iterator[PodSpec]:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, Sequence) and not isinstance(value, str):
        for index in range(len(value)):
            yield from _walk(value[index], f"{path}[{index}]", depth + 1)
        return
    if not isinstance(value, Mapping):
        return
    if "containers" in value:
        yield PodSpec(path, value)
        return
    for key in list(value):
        if isinstance(key, str) and _descends(key):
            yield from _walk(value[key], f"{path}.{key}" if path else key, depth + 1)


def is_workload_type(type_token: str) -> bool:
    """Kubernetes objects that may hold pod specs: every kind but patches (partial objects)."""
    return type_token.startswith("kubernetes:") and not type_token.endswith("Patch")


def pod_specs(type_token: str, props: Mapping[str, Any]) -> list[PodSpec]:
    """Every pod spec in a Kubernetes object's inputs (none for other types)."""
    if not is_workload_type(type_token):
        return []
    found: list[PodSpec] = []
    for key in ("spec", "template"):
        if key in props:
            found.extend(_walk(props[key], key, 0))
    return found


def _name(container: Mapping[str, Any], index: int) -> str:
    name = container.get("name")
    return f'"{name}"' if isinstance(name, str) and _DNS_LABEL.match(name) else f"#{index}"


def containers(pods: Sequence[PodSpec]) -> Iterator[tuple[PodSpec, Container]]:
    """Each container and init container of each pod spec, with its label.

    Ephemeral containers are left out: they are added to running pods through the API, never declared.
    """
    for pod in pods:
        prefix = f"{pod.path}: " if len(pods) > 1 else ""
        for key, word in _CONTAINER_LISTS:
            items = pod.spec.get(key)
            if not isinstance(items, Sequence) or isinstance(items, str):
                continue
            for index in range(len(items)):
                container = items[index]
                if isinstance(container, Mapping):
                    yield pod, Container(f"{prefix}{word} {_name(container, index)}", container)


def namespace_of(args: ResourceValidationArgs) -> str:
    """The object's namespace: its own, else its provider's default namespace, else `default`."""
    own = get(args.props, "metadata", "namespace")
    if isinstance(own, str) and own:
        return own
    if args.provider is not None and "namespace" in args.provider.props:
        from_provider = args.provider.props["namespace"]
        if isinstance(from_provider, str) and from_provider:
            return from_provider
    return "default"


def exempt(args: ResourceValidationArgs) -> bool:
    """Whether the object lies in a namespace listed in the policy's `exemptNamespaces`."""
    return namespace_of(args) in set(config_strings(args, "exemptNamespaces", DEFAULT_EXEMPT_NAMESPACES))


EXEMPT_NAMESPACES_SCHEMA: Mapping[str, Any] = {
    **STRING_LIST,
    "default": list(DEFAULT_EXEMPT_NAMESPACES),
    "description": "Namespaces the platform runs privileged on purpose; their objects are not checked.",
}


def workload_schema(extra: Mapping[str, Mapping[str, Any]] | None = None) -> PolicyConfigSchema:
    """The config schema of a workload policy: `exemptNamespaces` plus the policy's own properties."""
    return config_schema({"exemptNamespaces": EXEMPT_NAMESPACES_SCHEMA, **(extra or {})})


def security_context(container: Mapping[str, Any]) -> Mapping[str, Any]:
    """A container's securityContext, or an empty mapping."""
    context = container.get("securityContext")
    return context if isinstance(context, Mapping) else {}


def gpu_quantities(container: Mapping[str, Any]) -> tuple[Any, Any]:
    """The container's `nvidia.com/gpu` request and limit (None where unset)."""
    return (
        get(container, "resources", "requests", GPU_RESOURCE),
        get(container, "resources", "limits", GPU_RESOURCE),
    )


def report_unless_exempt(
    args: ResourceValidationArgs, messages: Iterable[str], report_violation: ReportViolation
) -> None:
    """Report each message unless the object's namespace is exempt (read only once there is a finding)."""
    exempted: bool | None = None
    for message in messages:
        if exempted is None:
            exempted = exempt(args)
        if exempted:
            return
        report_violation(message, None)


def pod_prefix(pods: Sequence[PodSpec], pod: PodSpec) -> str:
    """`<path>: ` when an object holds several pod specs, so pod-level messages say which."""
    return f"{pod.path}: " if len(pods) > 1 else ""
