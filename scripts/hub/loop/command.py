"""The `hub loop` command (registered in scripts/hub/cli.py).

Heavy imports (pandas, matplotlib, the workloads) happen inside the command, so `hub --help` and the
other commands never pay for them.
"""

import importlib.util
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

EXIT_FAILED = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
DEFAULT_WORKDIR = Path(".mlops-hub/loop")
WORKLOADS = ("training", "serving", "monitoring")


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    # Same contract as cli._fail (one line on stderr); not imported from there because cli imports us.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(code)


def missing_workloads(s3: bool) -> list[str]:
    """Modules the loop runs that this environment lacks (`<workload>.__main__`, moto with --s3)."""
    wanted = [f"{name}.__main__" for name in WORKLOADS] + ["lifecycle.synthetic", "mlflow"]
    if s3:
        wanted.append("moto.server")
    missing = []
    for module in wanted:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(module)
    return missing


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM (and SIGHUP) take the same path as Ctrl-C: the scenario's finally stops every child.
    raise KeyboardInterrupt


def loop(
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Working directory; emptied first if an earlier run made it.")
    ] = DEFAULT_WORKDIR,
    s3: Annotated[
        bool,
        typer.Option("--s3", help="Keep MLflow artifacts in a local moto S3 server instead of a directory."),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the data, the traffic and training.")] = 7,
    events: Annotated[
        Path | None, typer.Option("--events", help="Merged event log (default: <workdir>/events.json).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="HTML report (default: <workdir>/report.html).")
    ] = None,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Smaller tables, faster traffic and monitor cycles (tests, demos)."),
    ] = False,
) -> None:
    """Run the whole model lifecycle locally: train, serve, monitor, drift, retrain, bad promotion, rollback.

    Starts MLflow and the three workloads on 127.0.0.1, drives traffic, injects drift and a worse model,
    and checks that the decisions happen in order. Writes events.json and report.html.

    Exit 0 when every step and check passed, 1 when one did not, 2 when the loop could not start,
    130 when interrupted.
    """
    missing = missing_workloads(s3)
    if missing:
        raise _fail(
            f"cannot run the loop: missing {', '.join(missing)}; install the ml and dev extras "
            "(pip install -e '.[ml,dev]')"
        )
    from rich.console import Console  # noqa: PLC0415

    from scripts.hub.loop.scenario import FULL, QUICK, LoopOptions, SetupError, run_loop  # noqa: PLC0415

    options = LoopOptions(
        workdir=workdir,
        events_path=events if events is not None else workdir / "events.json",
        report_path=report if report is not None else workdir / "report.html",
        seed=seed,
        s3=s3,
        tuning=QUICK if quick else FULL,
    )
    console = Console(highlight=False, soft_wrap=True)
    handlers: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup'd: keep ignoring hangups
                handlers[signum] = signal.signal(signum, _interrupt)
    try:
        result = run_loop(options, console)
    except SetupError as err:
        raise _fail(str(err)) from None
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    console.print(("[green]" if result.order.ok else "[red]") + result.order.describe() + "[/]")
    console.print(
        f"events: {result.events_path}\nreport: {result.report_path}\ntotal: {result.seconds:.1f} s"
    )
    if result.failure == "interrupted":
        raise _fail("interrupted; every child stopped, events and report written", EXIT_INTERRUPTED)
    if result.failure is not None:
        raise _fail(result.failure, EXIT_FAILED)
