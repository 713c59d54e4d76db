"""`python -m monitoring [--once | --interval S]`: watch the champion for drift and lost quality.

`--once` runs one cycle (a Kubernetes CronJob, or `hub loop`), waits for a local retrain it started,
prints one JSON summary line (on stdout when events go to a file, else in the stderr log) and exits 0,
also when the cycle was skipped because a dependency was down: that is an event, not a crash. Exit 1:
an unexpected error (e.g. an unreadable state file, which is never silently reset: that would re-judge
every captured window). Without `--once` it loops every `--interval` seconds
(`MONITORING_INTERVAL_S`) until SIGTERM/SIGINT, serving `/metrics` when `MONITORING_METRICS_PORT` is set.
Exit 2: bad settings or flags (one line on stderr).
"""

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from lifecycle.events import EventLog
from lifecycle.logs import configure_logging
from monitoring.monitor import Monitor
from monitoring.settings import MonitoringSettings, SettingsError, load_settings

logger = logging.getLogger("monitoring")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"monitoring: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m monitoring", description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="run one cycle and exit")
    mode.add_argument(
        "--interval", type=float, metavar="S", help="seconds between cycles (MONITORING_INTERVAL_S)"
    )
    parser.add_argument("--model-name", help="registered model (MONITORING_MODEL_NAME)")
    parser.add_argument(
        "--capture-dir", type=Path, help="prediction capture directory (MONITORING_CAPTURE_DIR)"
    )
    parser.add_argument("--state-path", type=Path, help="state file (MONITORING_STATE_PATH)")
    parser.add_argument("--events", type=Path, help="events file; default stdout (MONITORING_EVENTS_PATH)")
    parser.add_argument(
        "--metrics-port", type=int, help="serve /metrics in interval mode (MONITORING_METRICS_PORT)"
    )
    return parser


def _settings(arguments: argparse.Namespace) -> MonitoringSettings:
    return load_settings(
        interval_s=arguments.interval,
        model_name=arguments.model_name,
        capture_dir=arguments.capture_dir,
        state_path=arguments.state_path,
        events_path=arguments.events,
        metrics_port=arguments.metrics_port,
    )


def _loop(monitor: Monitor, settings: MonitoringSettings) -> int:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    if settings.metrics_port is not None:
        monitor.metrics.serve(settings.metrics_port, settings.metrics_host)
    while not stop.is_set():
        try:
            report = monitor.run_cycle()
            logger.info("cycle", extra={"cycle": report.to_dict()})
        except Exception:  # the loop outlives any one cycle; the error is counted and logged
            monitor.metrics.errors.labels(kind="unexpected").inc()
            logger.exception("cycle failed")
        stop.wait(settings.interval_s)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    arguments = _parser().parse_args(argv)
    # The monitor retries with its own backoff (MONITORING_RETRY_*); MLflow's HTTP client would otherwise
    # retry each call up to 7 times over minutes first. An operator's own setting wins.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        settings = _settings(arguments)
        configure_logging(("monitoring",))
        events = EventLog(settings.events_path, echo=None if settings.events_path else sys.stdout)
        monitor = Monitor(settings, events)
    except (SettingsError, ValueError) as error:
        print(f"monitoring: {error}", file=sys.stderr)
        return 2
    if not arguments.once:
        return _loop(monitor, settings)
    try:
        report = monitor.run_cycle(wait_for_retrain=True)
    except Exception:
        logger.exception("cycle failed")
        return 1
    if settings.pushgateway_url:
        try:
            monitor.metrics.push(settings.pushgateway_url)
        except OSError as error:
            logger.warning("metrics push failed", extra={"error": str(error)})
    summary = {"cycle": "completed" if report.completed else "skipped", **report.to_dict()}
    if settings.events_path is None:
        # stdout is the event stream then: a summary line there would not be an event.
        logger.info("cycle summary", extra={"summary": summary})
    else:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
