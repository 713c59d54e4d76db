"""The gate: offline preview → the policy pack over the wire → checkov over the exported plan → one verdict."""

import datetime as dt
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.hub.gate.findings import ADVISORY, MANDATORY, Finding, Waiver, apply_waivers
from scripts.hub.gate.pack_client import PackResult, analyze_with_pack
from scripts.hub.offline.engine import ProgramRun, run_program
from scripts.hub.offline.plan import build_plan
from scripts.hub.offline.project import load_project, load_stack_config

CheckovScan = Callable[[Mapping[str, Any], Sequence[Path]], list[Finding]]


class GateSetupError(Exception):
    """Something the gate needs is not installed; one line saying how to install it."""


def checkov_scan() -> CheckovScan:
    """checkov over the exported plan, from checkov's own environment (its pins clash with pulumi's).

    Raises:
        GateSetupError: the checkov environment is missing.
    """
    from scripts.hub.gate import checkov_bridge  # noqa: PLC0415 (keeps `hub preview` free of the bridge)

    python = checkov_bridge.checkov_environment()
    if not python.exists():
        raise GateSetupError(
            f"checkov's environment {python.parent.parent} is missing; run `make setup` (or pass --no-checkov)"
        )

    def scan(plan: Mapping[str, Any], dockerfiles: Sequence[Path]) -> list[Finding]:
        try:
            found = checkov_bridge.scan_plan(plan, dockerfiles=dockerfiles, checkov_python=python)
        except checkov_bridge.CheckovError as err:
            raise GateSetupError(f"checkov failed: {err}") from None
        return [
            Finding(
                source="checkov",
                id=f.check_id,
                urn=f.urn,
                resource_type=f.resource_type,
                severity=(f.severity or "unspecified").lower(),
                enforcement=MANDATORY,
                message=f.check_name,
                remediation=f.guideline or "",
            )
            for f in found
        ]

    return scan


@dataclass(slots=True)
class GateResult:
    """What one gate run found, and how long each stage took."""

    stack: str
    artifact: str
    """The stack file, relative to the program directory (where code scanning shows results)."""
    plan: dict[str, Any]
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)


def load_policy_config(path: Path) -> dict[str, dict[str, Any]]:
    """A policy-pack config file, in the format `pulumi preview --policy-pack-config` reads.

    `{"<policy-name>": {"enforcementLevel": "mandatory" | "advisory" | "disabled", "<property>": ...}}`.

    Raises:
        GateSetupError: unreadable or not that shape.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise GateSetupError(f"cannot read policy config {path}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise GateSetupError(
            f"policy config {path} is not valid JSON ({err.msg} at line {err.lineno})"
        ) from None
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise GateSetupError(f"policy config {path} must map policy names to objects")
    return document


def policy_findings(result: PackResult, plan: Mapping[str, Any]) -> list[Finding]:
    """The pack's diagnostics as findings, with each policy's severity and remediation."""
    types = {r["urn"]: r["type"] for r in plan["resources"]}
    findings = []
    for diagnostic in result.diagnostics:
        info = result.policies.get(diagnostic.policy)
        # The SDK prefixes a resource policy's message with the policy description; keep what it adds.
        message = diagnostic.message
        if diagnostic.description and message.startswith(diagnostic.description + "\n"):
            message = message[len(diagnostic.description) + 1 :]
        severity = info.severity if info else diagnostic.severity
        if diagnostic.severity == "unspecified" and diagnostic.enforcement == "advisory":
            # The SDK's note that a value unknown in preview kept a policy from running: not a violation.
            severity = "info"
        findings.append(
            Finding(
                source="policy",
                id=diagnostic.policy,
                urn=diagnostic.urn,
                resource_type=types.get(diagnostic.urn, ""),
                severity=severity,
                enforcement=MANDATORY if diagnostic.enforcement in {"mandatory", "remediate"} else ADVISORY,
                message=message,
                remediation=info.remediation if info else "",
            )
        )
    return findings


def run_gate(
    program_dir: Path,
    stack: str,
    *,
    overrides: Sequence[str] = (),
    pack_dir: Path,
    waivers: Sequence[Waiver] = (),
    checkov: CheckovScan | None = None,
    policy_config: Mapping[str, Mapping[str, Any]] | None = None,
    today: dt.date | None = None,
) -> GateResult:
    """Preview `program_dir`'s `stack` offline and gate the plan.

    Raises:
        ProjectError, ProgramError, PackError: as the stages they come from; the CLI turns each into one line.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    project = load_project(program_dir)
    stack_config = load_stack_config(project, stack, overrides)
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
    timings["preview_s"] = time.perf_counter() - started

    started = time.perf_counter()
    pack_result = analyze_with_pack(pack_dir, plan, config=stack_config.values, policy_config=policy_config)
    findings = policy_findings(pack_result, plan)
    timings["policies_s"] = time.perf_counter() - started

    if checkov is not None:
        started = time.perf_counter()
        dockerfiles = sorted(project.root.glob("workloads/**/Dockerfile"))
        findings += checkov(plan, dockerfiles)
        timings["checkov_s"] = time.perf_counter() - started

    stack_file = next(project.stack_config_dir.glob(f"Pulumi.{stack}.y*ml"))
    return GateResult(
        stack=stack,
        artifact=str(stack_file.relative_to(project.root)),
        plan=plan,
        findings=apply_waivers(findings, waivers, today or dt.date.today()),
        timings=timings,
    )
