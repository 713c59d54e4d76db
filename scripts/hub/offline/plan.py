"""The plan document: what an offline preview would deploy, as JSON.

Shape: `{"project", "stack", "config", "resources": [{"urn", "type", "name", "parent", "dependencies",
"provider", "inputs", "options", ...}], "outputs", "diagnostics"}`. Secrets appear only as `[secret]`,
values a preview cannot know as `[unknown]`.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.hub.offline.engine import RunResult

PLAN_VERSION = 1


def build_plan(
    project: str, stack: str, shown_config: Mapping[str, Any], result: RunResult
) -> dict[str, Any]:
    """The plan document of one offline run."""
    return {
        "version": PLAN_VERSION,
        "project": project,
        "stack": stack,
        "config": dict(shown_config),
        "resources": [r.to_document() for r in result.resources],
        "outputs": result.outputs,
        "diagnostics": [
            {"severity": d.severity, "message": d.message, "urn": d.urn} for d in result.diagnostics
        ],
    }


def write_plan(plan: Mapping[str, Any], path: Path) -> None:
    """Write `plan` as indented JSON, creating parent directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(plan, indent=2, sort_keys=False) + "\n", encoding="utf-8")
