"""Run one policy the way the SDK runs it: props through protobuf, deserialized, behind the unknown-checking proxy."""

from collections.abc import Callable, Mapping
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    PolicyProviderResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

CheckPolicy = Callable[..., list[str]]


def _as_engine_delivers(props: Mapping[str, Any]) -> Any:
    # Through a protobuf Struct exactly as the engine sends them: every number becomes a float.
    struct = struct_pb2.Struct()
    json_format.ParseDict(props, struct)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def run_policy(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: Mapping[str, Any],
    *,
    provider: tuple[str, Mapping[str, Any]] | None = None,
    config: Mapping[str, Any] | None = None,
    name: str = "subject",
) -> list[str]:
    """The violation messages `policy` reports for one resource."""
    urn = f"urn:pulumi:test::mlops-hub::{resource_type}::{name}"
    provider_resource = None
    if provider is not None:
        provider_type, provider_props = provider
        provider_resource = PolicyProviderResource(
            provider_type,
            _as_engine_delivers(provider_props),
            f"urn:pulumi:test::mlops-hub::{provider_type}::p",
            "p",
        )
    args = ResourceValidationArgs(
        resource_type,
        _as_engine_delivers(props),
        urn,
        name,
        PolicyResourceOptions(False, [], None, [], None, [], None),  # type: ignore[arg-type]
        provider_resource,
        dict(config) if config is not None else None,
    )
    violations: list[str] = []
    policy.validate(args, lambda message, _urn=None: violations.append(message))  # type: ignore[misc]
    return violations


@pytest.fixture
def check_policy() -> CheckPolicy:
    """`check_policy(POLICY, type, props, provider=..., config=...)` → violation messages."""
    return run_policy
