"""What the provider SDKs say about a resource type token, without a provider schema.

Provider wheels ship no schema, but each registers its resource classes by type token; the class's
constructor tells which properties a resource accepts (for example whether it can be tagged).
"""

import functools
import importlib
import inspect
import json
from collections.abc import Mapping
from typing import Any

from pulumi.runtime import rpc

# Package name in a type token → the Python SDK that implements it.
_SDKS = {
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "azure-native": "pulumi_azure_native",
    "kubernetes": "pulumi_kubernetes",
    "random": "pulumi_random",
}

_TAG_PROPERTIES = {"aws": ("tags",), "azure-native": ("tags",), "gcp": ("labels", "resource_labels")}


@functools.cache
def resource_class(type_token: str) -> type | None:
    """The SDK class registered for `type_token`, or None for components and unknown packages."""
    package, _, rest = type_token.partition(":")
    module_name, _, _ = rest.rpartition(":")
    sdk = _SDKS.get(package)
    if sdk is None or not module_name:
        return None
    importlib.import_module(sdk)  # registers the package's resource modules
    for module in rpc._RESOURCE_MODULES.get(f"{package}:{module_name}", []):
        info = getattr(module, "mod_info", None)
        if info and type_token in info.get("classes", {}):
            return getattr(importlib.import_module(info["fqn"]), info["classes"][type_token])  # type: ignore[no-any-return]
    return None


@functools.cache
def tag_property(type_token: str) -> str | None:
    """The camelCase input that carries tags (AWS, Azure) or labels (GCP), or None if it has none."""
    package = type_token.partition(":")[0]
    cls = resource_class(type_token)
    if cls is None:
        return None
    # Provider classes keep their real argument list on _internal_init; __init__ is overloaded.
    parameters = inspect.signature(getattr(cls, "_internal_init", None) or cls).parameters
    for name in _TAG_PROPERTIES.get(package, ()):
        if name in parameters:
            head, *rest = name.split("_")
            return head + "".join(part.title() for part in rest)
    return None


def _decoded(value: Any) -> Any:
    # Provider configuration reaches the engine as JSON text.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def provider_default_tags(provider: Mapping[str, Any] | None) -> dict[str, Any]:
    """Tags a provider adds to every taggable resource (AWS `defaultTags`, GCP `defaultLabels`)."""
    if provider is None:
        return {}
    inputs = provider.get("inputs", {})
    if provider.get("type") == "pulumi:providers:aws":
        default_tags = _decoded(inputs.get("defaultTags")) or {}
        tags = default_tags.get("tags") if isinstance(default_tags, dict) else None
        return dict(tags) if isinstance(tags, dict) else {}
    if provider.get("type") == "pulumi:providers:gcp":
        labels = _decoded(inputs.get("defaultLabels"))
        return dict(labels) if isinstance(labels, dict) else {}
    return {}


def effective_tags(resource: Mapping[str, Any], provider: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The tags a plan resource ends up with (its own over its provider's defaults); None if untaggable."""
    prop = tag_property(str(resource["type"]))
    if prop is None:
        return None
    own = resource.get("inputs", {}).get(prop)
    return {**provider_default_tags(provider), **(own if isinstance(own, dict) else {})}
