"""`hub`: operator tooling for mlops-hub (offline preview today; gate, rag and loop as they land)."""

import json
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer

from scripts.hub.gate.findings import WaiverError, load_waivers, verdict
from scripts.hub.gate.gate import GateSetupError, checkov_scan, load_policy_config, run_gate
from scripts.hub.gate.pack_client import PackError
from scripts.hub.gate.report import ReportFormat, render
from scripts.hub.loop.command import loop
from scripts.hub.offline.engine import DuplicateUrnError, ProgramError, ProgramRun, run_program
from scripts.hub.offline.plan import build_plan, write_plan
from scripts.hub.offline.project import ProjectError, load_project, load_stack_config
from scripts.hub.rag_cli import rag_app
from scripts.hub.render import render_plan

REPO_ROOT = Path(__file__).resolve().parents[2]
EXIT_OK = 0
EXIT_FAIL = 1
EXIT_ERROR = 2

app = typer.Typer(
    help="mlops-hub operator tooling: preview any Pulumi Python program offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(EXIT_ERROR)


def program_frame(tb: TracebackType | None, root: Path) -> str:
    """`path:line in function` of the deepest traceback frame in the program's own files."""
    found = ""
    for frame, lineno in traceback.walk_tb(tb):
        filename = Path(frame.f_code.co_filename)
        try:
            relative = filename.resolve().relative_to(root)
        except ValueError:
            continue
        if relative.parts and relative.parts[0] in {".venv", "venv", "site-packages"}:
            continue
        found = f"{relative}:{lineno} in {frame.f_code.co_name}"
    return found


def _program_failure(failure: ProgramError, root: Path) -> str:
    cause = failure.cause
    if isinstance(cause, DuplicateUrnError):
        return str(cause)
    where = program_frame(cause.__traceback__, root.resolve())
    return f"program failed: {type(cause).__name__}: {failure}" + (f" ({where})" if where else "")


@app.command()
def preview(
    stack: Annotated[str, typer.Argument(help="Stack name: reads <stackConfigDir>/Pulumi.<STACK>.yaml.")],
    program: Annotated[
        Path, typer.Option("--program", help="Directory holding the program's Pulumi.yaml.")
    ] = REPO_ROOT,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config", "-c", help="KEY=VALUE override; KEY may be a path (aws.region). Repeatable."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the plan document (JSON) here.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan document instead of the tree.")
    ] = False,
) -> None:
    """Run a Pulumi Python program offline in preview mode and show what it would deploy."""
    try:
        project = load_project(program)
        stack_config = load_stack_config(project, stack, config or [])
    except ProjectError as err:
        raise _fail(str(err)) from None
    try:
        result = run_program(
            ProgramRun(
                entry=project.entry,
                project=project.name,
                stack=stack,
                config=stack_config.values,
                secret_keys=stack_config.secret_keys,
            )
        )
    except ProgramError as failure:
        raise _fail(_program_failure(failure, project.root)) from None
    plan = build_plan(project.name, stack, stack_config.shown, result)
    for diagnostic in result.diagnostics:
        if diagnostic.severity in {"warning", "error"}:
            typer.echo(f"{diagnostic.severity}: {diagnostic.message}", err=True)
    if out is not None:
        write_plan(plan, out)
    if as_json:
        typer.echo(json.dumps(plan, indent=2))
    else:
        typer.echo(render_plan(plan))
        if out is not None:
            typer.echo(f"\nPlan written to {out}")


@app.command()
def gate(
    stack: Annotated[str, typer.Argument(help="Stack name: reads <stackConfigDir>/Pulumi.<STACK>.yaml.")],
    program: Annotated[
        Path, typer.Option("--program", help="Directory holding the program's Pulumi.yaml.")
    ] = REPO_ROOT,
    config: Annotated[
        list[str] | None,
        typer.Option(
            "--config", "-c", help="KEY=VALUE override; KEY may be a path (aws.region). Repeatable."
        ),
    ] = None,
    report_format: Annotated[str, typer.Option("--format", help="text, json, markdown or sarif.")] = "text",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the report here instead of stdout.")
    ] = None,
    waivers: Annotated[
        Path | None,
        typer.Option("--waivers", help="Waiver file (default: policies/waivers.yaml of this repo)."),
    ] = None,
    pack: Annotated[Path, typer.Option("--pack", help="Policy pack directory.")] = REPO_ROOT / "policies",
    policy_config: Annotated[
        Path | None,
        typer.Option(
            "--policy-config", help="Pack config JSON (default: <pack>/config/<STACK>.json when present)."
        ),
    ] = None,
    checkov: Annotated[
        bool, typer.Option("--checkov/--no-checkov", help="Also run checkov's catalogue.")
    ] = True,
) -> None:
    """Gate a Pulumi Python program offline: our policy pack and checkov over its plan, one verdict.

    Exit 0 when nothing mandatory is found, 1 when something is, 2 on error.
    """
    try:
        chosen = ReportFormat(report_format)
    except ValueError:
        allowed = ", ".join(f.value for f in ReportFormat)
        raise _fail(f"unknown --format {report_format!r}; allowed: {allowed}") from None
    waiver_file = waivers if waivers is not None else REPO_ROOT / "policies" / "waivers.yaml"
    try:
        loaded = load_waivers(waiver_file) if waivers is not None or waiver_file.is_file() else []
        scan = checkov_scan() if checkov else None
        config_file = policy_config if policy_config is not None else pack / "config" / f"{stack}.json"
        pack_config = (
            load_policy_config(config_file) if policy_config is not None or config_file.is_file() else {}
        )
        result = run_gate(
            program,
            stack,
            overrides=config or [],
            pack_dir=pack,
            waivers=loaded,
            checkov=scan,
            policy_config=pack_config,
        )
    except (ProjectError, WaiverError, PackError, GateSetupError) as err:
        raise _fail(str(err)) from None
    except ProgramError as failure:
        raise _fail(_program_failure(failure, program)) from None
    text = render(result.findings, chosen, stack=stack, artifact=result.artifact)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(
            render(result.findings, ReportFormat.TEXT, stack=stack, artifact=result.artifact).splitlines()[-1]
        )
    else:
        typer.echo(text)
    raise typer.Exit(EXIT_FAIL if verdict(result.findings) == "fail" else EXIT_OK)


app.add_typer(rag_app, name="rag")
app.command(name="loop")(loop)


@app.callback()
def _root() -> None:
    """mlops-hub operator tooling."""


def main() -> None:
    """Console-script entry point (`hub`)."""
    sys.exit(app())  # typer raises SystemExit itself; this keeps the exit code when it returns


if __name__ == "__main__":
    main()
