"""cost-attribution-tags-present: every taggable resource carries the cost-attribution tags."""

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import (
    STRING_LIST,
    config_schema,
    config_strings,
    package_of,
    stack_config,
)
from mlops_policies.support import Controls, json_document, provider_default_tags, resource_policy
from mlops_policies.tags_support import tag_property

DEFAULT_REQUIRED_TAGS = ("environment", "team", "cost-center")
_DEFAULT_TAGS_CONFIG = {"aws": ("aws:defaultTags", "tags"), "gcp": ("gcp:defaultLabels", None)}


def _carries(tags: Mapping[str, Any], key: str) -> bool:
    return key in tags and tags[key] not in (None, "")


def missing_tags(required: Sequence[str], own: Any, defaults: Mapping[str, Any]) -> list[str]:
    """Required keys neither the resource's own tags nor its provider's default tags carry (with a value)."""
    own_tags = own if isinstance(own, Mapping) else {}
    return [key for key in required if not _carries(own_tags, key) and not _carries(defaults, key)]


def default_tags(args: ResourceValidationArgs) -> Mapping[str, Any]:
    """Tags the provider adds: an explicit provider's, else the default provider's from stack config."""
    if args.provider is not None:
        return provider_default_tags(args)
    entry = _DEFAULT_TAGS_CONFIG.get(package_of(args.resource_type))
    if entry is None:
        return {}
    key, inner = entry
    document = json_document(stack_config().get(key))
    found = document.get(inner) if document is not None and inner else document
    return found if isinstance(found, Mapping) else {}


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    prop = tag_property(args.resource_type)
    if prop is None:
        return
    required = config_strings(args, "requiredTags", DEFAULT_REQUIRED_TAGS)
    own = args.props.get(prop)
    missing = missing_tags(required, own, default_tags(args))
    if missing:
        word = "labels" if package_of(args.resource_type) == "gcp" else "tags"
        report_violation(
            f"missing cost-attribution {word}: {', '.join(missing)}; set them in `{prop}` or the provider's "
            f"default {word}",
            None,
        )


POLICY = resource_policy(
    name="cost-attribution-tags-present",
    description=(
        "Every AWS, GCP and Azure resource that accepts tags (labels on GCP) carries the cost-attribution "
        "tags, its own or its provider's default tags; azure-native has no default tags."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        "Pass the stack tags to the provider (aws defaultTags, gcp defaultLabels); on Azure pass them to every "
        "resource's `tags`. Required keys come from requiredTags."
    ),
    controls=Controls(nist=("CM-8", "PM-5")),
    validate=_validate,
    config_schema=config_schema(
        {
            "requiredTags": {
                **STRING_LIST,
                "default": list(DEFAULT_REQUIRED_TAGS),
                "description": "Tag (label) keys every taggable resource must carry with a value.",
            }
        }
    ),
)
