"""What every policy module shares: reading properties as the engine delivers them, and one way to declare.

Properties arrive as read-only proxies (Mapping/Sequence, never dict/list), every number as a float, and
values unknown during preview raise `UnknownValueError` when read. These helpers never catch that error:
the SDK turns it into an advisory "cannot run during preview" note, which is the intended behaviour.
Never echo a property value into a message unchecked: secrets arrive as plaintext.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

Validate = Callable[[ResourceValidationArgs, ReportViolation], None]


@dataclass(frozen=True, slots=True)
class Controls:
    """The controls a policy maps to, recorded as the policy's tags (`<framework>:<control>`)."""

    cis: tuple[str, ...] = ()
    nist: tuple[str, ...] = ()
    eu_ai_act: tuple[str, ...] = ()
    gdpr: tuple[str, ...] = ()

    def tags(self) -> list[str]:
        """The controls as CrossGuard tags, e.g. `nist-800-53:AC-6`."""
        return (
            [f"cis:{c}" for c in self.cis]
            + [f"nist-800-53:{c}" for c in self.nist]
            + [f"eu-ai-act:{c}" for c in self.eu_ai_act]
            + [f"gdpr:{c}" for c in self.gdpr]
        )


def resource_policy(
    *,
    name: str,
    description: str,
    severity: Severity,
    remediation: str,
    controls: Controls,
    validate: Validate,
    enforcement_level: EnforcementLevel = EnforcementLevel.MANDATORY,
    config_schema: PolicyConfigSchema | None = None,
) -> ResourceValidationPolicy:
    """A resource policy with every piece of metadata the pack requires."""
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=enforcement_level,
        config_schema=config_schema,
        severity=severity,
        tags=controls.tags(),
        remediation_steps=remediation,
    )


def get(value: Any, *path: str | int) -> Any:
    """The value at `path` inside nested Mappings/Sequences, or None where a step is missing."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, Sequence) or isinstance(value, str) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, Mapping) or step not in value:
                return None
            value = value[step]
    return value


def as_list(value: Any) -> list[Any]:
    """A property that may be one value or a list of them, as a list (None → [])."""
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return [value]


def json_document(value: Any) -> Mapping[str, Any] | None:
    """A policy document given as JSON text or as an object; None if it is neither."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, Mapping) else None
    return None


def statements(document: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The statements of an IAM policy document (a single statement object counts as one)."""
    if document is None:
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def provider_default_tags(args: ResourceValidationArgs) -> dict[str, Any]:
    """Tags the resource's provider adds to it (AWS `defaultTags`, GCP `defaultLabels`)."""
    if args.provider is None:
        return {}
    props = args.provider.props
    for key, inner in (("defaultTags", "tags"), ("defaultLabels", None)):
        if key not in props:
            continue
        value = json_document(props[key])
        if value is None:
            continue
        found = value.get(inner) if inner else value
        if isinstance(found, Mapping):
            return dict(found)
    return {}
