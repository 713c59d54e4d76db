"""`hub`: operator tooling for mlops-hub (offline preview today; gate, rag and loop as they land)."""

import json
import sys
import traceback
from pathlib import Path
from types import TracebackType
from typing import Annotated

import typer

from scripts.hub.offline.engine import DuplicateUrnError, ProgramError, ProgramRun, run_program
from scripts.hub.offline.plan import build_plan, write_plan
from scripts.hub.offline.project import ProjectError, load_project, load_stack_config
from scripts.hub.render import render_plan

REPO_ROOT = Path(__file__).resolve().parents[2]
EXIT_OK = 0
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
        cause = failure.cause
        if isinstance(cause, DuplicateUrnError):
            raise _fail(str(cause)) from None
        where = program_frame(cause.__traceback__, project.root)
        message = f"program failed: {type(cause).__name__}: {failure}" + (f" ({where})" if where else "")
        raise _fail(message) from None
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


@app.callback()
def _root() -> None:
    """mlops-hub operator tooling."""


def main() -> None:
    """Console-script entry point (`hub`)."""
    sys.exit(app())  # typer raises SystemExit itself; this keeps the exit code when it returns


if __name__ == "__main__":
    main()
