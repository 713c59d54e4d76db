"""Run a Pulumi Python program in-process with no CLI, no engine and no cloud.

This is Pulumi's documented unit-test path (its mock resource monitor) driven the way the SDK's own
language host drives a program: settings configured, config set, `run_in_stack` on a fresh event loop,
all inside a copied context so nothing leaks between runs. The monitor records every registration as the
engine would see it (parent, dependencies, provider, options, inputs in wire form).

Speed: the SDK spends most of a large program in the garbage collector (every resource leaves thousands
of tracked objects in reference cycles), in `wait_for_rpcs`, which drains outputs in many passes, and,
for blocking invokes, in padding the event loop's ready queue quadratically (speedups.py). With
`fast=True` the runner raises the GC threshold while the program runs, drains everything outstanding in
one pass after the program body returns, and pads only what each blocking call needs. These touch SDK
internals: the SDK is pinned (pyproject.toml), and tests compare fast and plain plans
(tests/scripts/test_offline_engine.py, tests/scripts/test_preview_bench.py).
"""

import asyncio
import contextlib
import contextvars
import gc
import logging
import os
import runpy
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import empty_pb2, json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import engine_pb2, resource_pb2
from pulumi.runtime.stack import run_in_stack

from scripts.hub.offline.invokes import answer_invoke
from scripts.hub.offline.speedups import patched_sync_await

STACK_TYPE = "pulumi:pulumi:Stack"
UNKNOWN_MARK = "[unknown]"
"""Stands for a value computed by the cloud that a preview cannot know."""
SECRET_MARK = "[secret]"
"""Stands for a secret value; the plaintext never leaves the runner."""

_UNKNOWN = rpc.UNKNOWN
_SIG = rpc._special_sig_key
_SECRET_SIG = rpc._special_secret_sig
_RESOURCE_SIG = rpc._special_resource_sig
_ASSET_SIG = rpc._special_asset_sig
_ARCHIVE_SIG = rpc._special_archive_sig
_OUTPUT_SIG = rpc._special_output_value_sig

# Request fields shown elsewhere in a record or that only describe the SDK's capabilities.
_NOT_OPTIONS = (
    "type", "name", "parent", "custom", "object", "provider", "providers", "dependencies",
    "propertyDependencies", "acceptSecrets", "acceptResources", "supportsPartialValues",
    "supportsResultReporting", "sourcePosition", "stackTrace", "transforms", "packageRef",
    "deleteBeforeReplaceDefined", "aliasURNs",
)  # fmt: skip


class DuplicateUrnError(RuntimeError):
    """Two resources registered the same URN; the real engine rejects the second."""


class ProgramError(Exception):
    """The program failed; `__cause__` is what it raised, `resources` what it had registered by then."""

    def __init__(self, cause: BaseException, resources: list["RecordedResource"]) -> None:
        super().__init__(str(cause) or repr(cause))
        self.cause = cause
        self.resources = resources


@dataclass(slots=True)
class RecordedResource:
    """One registration as the engine would receive it."""

    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    provider: str | None
    """URN of the explicit provider, or None for the default provider."""
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    inputs: dict[str, Any]
    """Inputs in plan form: camelCase keys, secrets as SECRET_MARK, unknowns as UNKNOWN_MARK."""
    options: dict[str, Any]
    """Resource options that differ from their defaults (protect, aliases, ignoreChanges...)."""
    outputs: dict[str, Any] | None = None
    """What a component or the stack registered with register_outputs, in plan form."""
    read: bool = False
    """True for `Resource.get` reads rather than registrations."""

    def to_document(self) -> dict[str, Any]:
        """The resource as it appears in the plan document."""
        document: dict[str, Any] = {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "dependencies": self.dependencies,
            "propertyDependencies": self.property_dependencies,
            "provider": self.provider,
            "inputs": self.inputs,
            "options": self.options,
        }
        if self.outputs is not None:
            document["outputs"] = self.outputs
        if self.read:
            document["read"] = True
        return document


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A message the program or the runner logged (pulumi.log, offline invokes)."""

    severity: str
    message: str
    urn: str | None = None


@dataclass(slots=True)
class RunResult:
    """Everything one program run registered."""

    resources: list[RecordedResource]
    outputs: dict[str, Any]
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def by_urn(self) -> dict[str, RecordedResource]:
        """Resources keyed by URN."""
        return {r.urn: r for r in self.resources}


def to_plan_value(value: Any) -> Any:
    """A wire value (protobuf Struct as JSON) in plan form: secrets and unknowns marked, ints restored."""
    if isinstance(value, str):
        return UNKNOWN_MARK if value == _UNKNOWN else value
    if isinstance(value, float):
        # The wire has only doubles; show 3 as 3, as the program wrote it.
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [to_plan_value(v) for v in value]
    if isinstance(value, dict):
        sig = value.get(_SIG)
        if sig == _SECRET_SIG:
            return SECRET_MARK
        if sig == _RESOURCE_SIG:
            return {"$resourceRef": value.get("urn", "")}
        if sig in (_ASSET_SIG, _ARCHIVE_SIG):
            kind = "$asset" if sig == _ASSET_SIG else "$archive"
            source = next((value[k] for k in ("path", "uri", "text") if k in value), "")
            return {kind: source if "text" not in value else "<text>"}
        if sig == _OUTPUT_SIG:
            if value.get("secret"):
                return SECRET_MARK
            return to_plan_value(value["value"]) if "value" in value else UNKNOWN_MARK
        return {k: to_plan_value(v) for k, v in value.items()}
    return value


def _struct_to_plan(struct: Any) -> dict[str, Any]:
    result = to_plan_value(json_format.MessageToDict(struct))
    assert isinstance(result, dict)
    return result


def _provider_urn(reference: str) -> str | None:
    # Provider references are "<urn>::<id>"; URNs themselves contain "::".
    return reference.rsplit("::", 1)[0] if reference else None


class RecordingEngine:
    """Stands in for the engine's log service; keeps what the program logs."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def Log(self, request: Any) -> empty_pb2.Empty:  # noqa: N802 (gRPC method name)
        severity = {
            engine_pb2.DEBUG: "debug",
            engine_pb2.INFO: "info",
            engine_pb2.WARNING: "warning",
            engine_pb2.ERROR: "error",
        }.get(request.severity, "info")
        if severity != "debug":
            self.diagnostics.append(Diagnostic(severity, request.message, request.urn or None))
        return empty_pb2.Empty()


class _NoMocks(pulumi_mocks.Mocks):
    """Reads (`Resource.get`) answer with the inputs; invokes are answered by the monitor itself."""

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return args.resource_id or f"{args.name}-id", dict(args.inputs)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Pulumi's mock resource monitor, extended to record registrations the way the engine sees them.

    In preview, custom resources get no id and keep their inputs as state, so computed values are
    unknown exactly as in `pulumi preview`. Otherwise (tests that want applies to run) ids are
    `<name>-id`.
    """

    def __init__(self, *, preview: bool, engine: RecordingEngine | None = None) -> None:
        super().__init__(_NoMocks())
        self.preview = preview
        self.engine = engine
        self.records: dict[str, RecordedResource] = {}
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the engine makes them: the root stack's type is not part of its children's URNs."""
        if parent and parent.split("::")[2].rsplit("$", maxsplit=1)[-1] == STACK_TYPE:
            parent = ""
        return str(super().make_urn(parent, type_, name))

    def RegisterResource(self, request: Any) -> resource_pb2.RegisterResourceResponse:  # noqa: N802
        urn = self.make_urn(request.parent, request.type, request.name)
        options = resource_pb2.RegisterResourceRequest()
        options.CopyFrom(request)
        for name in _NOT_OPTIONS:
            options.ClearField(name)  # type: ignore[arg-type]
        record = RecordedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            custom=request.custom,
            provider=_provider_urn(request.provider),
            dependencies=sorted(request.dependencies),
            property_dependencies={
                key: sorted(deps.urns)
                for key, deps in sorted(request.propertyDependencies.items())
                if deps.urns
            },
            inputs=_struct_to_plan(request.object),
            options={
                key: value
                for key, value in to_plan_value(json_format.MessageToDict(options)).items()
                if value not in ({}, [], "")
            },
        )
        with self._lock:
            if urn in self.records:
                raise DuplicateUrnError(
                    f"duplicate resource URN {urn}: two resources of type {request.type} named "
                    f"'{request.name}' under the same parent type; give each a unique name"
                )
            self.records[urn] = record
        if request.type == STACK_TYPE:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        resource_id = "" if self.preview or not request.custom else f"{request.name}-id"
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, resource_id, {})
        # The inputs, still in wire form (secrets and unknowns intact), become the planned state.
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=request.object)

    def ReadResource(self, request: Any) -> Any:  # noqa: N802
        response = super().ReadResource(request)  # type: ignore[no-untyped-call]
        with self._lock:
            self.records[response.urn] = RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=True,
                provider=_provider_urn(request.provider),
                dependencies=list(request.dependencies),
                property_dependencies={},
                inputs=_struct_to_plan(request.properties),
                options={"id": request.id},
                read=True,
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> empty_pb2.Empty:  # noqa: N802
        with self._lock:
            record = self.records.get(request.urn)
            if record is not None:
                record.outputs = _struct_to_plan(request.outputs)
        return empty_pb2.Empty()

    def Invoke(self, request: Any) -> resource_pb2.ResourceInvokeResponse:  # noqa: N802
        if request.tok == "pulumi:pulumi:getResource":
            response: resource_pb2.ResourceInvokeResponse = super().Invoke(request)  # type: ignore[no-untyped-call]
            return response
        provider = self.records.get(_provider_urn(request.provider) or "")
        args = json_format.MessageToDict(request.args)
        result = answer_invoke(request.tok, args, provider.inputs if provider else {})
        if result is None:
            result = {}
            if self.engine is not None:
                self.engine.diagnostics.append(
                    Diagnostic(
                        "warning",
                        f"invoke {request.tok} has no offline answer; it returned no data",
                    )
                )
        response = resource_pb2.ResourceInvokeResponse()
        json_format.ParseDict(result, response.__getattribute__("return"))
        return response

    def resources_in_order(self) -> list[RecordedResource]:
        """Registrations in the order the engine received them."""
        with self._lock:
            return list(self.records.values())


@dataclass(frozen=True, slots=True)
class ProgramRun:
    """What to run and how: a program entry point plus the identity and config of the stack."""

    entry: Path
    """The program's main: a directory holding `__main__.py`, or a `.py` file."""
    project: str
    stack: str
    config: Mapping[str, str] = field(default_factory=dict)
    """Config as the SDK holds it: `"<namespace>:<key>"` → string (objects and arrays as JSON)."""
    secret_keys: frozenset[str] = frozenset()
    preview: bool = True
    fast: bool = True
    """Raise the GC threshold during the run and drain outstanding work in one pass."""
    exact_padding: bool = True
    """With `fast`: pad the event loop only as blocking calls need (speedups.patched_sync_await)."""
    organization: str = "organization"


def run_program(run: ProgramRun) -> RunResult:
    """Run a program file or directory offline and return what it registered.

    Raises:
        ProgramError: the program raised (its exception is the cause; DuplicateUrnError when two
            resources share a URN), with what had been registered before it failed.
    """
    entry = run.entry.resolve()
    workdir = entry if entry.is_dir() else entry.parent

    def body() -> None:
        runpy.run_path(str(entry), run_name="__main__")

    with _program_environment(workdir, fast=run.fast, exact_padding=run.exact_padding):
        return contextvars.copy_context().run(_run_in_context, body, run)


def run_function(body: Callable[[], None], run: ProgramRun) -> RunResult:
    """Run `body` as the program (tests and benchmarks build resources from plain functions)."""
    with _program_environment(None, fast=run.fast, exact_padding=run.exact_padding):
        return contextvars.copy_context().run(_run_in_context, body, run)


def _run_in_context(body: Callable[[], None], run: ProgramRun) -> RunResult:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop_errors: list[str] = []
    # When a program fails, the SDK leaves futures holding the same exception; asyncio would print each
    # ("Future exception was never retrieved") when they are collected, after our one-line cause.
    loop.set_exception_handler(lambda _, context: loop_errors.append(str(context.get("exception") or "")))
    engine = RecordingEngine()
    monitor = RecordingMonitor(preview=run.preview, engine=engine)
    settings.configure(
        pulumi_mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures),  # type: ignore[no-untyped-call]
            engine=engine,
            project=run.project,
            stack=run.stack,
            dry_run=run.preview,
            organization=run.organization,
            callbacks=None,
            # MockSettings leaves these to whatever an earlier run set; a failed run's pending
            # outputs would then leak into this one (bound to a closed event loop).
            outputs=set(),
            lock=threading.Lock(),
        )
    )
    settings.ROOT.set(None)
    set_all_config(dict(run.config), sorted(run.secret_keys))
    logging.getLogger("pulumi").setLevel(logging.CRITICAL)

    async def program() -> None:
        body()
        if run.fast:
            await _drain_outstanding()

    try:
        loop.run_until_complete(run_in_stack(program))
    except (Exception, SystemExit) as err:
        raise ProgramError(err, monitor.resources_in_order()) from err
    finally:
        _cancel_leftovers(loop)
        loop.close()
        asyncio.set_event_loop(None)
    resources = monitor.resources_in_order()
    stack = next((r for r in resources if r.type == STACK_TYPE), None)
    outputs = stack.outputs if stack is not None and stack.outputs is not None else {}
    engine.diagnostics.extend(
        Diagnostic("warning", f"unhandled error in the program: {e}") for e in loop_errors
    )
    return RunResult(resources=resources, outputs=outputs, diagnostics=engine.diagnostics)


async def _drain_outstanding() -> None:
    """Wait for every outstanding RPC and output in one pass per wave, not one at a time.

    The SDK's `wait_for_rpcs` then finds everything settled; failures are left for it to raise with
    its own semantics, so results do not change.
    """
    rpc_manager = settings.SETTINGS.rpc_manager
    while True:
        with settings.SETTINGS.lock:
            pending = [f for f in (*rpc_manager.rpcs, *settings.SETTINGS.outputs) if not f.done()]
        if not pending:
            return
        await asyncio.gather(*pending, return_exceptions=True)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


@contextlib.contextmanager
def _program_environment(workdir: Path | None, *, fast: bool, exact_padding: bool) -> Iterator[None]:
    """cwd, sys.path, modules, GC and env as a program run needs them; all restored afterwards."""
    saved_cwd = Path.cwd()
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    saved_threshold = gc.get_threshold()
    # Config comes only from the run, never from a PULUMI_CONFIG the caller's shell happens to have.
    saved_env = {
        k: os.environ.pop(k) for k in ("PULUMI_CONFIG", "PULUMI_CONFIG_SECRET_KEYS") if k in os.environ
    }
    if workdir is not None:
        os.chdir(workdir)
    if fast:
        gc.set_threshold(100_000, 10, 10)
    try:
        # Innermost, so the SDK is restored before the program's modules are forgotten below.
        with patched_sync_await() if fast and exact_padding else contextlib.nullcontext(False):
            yield
    finally:
        gc.set_threshold(*saved_threshold)
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        os.environ.update(saved_env)
        if workdir is not None:
            # Forget the program's own modules so the next run (another program) imports its own.
            for name in set(sys.modules) - saved_modules:
                module_file = getattr(sys.modules[name], "__file__", None) or ""
                if module_file.startswith(str(workdir)):
                    del sys.modules[name]
