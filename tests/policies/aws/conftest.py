"""Run one stack policy the way pulumi-policy 1.21's `AnalyzeStack` runs it.

Resources go through the engine's wire form (`AnalyzerResource` protobufs: every number becomes a float,
unknowns are the engine's sentinel strings), are deserialized behind the unknown-checking proxy, become
`PolicyResource`s whose parent, dependencies and property dependencies are linked by URN exactly as the
SDK links them, and meet the policy in a `StackValidationArgs` with the config as `Configure` delivers it.
An `UnknownValueError` escaping the policy is recorded as the SDK records it: one advisory note.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

UNKNOWN = rpc.UNKNOWN
"""The engine's sentinel for a value a preview cannot know."""


def urn_of(resource_type: str, name: str) -> str:
    """The URN the harness gives a resource (stack `test`, project `mlops-hub`)."""
    return f"urn:pulumi:test::mlops-hub::{resource_type}::{name}"


@dataclass(slots=True)
class StackRun:
    """What one stack policy reported: (resource name, or "" for the stack; message) and any advisory."""

    violations: list[tuple[str, str]] = field(default_factory=list)
    unknown: str | None = None
    """The advisory the SDK would add for a value unknown in preview (its `UnknownValueError.message`)."""


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(value), struct)
    return struct


def wire_config(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Policy config as `Configure` hands it to a policy: through a Struct (numbers as floats), None if empty."""
    if not config:
        return None
    return dict(json_format.MessageToDict(_struct(config)))


def _analyzer_resource(resource: Mapping[str, Any], types_by_name: Mapping[str, str]) -> Any:
    def urn(name: str) -> str:
        # A name outside the list stands for a resource the request does not carry (the SDK drops it).
        return urn_of(types_by_name.get(name, "test:index:Absent"), name)

    parent = resource.get("parent")
    message = analyzer_pb2.AnalyzerResource(
        type=resource["type"],
        properties=_struct(resource.get("props", {})),
        urn=urn(resource["name"]),
        name=resource["name"],
        options=analyzer_pb2.AnalyzerResourceOptions(parent=urn(parent) if parent else ""),
        parent=urn(parent) if parent else "",
        dependencies=[urn(name) for name in resource.get("dependencies", [])],
    )
    for prop, names in resource.get("property_dependencies", {}).items():
        message.propertyDependencies[prop].urns.extend(urn(name) for name in names)
    return message


def stack_request(resources: Sequence[Mapping[str, Any]]) -> Any:
    """The `AnalyzeStackRequest` the engine would send for these resources."""
    types_by_name = {resource["name"]: resource["type"] for resource in resources}
    return analyzer_pb2.AnalyzeStackRequest(
        resources=[_analyzer_resource(resource, types_by_name) for resource in resources]
    )


def run_stack_policy(
    policy: StackValidationPolicy,
    resources: Sequence[Mapping[str, Any]],
    *,
    config: Mapping[str, Any] | None = None,
) -> StackRun:
    """Run `policy` over resources given as `{"type", "name", "props", "property_dependencies"?,
    "dependencies"?, "parent"?}` (dependencies and parent by resource name)."""
    request = stack_request(resources)

    # From here on, the steps of `_PolicyAnalyzerServicer.AnalyzeStack`, with the SDK's public classes.
    linked: list[tuple[PolicyResource, str, list[str], dict[str, list[str]]]] = []
    for r in request.resources:
        props = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(r.properties)))
        options = PolicyResourceOptions(
            r.options.protect,
            list(r.options.ignoreChanges),
            None,
            list(r.options.aliases),
            PolicyCustomTimeouts(0, 0, 0),
            list(r.options.additionalSecretOutputs),
            r.options.parent or None,
        )
        resource = PolicyResource(r.type, props, r.urn, r.name, options, None, None, [], {})
        property_dependencies = {k: list(v.urns) for k, v in r.propertyDependencies.items()}
        linked.append((resource, r.parent, list(r.dependencies), property_dependencies))
    by_urn = {resource.urn: resource for resource, *_ in linked}
    for resource, parent, dependencies, property_dependencies in linked:
        if parent in by_urn:
            resource.parent = by_urn[parent]
        resource.dependencies.extend(by_urn[d] for d in dependencies if d in by_urn)
        for prop, urns in property_dependencies.items():
            resource.property_dependencies[prop] = [by_urn[u] for u in urns if u in by_urn]
    args = StackValidationArgs([resource for resource, *_ in linked], wire_config(config), {})

    run = StackRun()
    names = {resource.urn: resource.name for resource, *_ in linked}

    def report_violation(message: str, urn: str | None = None) -> None:
        run.violations.append((names.get(urn or "", ""), message))

    try:
        policy.validate(args, report_violation)
    except UnknownValueError as error:
        run.unknown = error.message
    return run


CheckStackPolicy = Callable[..., StackRun]


@pytest.fixture
def check_stack_policy() -> CheckStackPolicy:
    """`check_stack_policy(POLICY, resources, config=...)` → StackRun(violations, unknown)."""
    return run_stack_policy


@pytest.fixture
def build_stack_request() -> Callable[[Sequence[Mapping[str, Any]]], Any]:
    """`build_stack_request(resources)` → the engine's AnalyzeStackRequest for them."""
    return stack_request


@pytest.fixture
def unknown() -> str:
    """The engine's unknown-value sentinel, to put in props."""
    return UNKNOWN


@pytest.fixture
def check_aws_policy(check_policy: Callable[..., list[str]]) -> Callable[..., list[str]]:
    """`check_policy` with config delivered as `Configure` delivers it (numbers as floats)."""

    def run(policy: Any, resource_type: str, props: Mapping[str, Any], **kwargs: Any) -> list[str]:
        config = wire_config(kwargs.pop("config", None))
        return check_policy(policy, resource_type, props, config=config, **kwargs)

    return run


def analyze_resource(
    policy: ResourceValidationPolicy,
    resource_type: str,
    props: Mapping[str, Any],
    *,
    config: Mapping[str, Any] | None = None,
) -> StackRun:
    """One resource policy as `Analyze` runs it, keeping what was reported before an unknown value ended it."""
    struct = _struct(props)
    proxied = unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))
    options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    args = ResourceValidationArgs(
        resource_type,
        proxied,
        urn_of(resource_type, "subject"),
        "subject",
        options,
        None,
        wire_config(config),
        {},
    )
    run = StackRun()

    def report_violation(message: str, urn: str | None = None) -> None:
        run.violations.append(("subject", message))

    try:
        policy.validate(args, report_violation)
    except UnknownValueError as error:
        run.unknown = error.message
    return run


@pytest.fixture
def check_in_preview() -> Callable[..., StackRun]:
    """`check_in_preview(POLICY, type, props)` → StackRun: violations reported, then any advisory."""
    return analyze_resource
