"""Run a Python CrossGuard policy pack exactly as the Pulumi engine runs it, against an offline plan.

The engine starts `<python> -u -m pulumi.policy <engine-address> <pack-dir>` in the pack directory with
the stack's identity and config in the environment, reads the analyzer's port from the first stdout line,
then drives the Analyzer RPCs: Handshake (tolerated as unimplemented), ConfigureStack, GetAnalyzerInfo,
Configure, Analyze per resource (on inputs) and AnalyzeStack (on the planned state). This module does the
same over real gRPC on 127.0.0.1, and stops the pack by its own PID.
"""

import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, plugin_pb2

from scripts.hub.offline.engine import SECRET_MARK, UNKNOWN_MARK

ENFORCEMENT = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
    analyzer_pb2.REMEDIATE: "remediate",
}
SEVERITY = {
    analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED: "unspecified",
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_START_TIMEOUT_S = 60.0
_RPC_TIMEOUT_S = 60.0


class PackError(Exception):
    """The pack could not be started or answered wrongly; one line naming what and where."""


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    """What the pack says about one policy (GetAnalyzerInfo)."""

    name: str
    description: str
    enforcement: str
    severity: str
    remediation: str
    tags: tuple[str, ...]
    config_schema: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One policy finding as the engine receives it."""

    policy: str
    message: str
    enforcement: str
    severity: str
    urn: str
    description: str


@dataclass(slots=True)
class PackResult:
    """Everything one run of the pack over a plan reported."""

    pack: str
    version: str
    policies: dict[str, PolicyInfo]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    not_applicable: int = 0


def to_wire(value: Any) -> Any:
    """A plan value back in wire form: unknowns as the engine's sentinel, secrets wrapped as secrets."""
    if value == UNKNOWN_MARK:
        return rpc.UNKNOWN
    if value == SECRET_MARK:
        return {rpc._special_sig_key: rpc._special_secret_sig, "value": SECRET_MARK}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(to_wire(dict(value)), struct)
    return struct


@contextmanager
def running_pack(
    pack_dir: Path, *, project: str, stack: str, config: Mapping[str, str], python: str | None = None
) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """Start the pack as the engine does and yield an Analyzer client; stop it by its PID on exit."""
    env = {
        **os.environ,
        "PULUMI_PROJECT": project,
        "PULUMI_STACK": stack,
        "PULUMI_ORGANIZATION": "organization",
        "PULUMI_DRY_RUN": "true",
        "PULUMI_CONFIG": json.dumps(dict(config)),
    }
    # The SDK never calls the engine address back; a closed port stands in for it.
    command = [python or sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(pack_dir.resolve())]
    process = subprocess.Popen(
        command,
        cwd=pack_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _read_port(process, pack_dir)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _read_port(process: subprocess.Popen[str], pack_dir: Path) -> int:
    assert process.stdout is not None and process.stderr is not None
    ready, _, _ = select.select([process.stdout], [], [], _START_TIMEOUT_S)
    line = process.stdout.readline() if ready else ""
    if not line.strip().isdigit():
        process.kill()
        _, stderr = process.communicate(timeout=10)
        last = next((text for text in reversed(stderr.strip().splitlines()) if text.strip()), "no output")
        raise PackError(f"policy pack {pack_dir} did not start: {last.strip()}")
    return int(line)


def policy_config_request(
    policies: Mapping[str, PolicyInfo], config: Mapping[str, Mapping[str, Any]]
) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """Configure: every policy at its own enforcement level, with the given per-policy config."""
    levels = {v: k for k, v in ENFORCEMENT.items()}
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, info in policies.items():
        given = dict(config.get(name, {}))
        enforcement = str(given.pop("enforcementLevel", info.enforcement))
        entry = request.policyConfig[name]
        entry.enforcementLevel = levels[enforcement]
        json_format.ParseDict(given, entry.properties)
    return request


def analyze_plan(
    stub: analyzer_pb2_grpc.AnalyzerStub,
    plan: Mapping[str, Any],
    *,
    policy_config: Mapping[str, Mapping[str, Any]] | None = None,
    stack_tags: Mapping[str, str] | None = None,
) -> PackResult:
    """Drive the Analyzer RPCs over a plan document, in the engine's order."""
    try:
        stub.Handshake(analyzer_pb2.AnalyzerHandshakeRequest(), timeout=_RPC_TIMEOUT_S)
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise
    stub.ConfigureStack(
        analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=str(plan["stack"]),
            project=str(plan["project"]),
            organization="organization",
            dry_run=True,
            tags=dict(stack_tags or {}),
        ),
        timeout=_RPC_TIMEOUT_S,
    )
    info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=_RPC_TIMEOUT_S)
    policies = {
        p.name: PolicyInfo(
            name=p.name,
            description=p.description,
            enforcement=ENFORCEMENT.get(p.enforcementLevel, "advisory"),
            severity=SEVERITY.get(p.severity, "unspecified"),
            remediation=p.remediation_steps,
            tags=tuple(p.tags),
            config_schema=json_format.MessageToDict(p.configSchema.properties)
            if p.HasField("configSchema")
            else {},
        )
        for p in info.policies
    }
    stub.Configure(policy_config_request(policies, policy_config or {}), timeout=_RPC_TIMEOUT_S)
    result = PackResult(pack=info.name, version=info.version, policies=policies)
    by_urn = {r["urn"]: r for r in plan["resources"]}
    custom = resources_analysed(plan)
    for resource in custom:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource["type"],
            properties=_struct(resource["inputs"]),
            urn=resource["urn"],
            name=resource["name"],
            options=_options(resource),
        )
        provider = by_urn.get(resource.get("provider") or "")
        if provider is not None:
            request.provider.CopyFrom(_provider(provider))
        _collect(result, stub.Analyze(request, timeout=_RPC_TIMEOUT_S), resource["urn"])
    stack_request = analyzer_pb2.AnalyzeStackRequest(
        resources=[_stack_resource(r, by_urn) for r in custom],
    )
    _collect(result, stub.AnalyzeStack(stack_request, timeout=_RPC_TIMEOUT_S), "")
    return result


def _options(resource: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResourceOptions:
    options = resource.get("options", {})
    return analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(options.get("protect", False)),
        ignoreChanges=list(options.get("ignoreChanges", [])),
        additionalSecretOutputs=list(options.get("additionalSecretOutputs", [])),
        parent=resource.get("parent") or "",
    )


def _provider(provider: Mapping[str, Any]) -> analyzer_pb2.AnalyzerProviderResource:
    return analyzer_pb2.AnalyzerProviderResource(
        type=provider["type"],
        properties=_struct(provider["inputs"]),
        urn=provider["urn"],
        name=provider["name"],
    )


def _stack_resource(resource: Mapping[str, Any], by_urn: Mapping[str, Any]) -> analyzer_pb2.AnalyzerResource:
    stack_resource = analyzer_pb2.AnalyzerResource(
        type=resource["type"],
        properties=_struct(resource["inputs"]),
        urn=resource["urn"],
        name=resource["name"],
        options=_options(resource),
        parent=resource.get("parent") or "",
        dependencies=list(resource.get("dependencies", [])),
    )
    for key, urns in resource.get("propertyDependencies", {}).items():
        stack_resource.propertyDependencies[key].urns.extend(urns)
    provider = by_urn.get(resource.get("provider") or "")
    if provider is not None:
        stack_resource.provider.CopyFrom(_provider(provider))
    return stack_resource


def _collect(result: PackResult, response: analyzer_pb2.AnalyzeResponse, urn: str) -> None:
    result.not_applicable += len(response.not_applicable)
    for diagnostic in response.diagnostics:
        result.diagnostics.append(
            Diagnostic(
                policy=diagnostic.policyName,
                message=diagnostic.message,
                enforcement=ENFORCEMENT.get(diagnostic.enforcementLevel, "advisory"),
                severity=SEVERITY.get(diagnostic.severity, "unspecified"),
                # Resource policies report an empty URN: the engine fills in the resource analysed.
                urn=diagnostic.urn or urn,
                description=diagnostic.description,
            )
        )


def plugin_info(stub: analyzer_pb2_grpc.AnalyzerStub) -> str:
    """The pack's plugin version (GetPluginInfo), for diagnostics."""
    info: plugin_pb2.PluginInfo = stub.GetPluginInfo(empty_pb2.Empty(), timeout=_RPC_TIMEOUT_S)
    return str(info.version)


def analyze_with_pack(
    pack_dir: Path,
    plan: Mapping[str, Any],
    *,
    config: Mapping[str, str],
    policy_config: Mapping[str, Mapping[str, Any]] | None = None,
    stack_tags: Mapping[str, str] | None = None,
) -> PackResult:
    """Start the pack, analyse the plan, stop the pack."""
    with running_pack(
        pack_dir, project=str(plan["project"]), stack=str(plan["stack"]), config=config
    ) as stub:
        return analyze_plan(stub, plan, policy_config=policy_config, stack_tags=stack_tags)


def resources_analysed(plan: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """The plan resources the engine would send to Analyze (custom, non-provider)."""
    return [r for r in plan["resources"] if r.get("custom") and not r["type"].startswith("pulumi:providers:")]
