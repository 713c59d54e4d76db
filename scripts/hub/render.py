"""Text rendering of a plan, shaped like `pulumi preview`: a tree by parent, then outputs and counts."""

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def render_plan(plan: Mapping[str, Any]) -> str:
    """The plan as the lines `pulumi preview` would print for a first deployment."""
    resources = plan["resources"]
    children: dict[str | None, list[Mapping[str, Any]]] = defaultdict(list)
    for resource in resources:
        children[resource["parent"]].append(resource)
    by_urn = {r["urn"]: r for r in resources}
    width = max((len(r["type"]) + 3 * _depth(r, by_urn) for r in resources), default=20) + 4
    lines = [
        f"Previewing update ({plan['stack']}) of project {plan['project']}: offline, no cloud calls",
        "",
        f"     {'Type':<{width}}Name",
    ]

    def walk(parent: str | None, prefix: str) -> None:
        items = children.get(parent, [])
        for index, resource in enumerate(items):
            last = index == len(items) - 1
            branch = "" if parent is None else ("└─ " if last else "├─ ")
            op = "=" if resource.get("read") else "+"
            label = f"{prefix}{branch}{resource['type']}"
            lines.append(f" {op}   {label:<{width}}{resource['name']}")
            walk(resource["urn"], prefix + ("" if parent is None else ("   " if last else "│  ")))

    walk(None, "")
    outputs = plan.get("outputs") or {}
    if outputs:
        lines += ["", "Outputs:"]
        lines += [f"    {key}: {_short(value)}" for key, value in sorted(outputs.items())]
    counts = Counter(r["type"] for r in resources if not r.get("read"))
    lines += ["", "Resources:", f"    + {sum(counts.values())} to create"]
    type_width = max((len(t) for t in counts), default=10) + 2
    lines += [f"      {t:<{type_width}}{n}" for t, n in sorted(counts.items())]
    return "\n".join(lines)


def _depth(resource: Mapping[str, Any], by_urn: Mapping[str, Mapping[str, Any]]) -> int:
    depth = 0
    parent = resource["parent"]
    while parent in by_urn:
        depth += 1
        parent = by_urn[parent]["parent"]
    return depth
