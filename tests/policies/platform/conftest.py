"""Helpers for the platform policy tests: single-property mutations and the pack's environment."""

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

WithValue = Callable[[Mapping[str, Any], str, Any], dict[str, Any]]
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The engine's sentinel for a string unknown during preview (pulumi_policy.proxy.UNKNOWN_STRING_VALUE)."""


def _with_value(base: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(dict(base))
    *parents, last = path.split(".")
    node: Any = result
    for step in parents:
        key: Any = int(step) if isinstance(node, list) else step
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        node = node[key]
    key = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return result


@pytest.fixture
def with_value() -> WithValue:
    """`with_value(base, "a.b.0.c", v)`: a deep copy with that path set (created as needed); `...` deletes it."""
    return _with_value


@pytest.fixture(autouse=True)
def _no_stack_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The pack reads the stack's name and config from the environment the engine starts it in.
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`stack("dev", {"aws:region": "eu-west-1"})`: the environment the engine gives the pack."""

    def set_stack(name: str, config: Mapping[str, Any] | None = None) -> None:
        monkeypatch.setenv("PULUMI_STACK", name)
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(dict(config or {})))

    return set_stack


@pytest.fixture
def unknown() -> str:
    """The sentinel the engine sends for a string value unknown during preview."""
    return UNKNOWN
