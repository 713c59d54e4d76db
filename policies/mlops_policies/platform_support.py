"""Helpers the GCP, Azure, Kubernetes and cross-cloud policies share, beside `support`.

Policy config arrives as plain JSON (never behind the unknown-checking proxy) and only for keys the user
set: the SDK does not fill in schema defaults, so every read names its default here. The stack's name and
config reach the pack in its environment (`PULUMI_STACK`, `PULUMI_CONFIG`), as the engine starts it.
Nothing here catches `UnknownValueError`.
"""

import ipaddress
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs

_VERSIONED_MODULE = re.compile(r"/v\d{8}(?:preview|privatepreview)?$|/v\d+(?:alpha|beta)\d*$", re.IGNORECASE)
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")


def unversioned(type_token: str) -> str:
    """An azure-native token without its API version (`.../v20240101:X` → `...:X`); others unchanged."""
    package, _, rest = type_token.partition(":")
    module, _, name = rest.rpartition(":")
    if package != "azure-native" or not module:
        return type_token
    return f"{package}:{_VERSIONED_MODULE.sub('', module)}:{name}"


def package_of(type_token: str) -> str:
    """The package of a type token (`aws`, `gcp`, `azure-native`, `kubernetes`...)."""
    return type_token.partition(":")[0]


def module_of(type_token: str) -> str:
    """The module of a type token without its file part (`gcp:cloudrunv2/serviceIamMember:X` → `cloudrunv2`)."""
    return type_token.partition(":")[2].rpartition(":")[0].split("/")[0]


def class_of(type_token: str) -> str:
    """The class part of a type token (`gcp:projects/iAMMember:IAMMember` → `IAMMember`)."""
    return type_token.rpartition(":")[2]


def report_all(messages: Iterable[str], report_violation: ReportViolation) -> None:
    """Report each message as the check yields it, so findings made before an unknown value still count."""
    for message in messages:
        report_violation(message, None)


def config_value(args: ResourceValidationArgs, key: str, default: Any) -> Any:
    """The policy's config value for `key`, or `default` where the user set none."""
    config = args.get_config() or {}
    return config[key] if key in config and config[key] is not None else default


def config_strings(args: ResourceValidationArgs, key: str, default: Sequence[str]) -> list[str]:
    """A list-of-strings config value.

    Raises:
        ValueError: the configured value is not a list of strings (the engine validates against the
            schema first, so this only fires for a hand-run pack).
    """
    value = config_value(args, key, list(default))
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not all(isinstance(v, str) for v in value)
    ):
        raise ValueError(f"policy config `{key}` must be a list of strings")
    return list(value)


def config_schema(properties: Mapping[str, Mapping[str, Any]]) -> PolicyConfigSchema:
    """A config schema from JSON-schema property definitions (each with its `default`)."""
    return PolicyConfigSchema(properties={k: dict(v) for k, v in properties.items()})


STRING_LIST: Mapping[str, Any] = {"type": "array", "items": {"type": "string"}}
"""JSON schema of a list of strings."""


def stack_name() -> str | None:
    """The stack the pack analyses (`PULUMI_STACK`, set by the engine), or None outside a pack."""
    return os.environ.get("PULUMI_STACK") or None


def stack_config() -> Mapping[str, Any]:
    """The stack's config as the engine hands it to the pack (`PULUMI_CONFIG`, already decrypted).

    Never echo values from it: secrets are in plaintext.
    """
    raw = os.environ.get("PULUMI_CONFIG")
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, Mapping) else {}


def is_true(value: Any) -> bool:
    """Whether a boolean input is set to true (None and anything else is not)."""
    return value is True


def is_false(value: Any) -> bool:
    """Whether a boolean input is explicitly false (None, the unset value, is not)."""
    return value is False


def whole_number(value: Any) -> int | None:
    """A count as an int (inputs arrive as floats: 3 → 3.0), or None when it is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def shown(value: Any, pattern: re.Pattern[str] = _SAFE_TEXT) -> str:
    """`value` quoted for a message when it is plain identifier-like text, else a neutral placeholder.

    Property values can be secrets delivered in plaintext; only short values matching `pattern`
    (names, regions, roles, image references) are echoed.
    """
    if isinstance(value, str) and pattern.match(value):
        return f"`{value}`"
    return "(value not shown)"


def admits_everyone(cidr: Any) -> bool:
    """Whether a CIDR covers every address (0.0.0.0/0, ::/0, or any spelling of a /0)."""
    if not isinstance(cidr, str):
        return False
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False).prefixlen == 0
    except ValueError:
        return False
