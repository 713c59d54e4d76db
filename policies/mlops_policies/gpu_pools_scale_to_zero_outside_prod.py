"""gpu-pools-scale-to-zero-outside-prod: GPU node pools outside production can shrink to no nodes."""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import (
    STRING_LIST,
    config_schema,
    config_strings,
    config_value,
    is_true,
    report_all,
    stack_name,
    unversioned,
    whole_number,
)
from mlops_policies.platform_types import AKS_AGENT_POOL, AKS_CLUSTER, EKS_NODE_GROUP, GKE_NODE_POOL
from mlops_policies.support import Controls, as_list, get, resource_policy

DEFAULT_PRODUCTION_ENVIRONMENTS = ("prod",)

_AWS_GPU_INSTANCE = re.compile(r"^(p\d|g\d|gr\d|trn\d|inf\d|dl\d)[a-z0-9-]*\.", re.IGNORECASE)
"""EC2 families with GPUs (P, G, GR) or ML accelerators (Trainium, Inferentia, DL1)."""
_AWS_GPU_AMI = re.compile(r"NVIDIA|GPU|NEURON", re.IGNORECASE)
_GCP_GPU_MACHINE = re.compile(r"^(a2|a3|a4|a4x|g2|g4)-", re.IGNORECASE)
"""GCE machine families that always come with GPUs attached."""
_AZURE_GPU_SIZE = re.compile(r"^standard_n", re.IGNORECASE)
"""Azure N-series (NC, ND, NV, NG): the GPU VM sizes."""
_GPU_KEY = re.compile(r"accelerator|^nvidia\.com/gpu", re.IGNORECASE)
_POOL_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


@dataclass(frozen=True, slots=True)
class MinimumNodes:
    """A setting that keeps nodes running, as `<key>` = count."""

    key: str
    count: int


def _gpu_labels_or_taints(labels: Any, taints: Any) -> bool:
    keys: list[Any] = list(labels) if isinstance(labels, Mapping) else []
    for taint in as_list(taints):
        keys.append(taint.get("key") if isinstance(taint, Mapping) else taint)
    return any(isinstance(key, str) and _GPU_KEY.search(key) for key in keys)


def _kept(props: Mapping[str, Any], keys: Sequence[str], default: int = 0) -> Iterator[MinimumNodes]:
    for key in keys:
        value = get(props, *key.split("."))
        count = whole_number(value) if value is not None else default
        if count is not None and count > 0:
            yield MinimumNodes(key, count)


def _eks(props: Mapping[str, Any]) -> Iterator[MinimumNodes]:
    gpu = (
        any(isinstance(t, str) and _AWS_GPU_INSTANCE.match(t) for t in as_list(props.get("instanceTypes")))
        or (isinstance(props.get("amiType"), str) and _AWS_GPU_AMI.search(props["amiType"]) is not None)
        or _gpu_labels_or_taints(props.get("labels"), props.get("taints"))
    )
    if gpu:
        yield from _kept(props, ("scalingConfig.minSize",))


def _gke(props: Mapping[str, Any]) -> Iterator[MinimumNodes]:
    node_config = props.get("nodeConfig")
    node_config = node_config if isinstance(node_config, Mapping) else {}
    machine = node_config.get("machineType")
    gpu = (
        any(
            isinstance(a, Mapping) and (whole_number(a.get("count")) or 0) > 0
            for a in as_list(node_config.get("guestAccelerators"))
        )
        or (isinstance(machine, str) and _GCP_GPU_MACHINE.match(machine) is not None)
        or _gpu_labels_or_taints(node_config.get("labels"), node_config.get("taints"))
    )
    if gpu:
        # Counts are per zone except the totals; unset counts default to 0 in the provider.
        yield from _kept(
            props,
            ("autoscaling.minNodeCount", "autoscaling.totalMinNodeCount", "initialNodeCount", "nodeCount"),
        )


def _aks_pool(pool: Mapping[str, Any]) -> Iterator[MinimumNodes]:
    size = pool.get("vmSize")
    gpu = (
        (isinstance(size, str) and _AZURE_GPU_SIZE.match(size) is not None)
        or pool.get("gpuProfile") is not None
        or _gpu_labels_or_taints(pool.get("nodeLabels"), pool.get("nodeTaints"))
    )
    if not gpu:
        return
    if is_true(pool.get("enableAutoScaling")):
        yield from _kept(pool, ("minCount",))
    else:
        # Without the autoscaler the pool has `count` nodes, 1 when unset.
        yield from _kept(pool, ("count",), default=1)


def kept_gpu_nodes(type_token: str, props: Mapping[str, Any]) -> Iterator[tuple[str, MinimumNodes]]:
    """(subject, setting) for each GPU pool setting that keeps nodes running when idle."""
    token = unversioned(type_token)
    if token == EKS_NODE_GROUP:
        yield from (("the GPU node group", kept) for kept in _eks(props))
    elif token == GKE_NODE_POOL:
        yield from (("the GPU node pool", kept) for kept in _gke(props))
    elif token == AKS_AGENT_POOL:
        yield from (("the GPU agent pool", kept) for kept in _aks_pool(props))
    elif token == AKS_CLUSTER:
        for index, pool in enumerate(as_list(props.get("agentPoolProfiles"))):
            if isinstance(pool, Mapping):
                name = pool.get("name")
                label = (
                    f'GPU agent pool "{name}"'
                    if isinstance(name, str) and _POOL_NAME.match(name)
                    else f"GPU agent pool #{index}"
                )
                prefix = f"agentPoolProfiles[{index}]."
                yield from ((label, MinimumNodes(prefix + kept.key, kept.count)) for kept in _aks_pool(pool))


def idle_gpu_nodes(type_token: str, props: Mapping[str, Any], environment: str) -> Iterator[str]:
    """A message for each GPU pool setting that keeps nodes in a non-production environment."""
    for subject, kept in kept_gpu_nodes(type_token, props):
        nodes = "node" if kept.count == 1 else "nodes"
        yield (
            f"{subject} keeps {kept.count} {nodes} running ({kept.key}) in non-production environment "
            f"`{environment}`: set it to 0 so idle GPUs cost nothing (Karpenter pools already start at 0)"
        )


def environment_of(args: ResourceValidationArgs) -> str | None:
    """The environment: the policy's `environment` config, else the stack name."""
    configured = config_value(args, "environment", None)
    return configured if isinstance(configured, str) and configured else stack_name()


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    environment = environment_of(args)
    production = config_strings(args, "productionEnvironments", DEFAULT_PRODUCTION_ENVIRONMENTS)
    if environment is None or environment in production:
        return
    report_all(idle_gpu_nodes(args.resource_type, args.props, environment), report_violation)


POLICY = resource_policy(
    name="gpu-pools-scale-to-zero-outside-prod",
    description=(
        "Outside production, GPU node pools (EKS node groups, GKE node pools, AKS agent pools) have a minimum "
        "of zero nodes, so idle accelerators cost nothing."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        "Set the pool's minimum to 0 (EKS scalingConfig.minSize, GKE autoscaling min/total min node count and "
        "initialNodeCount, AKS minCount with enableAutoScaling) and let the autoscaler add GPU nodes on demand; "
        "on EKS prefer Karpenter for GPU pools."
    ),
    controls=Controls(nist=("CM-6", "SA-4")),
    validate=_validate,
    config_schema=config_schema(
        {
            "environment": {
                "type": "string",
                "description": "The stack's environment; the stack name when unset.",
            },
            "productionEnvironments": {
                **STRING_LIST,
                "default": list(DEFAULT_PRODUCTION_ENVIRONMENTS),
                "description": "Environments whose GPU pools may keep warm nodes.",
            },
        }
    ),
)
