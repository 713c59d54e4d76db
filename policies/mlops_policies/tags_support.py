"""Whether a resource type accepts tags (AWS, Azure) or labels (GCP), from the provider SDK itself.

Provider wheels ship no schema, but each registers its resource classes by type token, and a class's
argument list says whether it takes tags: the logic of `scripts/hub/offline/resource_types.py`, kept here
because the pack must not import `scripts/`. The pack runs in the project's virtualenv
(PulumiPolicy.yaml), where the provider SDKs are installed; a package whose SDK is missing is treated
as untaggable.

Speed: importing an SDK module to inspect one class executes every class of that module (pulumi-gcp's
`compute` takes about 2 s), which made the pack spend 10 s on the prod plan. The argument list is read
instead from the class's source file with `ast`, without executing it (about 10 ms a type), and the
import is only the fallback for a class whose source cannot be found that way.
"""

import ast
import functools
import importlib
import inspect
import sys
from pathlib import Path

from pulumi.runtime import rpc

from mlops_policies.platform_support import unversioned

_SDKS = {
    "aws": "pulumi_aws",
    "gcp": "pulumi_gcp",
    "azure-native": "pulumi_azure_native",
}
"""Packages whose resources carry cost-attribution tags, and the SDK that implements each."""

_TAG_PROPERTIES = {"aws": ("tags",), "azure-native": ("tags",), "gcp": ("labels", "resource_labels")}


@functools.cache
def _registered_class(type_token: str) -> tuple[str, str] | None:
    """(module fqn, class name) the SDK registers for `type_token`, or None."""
    token = unversioned(type_token)
    package, _, rest = token.partition(":")
    module_name, _, _ = rest.rpartition(":")
    sdk = _SDKS.get(package)
    if sdk is None or not module_name:
        return None
    try:
        importlib.import_module(sdk)  # registers the package's resource modules (not their classes)
    except ImportError:
        return None
    for module in rpc._RESOURCE_MODULES.get(f"{package}:{module_name}", []):
        info = getattr(module, "mod_info", None)
        if info and token in info.get("classes", {}):
            return str(info["fqn"]), str(info["classes"][token])
    return None


def _source_parameters(fqn: str, class_name: str) -> frozenset[str] | None:
    """The class's `_internal_init` parameters, read from its source file without importing it."""
    top, *parts = fqn.split(".")
    root = getattr(sys.modules.get(top), "__file__", None)
    if root is None:
        return None
    directory = Path(root).parent.joinpath(*parts)
    # Generated files are the class name in snake case: IAMMember → iam_member.py, NatGateway → nat_gateway.py.
    wanted = class_name.lower()
    candidates = [p for p in directory.glob("*.py") if p.stem.replace("_", "") == wanted]
    if len(candidates) != 1:
        return None
    tree = ast.parse(candidates[0].read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "_internal_init":
                    return frozenset(a.arg for a in (*item.args.args, *item.args.kwonlyargs))
    return None


@functools.cache
def constructor_parameters(type_token: str) -> frozenset[str] | None:
    """The snake_case arguments the SDK class of `type_token` takes, or None for unknown types."""
    registered = _registered_class(type_token)
    if registered is None:
        return None
    fqn, class_name = registered
    found = _source_parameters(fqn, class_name)
    if found is not None:
        return found
    cls = getattr(importlib.import_module(fqn), class_name)
    # Provider classes keep their real argument list on _internal_init; __init__ is overloaded.
    return frozenset(inspect.signature(getattr(cls, "_internal_init", None) or cls).parameters)


@functools.cache
def tag_property(type_token: str) -> str | None:
    """The camelCase input that carries tags (AWS, Azure) or labels (GCP), or None if it has none."""
    parameters = constructor_parameters(type_token)
    if parameters is None:
        return None
    for name in _TAG_PROPERTIES.get(type_token.partition(":")[0], ()):
        if name in parameters:
            head, *rest = name.split("_")
            return head + "".join(part.title() for part in rest)
    return None
