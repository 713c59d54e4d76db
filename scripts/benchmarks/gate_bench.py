"""Gate benchmark: where the time of `hub gate STACK` goes, stage by stage, for each shipped stack.

What is measured, per stack, side by side in one run:

- `gate`: the wall time of `hub gate STACK --format json` as a user runs it, a fresh `.venv/bin/hub`
  process from spawn to exit (interpreter, imports, preview, pack, checkov, report; stdout goes to a
  file read only after the clock stops), once with checkov (the default: the long-lived checkov worker)
  and once with `--no-checkov`. `CHECKOV_BRIDGE_MODE` is removed from its environment.
- The stages, in a fresh worker process per stack and round (so the pack and the checkov worker start
  cold, as in a gate run; the worker's own imports happen before any clock starts):
  - `preview`: what `run_gate` times as `preview_s` (load the project and the stack config, run the
    program offline, build the plan); the program's own imports (provider SDKs) are inside, as in a gate.
  - `pack start-up to port`: `pack_client.running_pack` up to the analyzer's port (spawn of
    `python -m pulumi.policy`, the pack's imports, the gRPC server start).
  - `Analyze`: each `Analyze` round trip over real gRPC on 127.0.0.1 (`stub.Analyze(request)` only; the
    request is built before the clock), driven by `pack_client.analyze_plan` as the gate drives it:
    p50 and p99 (nearest rank) over every resource of the plan, and their sum. `AnalyzeStack`: its one
    round trip. `policies stage`: start, every RPC, stop and the findings, what the gate times as
    `policies_s`.
  - The baseline, in-process, no wire: the same pack (`policies/__main__.py` run with `PolicyPack`
    captured, in the pack's directory and environment) served by the SDK's own
    `pulumi_policy.policy._PolicyAnalyzerServicer`, driven by the same `analyze_plan` with the same
    requests; each `servicer.Analyze(request)` call is timed the same way. `wire / in-process` is the
    ratio of the two Analyze p50s: what gRPC and protobuf transport add per resource. Below it, the
    policies' own work: `validate()` of every enabled resource policy on every resource, with the SDK's
    `ResourceValidationArgs` built as the servicer builds them (before the clock), after the servicer's
    pass (policy caches warm), per resource (all policies) and per call. The baseline in
    shared/notes/policy-wire.md: 4-5 us per `validate()` call, 0.6-0.8 ms per Analyze round trip.
  - checkov, on the same plan the stage previewed and the Dockerfiles under workloads/, through
    `checkov_bridge.scan_plan` as the gate calls it (conversion, files, scan, guards): a fresh worker's
    first scan (its start-up and checkov's import included), the warm second scan, and
    `CHECKOV_BRIDGE_MODE=cli` (one `python -m checkov.main` per batch). The baseline in
    shared/notes/checkov-bridge.md: CLI 2.5-3.3 s, in-process 0.2-0.4 s after a 1.2 s import.

Every figure is the median over `--repeat` rounds; within a round the stacks and the measurements
alternate. The findings must agree, or the benchmark stops without a table: every gate run of a stack
reports the same policy and checkov findings, the wire, the in-process servicer and bare `validate()`
report the same policy findings as the gate, and checkov reports the same findings in its first, warm
and CLI scans as in the gate; resource counts and checkov's inputs agree across rounds. The machine
line (CPUs, load average before and after, versions) is printed first: other work on the machine skews
every figure.

Run it (a few minutes; keep the machine otherwise idle):
    .venv/bin/python -m scripts.benchmarks.gate_bench --repeat 3 --markdown
    .venv/bin/python -m scripts.benchmarks.gate_bench --stacks dev --repeat 1
"""

import argparse
import contextlib
import hashlib
import importlib.metadata
import inspect
import json
import math
import os
import platform
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, cast

import grpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from scripts.hub.gate import checkov_bridge
from scripts.hub.gate.gate import load_policy_config, policy_findings
from scripts.hub.gate.pack_client import PackResult, analyze_plan, resources_analysed, running_pack
from scripts.hub.offline.engine import ProgramRun, run_program
from scripts.hub.offline.plan import build_plan
from scripts.hub.offline.project import load_project, load_stack_config

REPO_ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = REPO_ROOT / "policies"
DEFAULT_REPEAT = 3
PREFERRED_ORDER = ("dev", "staging", "prod")
"""Shipped stacks are listed in this order, any others after them alphabetically."""


class BenchmarkError(RuntimeError):
    """A measurement could not be made (a process failed, an environment is missing)."""


class InconsistencyError(RuntimeError):
    """Two measurements that must agree did not: no table is printed."""


# ---------------------------------------------------------------------------------------------------
# Small helpers


class FindingSet(TypedDict):
    """A set of findings reduced to what comparisons need."""

    count: int
    digest: str
    """sha256 of the sorted keys: equal digests, equal findings."""


def finding_set(keys: Iterable[Sequence[str]]) -> FindingSet:
    """Count and digest of findings given as key tuples (order does not matter, duplicates do)."""
    ordered = sorted(tuple(key) for key in keys)
    return FindingSet(count=len(ordered), digest=hashlib.sha256(json.dumps(ordered).encode()).hexdigest())


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile by nearest rank (an observed value; p99 of fewer than 100 values is the max)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def policy_keys(result: PackResult, plan: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """The policy findings the gate would report, as (policy, URN, enforcement, severity, message)."""
    return [(f.id, f.urn, f.enforcement, f.severity, f.message) for f in policy_findings(result, plan)]


def shipped_stacks() -> list[str]:
    """The stacks with a config file in this repository, dev, staging and prod first."""
    names = load_project(REPO_ROOT).stacks()
    known = [name for name in PREFERRED_ORDER if name in names]
    return known + sorted(name for name in names if name not in PREFERRED_ORDER)


def stack_policy_config(stack: str) -> dict[str, dict[str, Any]]:
    """The pack config `hub gate` uses for a stack: `policies/config/<stack>.json` when present."""
    path = PACK_DIR / "config" / f"{stack}.json"
    return load_policy_config(path) if path.is_file() else {}


def checkov_available() -> bool:
    """Whether checkov's own environment (.venv-checkov) exists."""
    return checkov_bridge.checkov_environment().exists()


def _last_json_line(completed: subprocess.CompletedProcess[str], what: str) -> Any:
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkError(f"{what} exited {completed.returncode}: {tail}")
    return json.loads(lines[-1])


# ---------------------------------------------------------------------------------------------------
# 1. The whole gate, as a user runs it


class GateRun(TypedDict):
    """One `hub gate STACK --format json` process."""

    stack: str
    checkov: bool
    wall_s: float
    """Spawn to exit."""
    exit_code: int
    policy: FindingSet
    checkov_findings: FindingSet


def hub_executable() -> Path:
    """`hub` of the environment running this benchmark (.venv/bin/hub)."""
    return Path(sys.executable).with_name("hub")


def measure_gate(stack: str, *, checkov: bool) -> GateRun:
    """Time one `hub gate STACK --format json [--no-checkov]` process; read its report after the clock.

    Raises:
        BenchmarkError: hub is missing, or the gate exited with an error (2) or printed no report.
    """
    hub = hub_executable()
    if not hub.exists():
        raise BenchmarkError(f"{hub} is missing; run `make setup`")
    command = [str(hub), "gate", stack, "--format", "json", *([] if checkov else ["--no-checkov"])]
    env = {key: value for key, value in os.environ.items() if key != "CHECKOV_BRIDGE_MODE"}
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as out:
        started = time.perf_counter()
        completed = subprocess.run(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.PIPE, text=True, check=False
        )
        wall_s = time.perf_counter() - started
        out.seek(0)
        text = out.read()
    # 0: pass, 1: something mandatory was found; both are a completed gate.
    if completed.returncode not in (0, 1):
        tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchmarkError(f"`{' '.join(command[1:])}` exited {completed.returncode}: {tail}")
    try:
        findings = json.loads(text)["findings"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise BenchmarkError(f"`{' '.join(command[1:])}` printed no JSON report: {text[:200]!r}") from None
    return GateRun(
        stack=stack,
        checkov=checkov,
        wall_s=wall_s,
        exit_code=completed.returncode,
        policy=finding_set(
            (f["id"], f["urn"], f["enforcement"], f["severity"], f["message"])
            for f in findings
            if f["source"] == "policy"
        ),
        checkov_findings=finding_set((f["id"], f["urn"]) for f in findings if f["source"] == "checkov"),
    )


# ---------------------------------------------------------------------------------------------------
# 2. The stages


@dataclass(slots=True)
class TimedStub:
    """An Analyzer client that times each Analyze and AnalyzeStack call and keeps Analyze's diagnostics.

    Wraps a gRPC stub or an in-process servicer; every other RPC passes through untimed.
    """

    inner: Any
    analyze_ns: list[int] = field(default_factory=list)
    analyze_stack_ns: list[int] = field(default_factory=list)
    requests: list[analyzer_pb2.AnalyzeRequest] = field(default_factory=list)
    """Every Analyze request, in order."""
    resource_diagnostics: list[tuple[str, str]] = field(default_factory=list)
    """(policy, URN) of every diagnostic Analyze returned (an empty URN is the resource analysed)."""

    def Analyze(  # noqa: N802 (the RPC's name)
        self, request: analyzer_pb2.AnalyzeRequest, **kwargs: Any
    ) -> analyzer_pb2.AnalyzeResponse:
        """Analyze, timed."""
        started = time.perf_counter_ns()
        response: analyzer_pb2.AnalyzeResponse = self.inner.Analyze(request, **kwargs)
        self.analyze_ns.append(time.perf_counter_ns() - started)
        self.requests.append(request)
        self.resource_diagnostics += [(d.policyName, d.urn or request.urn) for d in response.diagnostics]
        return response

    def AnalyzeStack(  # noqa: N802 (the RPC's name)
        self, request: analyzer_pb2.AnalyzeStackRequest, **kwargs: Any
    ) -> analyzer_pb2.AnalyzeResponse:
        """AnalyzeStack, timed."""
        started = time.perf_counter_ns()
        response: analyzer_pb2.AnalyzeResponse = self.inner.AnalyzeStack(request, **kwargs)
        self.analyze_stack_ns.append(time.perf_counter_ns() - started)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def as_stub(self) -> analyzer_pb2_grpc.AnalyzerStub:
        """This object where `analyze_plan` wants a stub (it calls the same methods)."""
        return cast(analyzer_pb2_grpc.AnalyzerStub, self)


class RpcTimes(TypedDict):
    """Analyze and AnalyzeStack times of one pass over a plan, seconds."""

    analyze_p50_s: float
    analyze_p99_s: float
    analyze_total_s: float
    analyze_stack_s: float
    calls: int


def rpc_times(stub: TimedStub) -> RpcTimes:
    """What a TimedStub recorded, summarised."""
    seconds = [ns / 1e9 for ns in stub.analyze_ns]
    return RpcTimes(
        analyze_p50_s=statistics.median(seconds),
        analyze_p99_s=percentile(seconds, 99),
        analyze_total_s=math.fsum(seconds),
        analyze_stack_s=math.fsum(ns / 1e9 for ns in stub.analyze_stack_ns),
        calls=len(seconds),
    )


class DirectResult(TypedDict):
    """The in-process baseline: the same pack and requests, the SDK's servicer, no wire."""

    rpc: RpcTimes
    policy: FindingSet
    resource_diagnostics: FindingSet
    """(policy, URN) of the servicer's Analyze diagnostics."""
    validate_diagnostics: FindingSet
    """(policy, URN) of what bare validate() reported (violations and unknown-value notes)."""
    validate_resource_p50_s: float
    """validate() of every enabled resource policy on one resource, summed; median over resources."""
    validate_call_p50_s: float
    """One validate() call; median over every (resource, policy)."""
    validate_calls: int
    resource_policies: int


class CheckovTimes(TypedDict):
    """checkov over one plan: a fresh worker's first scan, the warm second one, the CLI."""

    first_s: float
    warm_s: float
    cli_s: float
    first: FindingSet
    warm: FindingSet
    cli: FindingSet
    resources: int
    """What checkov must report: plan resources converted (pod templates count apart) and Dockerfiles."""
    dockerfiles: int
    """Dockerfiles under workloads/, scanned with the plan as the gate scans them."""
    cli_processes: int
    """`python -m checkov.main` runs in CLI mode: one per batch (at most one scan unit per framework)."""


class StageResult(TypedDict):
    """Every stage of one stack, measured in one (fresh) process."""

    stack: str
    resources: int
    """Every resource the plan records: custom resources, components, providers and the stack."""
    analysed: int
    """Resources sent to Analyze (custom, not providers)."""
    preview_s: float
    pack_start_s: float
    policies_stage_s: float
    wire: RpcTimes
    policy: FindingSet
    direct: DirectResult
    checkov: CheckovTimes | None


def _pack_environment(project: str, stack: str, config: Mapping[str, str]) -> dict[str, str]:
    # As pack_client.running_pack starts the pack: the stack's identity and config in the environment.
    return {
        **os.environ,
        "PULUMI_PROJECT": project,
        "PULUMI_STACK": stack,
        "PULUMI_ORGANIZATION": "organization",
        "PULUMI_DRY_RUN": "true",
        "PULUMI_CONFIG": json.dumps(dict(config)),
    }


def measure_direct(
    plan: Mapping[str, Any], *, config: Mapping[str, str], policy_config: Mapping[str, Any]
) -> DirectResult:
    """Run the in-process baseline in a fresh process, in the pack's directory and environment.

    Raises:
        BenchmarkError: the worker failed.
    """
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as workdir:
        plan_file = Path(workdir) / "plan.json"
        plan_file.write_text(json.dumps(plan), encoding="utf-8")
        config_file = Path(workdir) / "policy-config.json"
        config_file.write_text(json.dumps(policy_config), encoding="utf-8")
        command = [
            sys.executable, "-m", "scripts.benchmarks.gate_bench", "--direct-worker",
            "--plan", str(plan_file), "--policy-config", str(config_file),
        ]  # fmt: skip
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=_pack_environment(str(plan["project"]), str(plan["stack"]), config),
            capture_output=True,
            text=True,
            check=False,
        )
    result: DirectResult = _last_json_line(completed, "the in-process baseline worker")
    return result


@contextlib.contextmanager
def _bridge_mode(mode: str) -> Iterator[None]:
    previous = os.environ.get("CHECKOV_BRIDGE_MODE")
    os.environ["CHECKOV_BRIDGE_MODE"] = mode
    try:
        yield
    finally:
        if previous is None:
            del os.environ["CHECKOV_BRIDGE_MODE"]
        else:
            os.environ["CHECKOV_BRIDGE_MODE"] = previous


def measure_checkov(plan: Mapping[str, Any], dockerfiles: Sequence[Path]) -> CheckovTimes:
    """Scan the plan three times: fresh worker (start-up included), warm worker, CLI.

    Any worker this process already holds is stopped first, so the first scan starts one.
    """
    checkov_bridge.shutdown_workers()
    scans: dict[str, tuple[float, FindingSet]] = {}
    for label, mode in (("first", "worker"), ("warm", "worker"), ("cli", "cli")):
        with _bridge_mode(mode):
            started = time.perf_counter()
            found = checkov_bridge.scan_plan(plan, dockerfiles=dockerfiles)
            elapsed = time.perf_counter() - started
        scans[label] = (elapsed, finding_set((f.check_id, f.urn) for f in found))
    checkov_bridge.shutdown_workers()
    conversion = checkov_bridge.convert_plan(plan)
    units = Counter(checkov_bridge.framework_of(unit) for unit in conversion.expected_counts)
    if dockerfiles:
        units[checkov_bridge.DOCKERFILE] += 1
    return CheckovTimes(
        first_s=scans["first"][0],
        warm_s=scans["warm"][0],
        cli_s=scans["cli"][0],
        first=scans["first"][1],
        warm=scans["warm"][1],
        cli=scans["cli"][1],
        resources=sum(conversion.expected_counts.values()) + len(dockerfiles),
        dockerfiles=len(dockerfiles),
        cli_processes=max(units.values(), default=0),
    )


def measure_stages(stack: str, *, checkov: bool) -> StageResult:
    """Every stage of `hub gate STACK` in this process: preview, the pack over the wire, the in-process
    baseline (in a child process), checkov (worker first and warm, CLI)."""
    started = time.perf_counter()
    project = load_project(REPO_ROOT)
    stack_config = load_stack_config(project, stack)
    result = run_program(
        ProgramRun(
            entry=project.entry,
            project=project.name,
            stack=stack,
            config=stack_config.values,
            secret_keys=stack_config.secret_keys,
        )
    )
    plan = build_plan(project.name, stack, stack_config.shown, result)
    preview_s = time.perf_counter() - started

    policy_config = stack_policy_config(stack)
    started = time.perf_counter()
    with running_pack(PACK_DIR, project=project.name, stack=stack, config=stack_config.values) as stub:
        pack_start_s = time.perf_counter() - started
        timed = TimedStub(stub)
        pack_result = analyze_plan(timed.as_stub(), plan, policy_config=policy_config)
    keys = policy_keys(pack_result, plan)
    policies_stage_s = time.perf_counter() - started

    direct = measure_direct(plan, config=stack_config.values, policy_config=policy_config)
    dockerfiles = sorted(project.root.glob("workloads/**/Dockerfile"))
    return StageResult(
        stack=stack,
        resources=len(plan["resources"]),
        analysed=len(resources_analysed(plan)),
        preview_s=preview_s,
        pack_start_s=pack_start_s,
        policies_stage_s=policies_stage_s,
        wire=rpc_times(timed),
        policy=finding_set(keys),
        direct=direct,
        checkov=measure_checkov(plan, dockerfiles) if checkov else None,
    )


def run_stage_worker(stack: str, *, checkov: bool) -> StageResult:
    """measure_stages in a fresh interpreter.

    Raises:
        BenchmarkError: the worker failed.
    """
    command = [sys.executable, "-m", "scripts.benchmarks.gate_bench", "--stage-worker", "--stacks", stack]
    if not checkov:
        command.append("--no-checkov")
    env = {key: value for key, value in os.environ.items() if key != "CHECKOV_BRIDGE_MODE"}
    completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
    result: StageResult = _last_json_line(completed, f"the stage worker for {stack}")
    return result


# ---------------------------------------------------------------------------------------------------
# The in-process baseline (runs in its own process: the pack's directory, sys.path and environment)


class _Unimplemented(grpc.RpcError):
    """What the gRPC server answers for an RPC the servicer does not implement (Handshake)."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNIMPLEMENTED


@dataclass(frozen=True, slots=True)
class InProcessAnalyzer:
    """The SDK's servicer called directly, with the stub's call signature (timeouts ignored)."""

    servicer: Any

    def Handshake(self, request: Any, **_: Any) -> Any:  # noqa: N802 (the RPC's name)
        """Unimplemented in pulumi-policy 1.21, as over the wire."""
        raise _Unimplemented

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.servicer, name)

        def call(request: Any, **_: Any) -> Any:
            return method(request, None)

        return call


@dataclass(frozen=True, slots=True)
class PackUnderTest:
    """The pack's policies and the SDK servicer `PolicyPack` would serve them with."""

    servicer: Any
    """pulumi_policy.policy._PolicyAnalyzerServicer."""
    policies: Sequence[Any]
    """The pack's policies, in its order."""


def load_pack(pack_dir: Path) -> PackUnderTest:
    """Start the pack as `python -m pulumi.policy <address> <pack_dir>` does, in this process, with
    `PolicyPack` captured instead of serving; build the servicer `PolicyPack` would, from the same arguments.

    The caller runs in the pack's directory and environment (measure_direct sees to it).
    """
    import pulumi.runtime  # noqa: PLC0415 (the baseline worker only)
    import pulumi_policy  # noqa: PLC0415
    from pulumi_policy.policy import _PolicyAnalyzerServicer  # noqa: PLC0415

    # What pulumi.policy's __main__ does before it runs the pack.
    for key, value in pulumi.runtime.get_config_env().items():
        pulumi.runtime.set_config(key, value)
    pulumi.runtime.configure(
        pulumi.runtime.Settings(
            project=os.environ["PULUMI_PROJECT"],
            stack=os.environ["PULUMI_STACK"],
            dry_run=os.environ["PULUMI_DRY_RUN"] == "true",
            organization=os.environ.get("PULUMI_ORGANIZATION", "organization"),
        )
    )
    real = pulumi_policy.PolicyPack
    captured: list[inspect.BoundArguments] = []

    def capture(*args: Any, **kwargs: Any) -> None:
        bound = inspect.signature(real).bind(*args, **kwargs)
        bound.apply_defaults()
        captured.append(bound)

    # runpy puts the pack directory first on sys.path and takes it off again on return; the pack's
    # process never returns, so its policies may import lazily: keep it there.
    sys.path.insert(0, str(pack_dir))
    pulumi_policy.PolicyPack = capture  # type: ignore[misc,assignment]
    try:
        runpy.run_path(str(pack_dir), run_name="__main__")
    finally:
        pulumi_policy.PolicyPack = real  # type: ignore[misc]
    if len(captured) != 1:
        raise BenchmarkError(f"{pack_dir}/__main__.py built {len(captured)} policy packs, not one")
    a = captured[0].arguments
    # As PolicyPack.__init__ builds it: version 0.0.1, advisory unless the pack says otherwise.
    servicer = _PolicyAnalyzerServicer(
        a["name"],
        "0.0.1",
        a["policies"],
        a["enforcement_level"] or pulumi_policy.EnforcementLevel.ADVISORY,
        a["initial_config"],
        a["description"],
        a["display_name"],
        a["readme"],
        a["provider"],
        a["tags"],
        a["repository"],
    )
    return PackUnderTest(servicer=servicer, policies=list(a["policies"]))


def validate_only(
    pack: PackUnderTest, requests: Sequence[analyzer_pb2.AnalyzeRequest]
) -> tuple[list[int], list[int], list[tuple[str, str]]]:
    """validate() of every enabled resource policy on the resource of each request, with the args built as
    the servicer's Analyze builds them, before the clock: (ns per resource, ns per call, (policy, URN)
    of every violation and unknown-value note).

    Call after the servicer's own pass (Configure included): the enforcement levels and config are the
    servicer's, and whatever the policies cache is warm. Each call's time includes one
    `perf_counter_ns` pair (well under 0.1 us).
    """
    from google.protobuf import json_format  # noqa: PLC0415 (the baseline worker only)
    from pulumi_policy import EnforcementLevel, ResourceValidationArgs, ResourceValidationPolicy  # noqa: PLC0415
    from pulumi_policy.deserialize import deserialize_properties  # noqa: PLC0415
    from pulumi_policy.policy import _NotApplicableError  # noqa: PLC0415
    from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy  # noqa: PLC0415

    servicer = pack.servicer
    policies = [
        p
        for p in pack.policies
        if isinstance(p, ResourceValidationPolicy)
        and p.has_validation()
        and servicer._get_enforcement_level(p) != EnforcementLevel.DISABLED
    ]
    per_resource: list[int] = []
    per_call: list[int] = []
    reported: list[tuple[str, str]] = []
    for request in requests:
        calls = [
            (
                policy,
                ResourceValidationArgs(
                    request.type,
                    unknown_checking_proxy(
                        deserialize_properties(json_format.MessageToDict(request.properties))
                    ),
                    request.urn,
                    request.name,
                    servicer._get_resource_options(request),
                    servicer._get_provider_resource(request),
                    servicer._get_policy_config(policy.name),
                    {},
                ),
            )
            for policy in policies
        ]
        total = 0
        for policy, args in calls:

            def report(
                _message: str, urn: str | None = None, _key: tuple[str, str] = (policy.name, request.urn)
            ) -> None:
                reported.append((_key[0], urn or _key[1]))

            started = time.perf_counter_ns()
            outcome: object = None
            try:
                outcome = policy.validate(args, report)
            except UnknownValueError:
                reported.append((policy.name, request.urn))
            except _NotApplicableError:
                pass
            elapsed = time.perf_counter_ns() - started
            if outcome is not None:
                raise BenchmarkError(f"policy {policy.name} is asynchronous: bare validate() cannot time it")
            per_call.append(elapsed)
            total += elapsed
        per_resource.append(total)
    return per_resource, per_call, reported


def direct_worker(plan: Mapping[str, Any], policy_config: Mapping[str, Any]) -> DirectResult:
    """The in-process baseline, in this process (started by measure_direct in the pack's environment)."""
    os.chdir(PACK_DIR)
    pack = load_pack(PACK_DIR)
    timed = TimedStub(InProcessAnalyzer(pack.servicer))
    result = analyze_plan(timed.as_stub(), plan, policy_config=policy_config)
    per_resource, per_call, reported = validate_only(pack, timed.requests)
    return DirectResult(
        rpc=rpc_times(timed),
        policy=finding_set(policy_keys(result, plan)),
        resource_diagnostics=finding_set(timed.resource_diagnostics),
        validate_diagnostics=finding_set(reported),
        validate_resource_p50_s=statistics.median(per_resource) / 1e9,
        validate_call_p50_s=statistics.median(per_call) / 1e9,
        validate_calls=len(per_call),
        resource_policies=len(per_call) // max(1, len(per_resource)),
    )


# ---------------------------------------------------------------------------------------------------
# Consistency, medians, the table


@dataclass(slots=True)
class StackRuns:
    """Every measurement of one stack."""

    stack: str
    gates: list[GateRun] = field(default_factory=list)
    stages: list[StageResult] = field(default_factory=list)


def _differ(what: str, values: Iterable[FindingSet]) -> str | None:
    seen = {(v["count"], v["digest"]) for v in values}
    if len(seen) > 1:
        return f"{what}: " + ", ".join(f"{count} ({digest[:12]})" for count, digest in sorted(seen))
    return None


def check_consistency(runs: StackRuns) -> None:
    """Every pair of measurements that must agree does, or InconsistencyError names each that does not.

    Raises:
        InconsistencyError: findings or resource counts differ between repeats, between the wire, the
            in-process servicer, bare validate() and the gate, or between checkov's scans and the gate.
    """
    stack = runs.stack
    problems: list[str | None] = []
    with_checkov = [g for g in runs.gates if g["checkov"]]
    policy_sets = [g["policy"] for g in runs.gates]
    policy_sets += [s["policy"] for s in runs.stages] + [s["direct"]["policy"] for s in runs.stages]
    problems.append(_differ("policy findings (gate runs, wire, in-process servicer)", policy_sets))
    problems += [
        _differ(
            "resource diagnostics (servicer Analyze and bare validate())",
            [s["direct"]["resource_diagnostics"], s["direct"]["validate_diagnostics"]],
        )
        for s in runs.stages
    ]
    scans = [s["checkov"] for s in runs.stages if s["checkov"] is not None]
    checkov_sets = [g["checkov_findings"] for g in with_checkov]
    checkov_sets += [found for scan in scans for found in (scan["first"], scan["warm"], scan["cli"])]
    problems.append(_differ("checkov findings (gate runs; worker first, warm and CLI scans)", checkov_sets))
    if any(g["checkov_findings"]["count"] for g in runs.gates if not g["checkov"]):
        problems.append("checkov findings in a --no-checkov gate run")
    counts = {(s["resources"], s["analysed"]) for s in runs.stages}
    if len(counts) > 1:
        problems.append(f"resource counts differ between repeats: {sorted(counts)}")
    scanned = {(scan["resources"], scan["dockerfiles"], scan["cli_processes"]) for scan in scans}
    if len(scanned) > 1:
        problems.append(
            f"checkov's inputs (resources, Dockerfiles, CLI runs) differ between repeats: {sorted(scanned)}"
        )
    calls = {s["wire"]["calls"] for s in runs.stages} | {s["direct"]["rpc"]["calls"] for s in runs.stages}
    calls |= {s["analysed"] for s in runs.stages}
    if len(calls) > 1:
        problems.append(f"Analyze calls differ from the resources analysed: {sorted(calls)}")
    found = [problem for problem in problems if problem]
    if found:
        raise InconsistencyError(f"{stack}: " + "; ".join(found))


def _median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f}"


def _s(seconds: float) -> str:
    return f"{seconds:.2f}"


Row = tuple[str, Callable[[StackRuns], str]]


def _gate(runs: StackRuns, *, checkov: bool) -> str:
    walls = [g["wall_s"] for g in runs.gates if g["checkov"] is checkov]
    return _s(_median(walls)) if walls else "n/a"


def _checkov(path: Callable[[CheckovTimes], float]) -> Callable[[StackRuns], str]:
    def value(runs: StackRuns) -> str:
        values = [path(s["checkov"]) for s in runs.stages if s["checkov"] is not None]
        return _s(_median(values)) if values else "n/a"

    return value


def _checkov_inputs(runs: StackRuns) -> str:
    scan = runs.stages[0]["checkov"]
    return f"{scan['resources']} / {scan['dockerfiles']} / {scan['cli_processes']}" if scan else "n/a"


def _findings(runs: StackRuns) -> str:
    stage = runs.stages[0]
    policy = stage["policy"]["count"]
    scan = stage["checkov"]
    return f"{policy} / {scan['first']['count'] if scan is not None else 'n/a'}"


def _ratio(runs: StackRuns) -> str:
    wire = _median(s["wire"]["analyze_p50_s"] for s in runs.stages)
    direct = _median(s["direct"]["rpc"]["analyze_p50_s"] for s in runs.stages)
    return f"{wire / direct:.1f}x"


def _stage(path: Callable[[StageResult], float], unit: Callable[[float], str]) -> Callable[[StackRuns], str]:
    return lambda runs: unit(_median(path(s) for s in runs.stages))


ROWS: tuple[Row, ...] = (
    ("resources in the plan / sent to Analyze", lambda r: f"{r.stages[0]['resources']} / {r.stages[0]['analysed']}"),
    ("findings (as the gate reports them): policy / checkov", _findings),
    ("`hub gate` wall, s", lambda r: _gate(r, checkov=True)),
    ("`hub gate --no-checkov` wall, s", lambda r: _gate(r, checkov=False)),
    ("preview, s", _stage(lambda s: s["preview_s"], _s)),
    ("policies stage (start, RPCs, stop), s", _stage(lambda s: s["policies_stage_s"], _s)),
    ("pack start-up to port, s", _stage(lambda s: s["pack_start_s"], _s)),
    ("Analyze over gRPC p50, ms", _stage(lambda s: s["wire"]["analyze_p50_s"], _ms)),
    ("Analyze over gRPC p99, ms", _stage(lambda s: s["wire"]["analyze_p99_s"], _ms)),
    ("Analyze over gRPC, all resources, s", _stage(lambda s: s["wire"]["analyze_total_s"], _s)),
    ("AnalyzeStack over gRPC, ms", _stage(lambda s: s["wire"]["analyze_stack_s"], _ms)),
    ("Analyze in-process (servicer) p50, ms", _stage(lambda s: s["direct"]["rpc"]["analyze_p50_s"], _ms)),
    ("Analyze in-process (servicer) p99, ms", _stage(lambda s: s["direct"]["rpc"]["analyze_p99_s"], _ms)),
    ("Analyze in-process, all resources, s", _stage(lambda s: s["direct"]["rpc"]["analyze_total_s"], _s)),
    ("AnalyzeStack in-process, ms", _stage(lambda s: s["direct"]["rpc"]["analyze_stack_s"], _ms)),
    ("wire / in-process (Analyze p50)", _ratio),
    ("resource policies run per resource", lambda r: str(r.stages[0]["direct"]["resource_policies"])),
    ("validate(), all policies, per resource p50, µs", _stage(lambda s: s["direct"]["validate_resource_p50_s"], _us)),
    ("validate(), one call p50, µs", _stage(lambda s: s["direct"]["validate_call_p50_s"], _us)),
    ("checkov inputs: resources (Dockerfiles incl.) / Dockerfiles / CLI runs", _checkov_inputs),
    ("checkov worker, first scan (start-up incl.), s", _checkov(lambda c: c["first_s"])),
    ("checkov worker, warm scan, s", _checkov(lambda c: c["warm_s"])),
    ("checkov CLI (`CHECKOV_BRIDGE_MODE=cli`), s", _checkov(lambda c: c["cli_s"])),
)  # fmt: skip


def table_rows(stacks: Sequence[StackRuns]) -> list[list[str]]:
    """The result table: a header row (one column per stack), then one row per measurement."""
    rows = [["measure (median)", *(runs.stack for runs in stacks)]]
    rows += [[label, *(value(runs) for runs in stacks)] for label, value in ROWS]
    return rows


def render(rows: Sequence[Sequence[str]], *, markdown: bool) -> str:
    """Rows as a markdown table or as aligned plain text."""
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "|".join("---" for _ in rows[0]) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for label, *values in rows:
        cells = [label.ljust(widths[0])]
        cells += [value.rjust(width) for value, width in zip(values, widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Running it


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews the figures."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def checkov_version() -> str:
    """checkov's version in its own environment (read from its metadata; nothing is started)."""
    sites = [str(p) for p in checkov_bridge.CHECKOV_ENV.glob("lib/python*/site-packages")]
    found = next(iter(importlib.metadata.distributions(name="checkov", path=sites)), None)
    return found.version if found is not None else "missing"


def machine_description() -> str:
    """CPU count, load, Python and the versions the figures depend on."""
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("pulumi", "pulumi-policy", "grpcio")
    )
    return (
        f"machine: {os.cpu_count()} CPUs, load average {load_average()}; Python {platform.python_version()} "
        f"({platform.python_implementation()}, {platform.machine()}); {versions}, checkov {checkov_version()}"
    )


def run_round(stack: str, runs: StackRuns, *, checkov: bool, progress: Callable[[str], None]) -> None:
    """One round of one stack: the gate with and without checkov, then the stages in a fresh worker."""
    for with_checkov in (True, False) if checkov else (False,):
        gate_run = measure_gate(stack, checkov=with_checkov)
        runs.gates.append(gate_run)
        progress(
            f"{stack}: hub gate{'' if with_checkov else ' --no-checkov'} {gate_run['wall_s']:.2f} s, "
            f"exit {gate_run['exit_code']}, {gate_run['policy']['count']} policy / "
            f"{gate_run['checkov_findings']['count']} checkov findings"
        )
    stage = run_stage_worker(stack, checkov=checkov)
    runs.stages.append(stage)
    scan = stage["checkov"]
    progress(
        f"{stack}: stages: preview {stage['preview_s']:.2f} s, pack start {stage['pack_start_s']:.2f} s, "
        f"Analyze p50 {stage['wire']['analyze_p50_s'] * 1e3:.2f} ms (in-process "
        f"{stage['direct']['rpc']['analyze_p50_s'] * 1e3:.2f} ms)"
        + (
            f", checkov {scan['first_s']:.2f} / {scan['warm_s']:.2f} / CLI {scan['cli_s']:.2f} s"
            if scan is not None
            else ""
        )
    )


def run_benchmark(
    stacks: Sequence[str], repeat: int, *, checkov: bool, progress: Callable[[str], None]
) -> list[StackRuns]:
    """`repeat` rounds over every stack, alternating stacks within a round; then the consistency checks.

    Raises:
        BenchmarkError: a measurement failed.
        InconsistencyError: two measurements that must agree did not.
    """
    all_runs = {stack: StackRuns(stack) for stack in stacks}
    for round_number in range(1, repeat + 1):
        progress(f"round {round_number} of {repeat}")
        for stack in stacks:
            run_round(stack, all_runs[stack], checkov=checkov, progress=progress)
    for runs in all_runs.values():
        check_consistency(runs)
    return list(all_runs.values())


def _stacks(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.benchmarks.gate_bench",
        description="hub gate, whole and stage by stage: preview, the pack over gRPC against in-process, checkov.",
    )
    parser.add_argument(
        "--stacks", type=_stacks, default=None, help="comma-separated (default: every shipped stack)"
    )
    parser.add_argument(
        "--repeat", type=int, default=DEFAULT_REPEAT, help="rounds; every figure is their median"
    )
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument("--stage-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-checkov", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--direct-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--policy-config", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.repeat < 1:
        parser.error("--repeat must be at least 1")
    if arguments.stacks is not None and not arguments.stacks:
        parser.error("--stacks names no stack")
    return arguments  # fmt: skip


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, hidden, one of its workers) and print the results."""
    arguments = _arguments(argv)
    if arguments.direct_worker:
        plan = json.loads(arguments.plan.read_text(encoding="utf-8"))
        policy_config = json.loads(arguments.policy_config.read_text(encoding="utf-8"))
        print(json.dumps(direct_worker(plan, policy_config)))
        return 0
    if arguments.stage_worker:
        print(json.dumps(measure_stages(arguments.stacks[0], checkov=not arguments.no_checkov)))
        return 0
    stacks = arguments.stacks or shipped_stacks()
    unknown = sorted(set(stacks) - set(shipped_stacks()))
    if unknown:
        print(
            f"error: no such stack: {', '.join(unknown)} (shipped: {', '.join(shipped_stacks())})",
            file=sys.stderr,
        )
        return 2
    if not checkov_available():
        print(f"error: checkov's environment is missing; run `{checkov_bridge.MAKE_TARGET}`", file=sys.stderr)
        return 2
    print(machine_description(), flush=True)
    try:
        results = run_benchmark(stacks, arguments.repeat, checkov=True, progress=_progress)
    except (BenchmarkError, InconsistencyError) as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"load average after the run: {load_average()}", file=sys.stderr)
        return 1
    print(f"load average after the run: {load_average()}")
    print(
        f"median of {arguments.repeat} round(s); `hub gate` and the stage worker are fresh processes every round; "
        "findings agree across rounds, wire, in-process, validate(), gate, checkov worker and CLI\n"
    )
    print(render(table_rows(results), markdown=arguments.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
