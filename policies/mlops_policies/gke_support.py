"""The node configurations of GKE clusters and node pools, and the IAM grants of GCP IAM resources."""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlops_policies.platform_support import class_of, is_true, package_of
from mlops_policies.platform_types import GCP_IAM_CLASS, GKE_CLUSTER, GKE_NODE_POOL
from mlops_policies.support import as_list, json_document

_POOL_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """One `nodeConfig` that GKE boots nodes from, and how a message names the pool it belongs to."""

    label: str
    config: Mapping[str, Any]


def is_autopilot(props: Mapping[str, Any]) -> bool:
    """Whether a GKE cluster is Autopilot (Google manages its nodes and their hardening)."""
    return is_true(props.get("enableAutopilot"))


def node_configs(type_token: str, props: Mapping[str, Any]) -> list[NodeConfig]:
    """The node configurations a GKE resource boots nodes from (unset blocks as empty mappings).

    A node pool has its own. A Standard cluster has one per inline `nodePools` entry or, without them,
    the default pool's `nodeConfig`: even with `removeDefaultNodePool` that pool boots nodes while the
    cluster is created. Autopilot clusters have none the user sets.
    """

    def config(value: Any) -> Mapping[str, Any]:
        return value if isinstance(value, Mapping) else {}

    if type_token == GKE_NODE_POOL:
        return [NodeConfig("node pool", config(props.get("nodeConfig")))]
    if type_token != GKE_CLUSTER or is_autopilot(props):
        return []
    pools = as_list(props.get("nodePools"))
    if not pools:
        return [NodeConfig("default node pool", config(props.get("nodeConfig")))]
    found = []
    for index, pool in enumerate(pools):
        if not isinstance(pool, Mapping):
            continue
        name = pool.get("name")
        label = (
            f'node pool "{name}"'
            if isinstance(name, str) and _POOL_NAME.match(name)
            else f"node pool #{index}"
        )
        found.append(NodeConfig(label, config(pool.get("nodeConfig"))))
    return found


@dataclass(frozen=True, slots=True)
class Grant:
    """One role granted by a GCP IAM resource; `where` names a policy binding ("" for member/binding types)."""

    where: str
    role: Any
    _source: Mapping[str, Any]
    _member_keys: tuple[str, ...]

    def members(self) -> list[Any]:
        """The principals granted the role, read only when asked: they are often unknown in preview
        (a service account's `member` output) while the role rarely is."""
        return [m for key in self._member_keys for m in as_list(self._source.get(key))]


def is_iam_grant(type_token: str) -> bool:
    """Every GCP `*IAMMember`, `*IAMBinding` and `*IAMPolicy` type (IamMember... spelled either way)."""
    return package_of(type_token) == "gcp" and GCP_IAM_CLASS.match(class_of(type_token)) is not None


def iam_grants(type_token: str, props: Mapping[str, Any]) -> Iterator[Grant]:
    """The roles a GCP IAM resource grants: `role` with `member`/`members`, or `policyData` bindings."""
    if not is_iam_grant(type_token):
        return
    if "role" in props:
        yield Grant("", props["role"], props, ("member", "members"))
    if "policyData" in props:
        document = json_document(props["policyData"])
        bindings = as_list(document.get("bindings")) if document is not None else []
        for index, binding in enumerate(bindings):
            if isinstance(binding, Mapping):
                yield Grant(f"policy binding {index}", binding.get("role"), binding, ("members",))
