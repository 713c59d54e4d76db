"""The scenario of `hub loop`: start the lifecycle, push it through drift and a bad promotion, check it.

Steps, each with a timeout and a one-line failure naming the step and what was seen instead:
1. tracking server: MLflow (sqlite + local or moto-S3 artifacts) on a free loopback port;
2. initial training: the training Job on the undrifted warehouse table → the first champion;
3. serving: `python -m serving` (uvicorn) with generated API keys, until `/readyz`;
4. monitor: `python -m monitoring --interval S`, retraining with the training Job on the same table;
5. baseline: undrifted traffic, delayed labels, malformed probes, until the monitor checks drift;
6. drift: drifted traffic and table, until the monitor retrains and serving answers with the new champion;
7. worse model: a model trained on shuffled labels promoted by hand, until the monitor rolls it back;
then everything is stopped, the events merged, the order checked and the report written.
"""

import atexit
import contextlib
import functools
import hashlib
import json
import re
import secrets
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.markup import escape as rich_escape

from scripts.hub.loop.processes import (
    ProcessManager,
    StepFailedError,
    child_environment,
    free_port,
    one_line,
    wait_until,
)
from scripts.hub.loop.report import ReportData, StepTiming, drift_score, render_report
from scripts.hub.loop.timeline import (
    DRIFT_CHECKED,
    DRIFT_DETECTED,
    DRIFT_INJECTED,
    LOOP_SOURCE,
    MODEL_NOT_PROMOTED,
    MODEL_PROMOTED,
    MODEL_ROLLED_BACK,
    QUALITY_CHECKED,
    RETRAIN_TRIGGERED,
    WORSE_MODEL_INJECTED,
    EventCollector,
    LoopEvent,
    OrderCheck,
    check_order,
    write_events,
)
from scripts.hub.loop.traffic import ProbeResult, TrafficDriver, Warehouse, send_probes

MARKER_FILE = ".hub-loop"
"""Marks a directory `hub loop` made, so a rerun may wipe it (and never wipes anything else)."""
BUCKET = "mlops-hub-loop"
CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"
MODEL_NAME = "fraud-detector"
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class Tuning:
    """Sizes, rates and timeouts of one run (`FULL` by default, `QUICK` for tests and demos)."""

    train_rows: int
    rate_per_s: float
    batch_rows: int
    label_delay_s: float
    monitor_interval_s: float
    min_samples: int
    min_labels: int
    capture_flush_s: float
    reload_interval_s: float
    baseline_s: float
    settle_s: float
    """Traffic kept flowing after the rollback, so the plots show the recovery."""
    server_timeout_s: float = 120.0
    training_timeout_s: float = 300.0
    ready_timeout_s: float = 120.0
    baseline_timeout_s: float = 120.0
    drift_timeout_s: float = 240.0
    retrain_timeout_s: float = 360.0
    reload_timeout_s: float = 90.0
    rollback_timeout_s: float = 240.0


FULL = Tuning(
    train_rows=20_000,
    rate_per_s=10.0,
    batch_rows=32,
    label_delay_s=2.0,
    monitor_interval_s=5.0,
    min_samples=1000,
    min_labels=200,
    capture_flush_s=2.0,
    reload_interval_s=1.0,
    baseline_s=20.0,
    settle_s=5.0,
)
QUICK = Tuning(
    train_rows=3000,
    rate_per_s=8.0,
    batch_rows=16,
    label_delay_s=1.0,
    monitor_interval_s=2.0,
    min_samples=400,
    min_labels=100,
    capture_flush_s=1.0,
    reload_interval_s=1.0,
    baseline_s=4.0,
    settle_s=2.0,
)


@dataclass(frozen=True)
class LoopOptions:
    """What the command line chose."""

    workdir: Path
    events_path: Path
    report_path: Path
    seed: int = 7
    s3: bool = False
    tuning: Tuning = FULL
    python: str = sys.executable
    model_name: str = MODEL_NAME


@dataclass
class LoopResult:
    """How the run ended; `failure` is None when every step and check passed."""

    failure: str | None
    order: OrderCheck
    events_path: Path
    report_path: Path
    seconds: float
    steps: list[StepTiming] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every step reached its goal and every check held."""
        return self.failure is None


class SetupError(Exception):
    """The loop cannot start at all (bad workdir, workload missing); one line, exit 2."""


def prepare_workdir(workdir: Path) -> None:
    """Create `workdir`, or empty one an earlier `hub loop` made; refuse any other non-empty directory."""
    if workdir.exists():
        if not workdir.is_dir():
            raise SetupError(f"--workdir {workdir} exists and is not a directory")
        if any(workdir.iterdir()):
            if not (workdir / MARKER_FILE).is_file():
                raise SetupError(
                    f"--workdir {workdir} is not empty and was not made by hub loop; "
                    "choose an empty or new directory"
                )
            import shutil  # noqa: PLC0415

            shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MARKER_FILE).write_text("made by hub loop; emptied by the next run\n")


class Registry:
    """The few MLflow registry calls the loop makes, over MLflow's REST API (no mlflow import here)."""

    def __init__(self, base_url: str, model_name: str) -> None:
        """Reads and moves aliases of `model_name`."""
        self.model_name = model_name
        self._client = httpx.Client(base_url=base_url, timeout=15.0, trust_env=False)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def alias_version(self, alias: str) -> str | None:
        """The version an alias points at, or None."""
        response = self._client.get(
            "/api/2.0/mlflow/registered-models/alias", params={"name": self.model_name, "alias": alias}
        )
        if response.status_code != 200:
            return None
        return str(response.json()["model_version"]["version"])

    def set_alias(self, alias: str, version: str) -> None:
        """Point an alias at a version (what `MlflowClient.set_registered_model_alias` sends)."""
        response = self._client.post(
            "/api/2.0/mlflow/registered-models/alias",
            json={"name": self.model_name, "alias": alias, "version": version},
        )
        response.raise_for_status()

    def latest_version(self) -> str | None:
        """The highest version number registered."""
        response = self._client.get(
            "/api/2.0/mlflow/model-versions/search",
            params={"filter": f"name='{self.model_name}'", "max_results": 1000},
        )
        if response.status_code != 200:
            return None
        versions = [int(v["version"]) for v in response.json().get("model_versions", [])]
        return str(max(versions)) if versions else None


def api_keys_file(path: Path) -> tuple[str, str]:
    """Write a one-key file (`key_id:sha256-of-key`, owner-only); returns `(key_id, key)`."""
    key_id, key = "hub-loop", secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(f"# written by hub loop\n{key_id}:{hashlib.sha256(key.encode()).hexdigest()}\n")
    return key_id, key


def s3_object_count(endpoint: str, bucket: str) -> int:
    """Objects in a moto bucket (unsigned ListObjectsV2; moto does not check signatures by default)."""
    count, token = 0, None
    with httpx.Client(base_url=endpoint, timeout=15.0, trust_env=False) as client:
        while True:
            params = {"list-type": "2", **({"continuation-token": token} if token else {})}
            body = client.get(f"/{bucket}", params=params).text
            count += len(re.findall(r"<Key>", body))
            match = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
            if match is None:
                return count
            token = match.group(1)


class Scenario:
    """One run of the loop: owns the children, the traffic driver and everything observed."""

    def __init__(self, options: LoopOptions, console: Console) -> None:
        """Nothing starts until `run()`."""
        self.options = options
        self.tuning = options.tuning
        self.console = console
        workdir = options.workdir
        self.paths = {
            "logs": workdir / "logs",
            "events": workdir / "events",
            "data": workdir / "data" / "warehouse.parquet",
            "worse": workdir / "data" / "shuffled-labels.parquet",
            "capture": workdir / "capture",
            "quarantine": workdir / "quarantine",
            "state": workdir / "monitoring" / "state.json",
            "keys": workdir / "api-keys.txt",
        }
        self.manager = ProcessManager(self.paths["logs"])
        self.collector = EventCollector(self.paths["events"])
        self.warehouse = Warehouse(self.paths["data"], max_rows=self.tuning.train_rows)
        self.started = time.time()
        self.steps: list[StepTiming] = []
        self.probes: list[ProbeResult] = []
        self.driver: TrafficDriver | None = None
        self.registry: Registry | None = None
        self.tracking_uri = ""
        self.serving_url = ""
        self.s3_endpoint: str | None = None
        self.s3_objects: int | None = None
        self.extra_env: dict[str, str] = {}
        self.retrain_command = ""
        self.api_key = ""
        self._last_quiet: dict[str, str] = {}
        self._last_flush = 0.0

    # --- plumbing -------------------------------------------------------------------------------

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A child's environment: the loop's base, the tracking URI, S3 settings, then `extra`."""
        return child_environment(
            {"MLFLOW_TRACKING_URI": self.tracking_uri, **self.extra_env, **(extra or {})}
        )

    def tick(self, step: str) -> None:
        """Between polls: surface new events, flush the warehouse table, check the servers are up."""
        for event in self.collector.poll():
            self._print_event(event)
        now = time.monotonic()
        if now - self._last_flush > 1.0:
            self.warehouse.write()
            self._last_flush = now
        self.manager.check_alive(step)

    def _quiet_line(self, event: LoopEvent) -> str | None:
        """The dimmed line of a routine check, or None when it repeats the previous one."""
        details = event.details
        if event.type == DRIFT_CHECKED and not details.get("checked", True):
            line = f"drift_checked  not judged: {details.get('reason')}"
        elif event.type == DRIFT_CHECKED:
            score = drift_score(details)
            return f"drift_checked  share of drifted features {'?' if score is None else f'{score:.2f}'}"
        else:
            line = (
                f"quality_checked  champion v{details.get('champion_version')}, "
                f"decision: {details.get('decision')}"
            )
        if line == self._last_quiet.get(event.type):
            return None
        self._last_quiet[event.type] = line
        return line

    def _print_event(self, event: LoopEvent) -> None:
        at = event.at.timestamp() - self.started
        if event.type in (DRIFT_CHECKED, QUALITY_CHECKED):
            line = self._quiet_line(event)
            if line is not None:
                self.console.print(
                    f"  [dim]{at:7.1f}s  {event.source:<10} {rich_escape(one_line(line, 140))}[/]"
                )
            return
        keys = ("version", "from_version", "to_version", "share_drifted", "reason")
        summary = ", ".join(f"{k}={event.details[k]}" for k in keys if k in event.details)
        metrics = event.details.get("metrics")
        if isinstance(metrics, dict) and "holdout_roc_auc" in metrics:
            summary = f"holdout_roc_auc={float(metrics['holdout_roc_auc']):.3f}" + (
                f", {summary}" if summary else ""
            )
        style = "bold magenta" if event.source == LOOP_SOURCE else "bold"
        self.console.print(
            f"  {at:7.1f}s  {event.source:<10} [{style}]{event.type}[/]  {rich_escape(one_line(summary, 140))}"
        )

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Time a step and print its status line; the yielded list collects notes for the report."""
        notes: list[str] = []
        self.console.print(f"[bold cyan]▶ {name}[/]")
        started = time.monotonic()
        try:
            yield notes
        except BaseException:
            self.steps.append(StepTiming(name, time.monotonic() - started, ok=False, note="; ".join(notes)))
            self.console.print(f"[bold red]✗ {name}[/] ({time.monotonic() - started:.1f} s)")
            raise
        seconds = time.monotonic() - started
        self.steps.append(StepTiming(name, seconds, ok=True, note="; ".join(notes)))
        self.console.print(
            f"[bold green]✓ {name}[/] ({seconds:.1f} s){': ' + rich_escape('; '.join(notes)) if notes else ''}"
        )

    def wait(
        self, step: str, what: str, condition: Callable[[], Any], timeout_s: float, seen: Callable[[], str]
    ) -> Any:
        """`wait_until` with this scenario's tick, and `what` in the failure line."""
        try:
            return wait_until(step, condition, timeout_s=timeout_s, seen=seen, tick=lambda: self.tick(step))
        except StepFailedError as failure:
            raise StepFailedError(step, f"waiting for {what}: {str(failure).split(': ', 1)[1]}") from None

    def _event_after(self, start: float, event_type: str, source: str | None = None) -> LoopEvent | None:
        for event in self.collector.events:
            if event.type == event_type and event.at.timestamp() >= start and source in (None, event.source):
                return event
        return None

    def _recent_events(self, start: float, limit: int = 6) -> str:
        recent = [e for e in self.collector.events if e.at.timestamp() >= start and e.type != DRIFT_CHECKED]
        checks = [e for e in self.collector.events if e.at.timestamp() >= start and e.type == DRIFT_CHECKED]
        shown = ", ".join(f"{e.source}:{e.type}" for e in recent[-limit:]) or "no events"
        if checks:
            score = drift_score(checks[-1].details)
            shown += f"; {len(checks)} drift checks, last score {score if score is None else round(score, 3)}"
        return shown

    def _seen(self, since: float) -> str:
        """What a waiting step reports on timeout: responses by version and the recent events."""
        return f"{self._serving_seen(since)}; {self._recent_events(since)}"

    def _serving_seen(self, since: float) -> str:
        assert self.driver is not None
        versions = self.driver.versions_since(since)
        counts = {v: versions.count(v) for v in dict.fromkeys(versions)}
        errors = self.driver.count(since=since, status=lambda s: s >= 400 or s == 0)
        return f"responses by model version {counts or '{}'}, {errors} failed requests" + (
            f" (last error: {self.driver.stats.last_error})" if self.driver.stats.last_error else ""
        )

    def _training_argv(self, data: Path) -> list[str]:
        return [
            self.options.python,
            "-m",
            "training",
            "--data",
            str(data),
            "--events",
            str(self.collector.path_for("training")),
            "--quarantine-dir",
            str(self.paths["quarantine"]),
            "--seed",
            str(self.options.seed),
        ]

    def _generate(self, rows: int, seed: int, drift: float) -> pd.DataFrame:
        from lifecycle.synthetic import generate  # noqa: PLC0415

        return generate(rows, seed=seed, drift=drift)

    # --- steps ----------------------------------------------------------------------------------

    def start_tracking(self) -> None:
        """Step 1: the MLflow tracking server (and the moto S3 server with --s3)."""
        name = "tracking server"
        with self.step(name) as notes:
            artifacts = str(self.options.workdir / "artifacts")
            if self.options.s3:
                port = free_port()
                self.s3_endpoint = f"http://127.0.0.1:{port}"
                self.manager.start(
                    "moto",
                    [self.options.python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    env=child_environment(FAKE_AWS),
                )
                self.wait(
                    name, "moto S3 server", lambda: _answers(f"{self.s3_endpoint}/"), 30, lambda: "no answer"
                )
                with httpx.Client(timeout=10.0, trust_env=False) as client:
                    client.put(f"{self.s3_endpoint}/{BUCKET}").raise_for_status()
                self.extra_env = {**FAKE_AWS, "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint}
                artifacts = f"s3://{BUCKET}/artifacts"
                notes.append(f"moto S3 at {self.s3_endpoint}, bucket {BUCKET}")
            port = free_port()
            self.tracking_uri = f"http://127.0.0.1:{port}"
            self.manager.start(
                "mlflow",
                [
                    self.options.python,
                    "-m",
                    "mlflow",
                    "server",
                    "--backend-store-uri",
                    f"sqlite:///{(self.options.workdir / 'mlflow.db').resolve()}",
                    "--artifacts-destination",
                    artifacts,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--workers",
                    "1",
                ],
                # Job execution starts seven huey consumers (≈ 15 s more on two cores); the loop needs none.
                env=self.env({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}),
            )
            self.launch_services()
            notes.append("serving and the monitor starting alongside")
            self.wait(
                name,
                f"MLflow /health at {self.tracking_uri}",
                lambda: _answers(f"{self.tracking_uri}/health", ok_only=True),
                self.tuning.server_timeout_s,
                lambda: "no healthy answer",
            )
            self.registry = Registry(self.tracking_uri, self.options.model_name)
            notes.append(f"MLflow at {self.tracking_uri}, artifacts in {artifacts}")

    def launch_services(self) -> None:
        """Start serving and the monitor without waiting for them. Their start-up (MLflow, Evidently
        imports) then overlaps with the tracking server's and the first training's instead of following
        them; both retry the registry until it answers and the first champion exists."""
        _, self.api_key = api_keys_file(self.paths["keys"])
        port = free_port()
        self.serving_url = f"http://127.0.0.1:{port}"
        self.manager.start(
            "serving",
            [self.options.python, "-m", "serving"],
            env=self.env(
                {
                    "SERVING_HOST": "127.0.0.1",
                    "SERVING_PORT": str(port),
                    "SERVING_MODEL_NAME": self.options.model_name,
                    "SERVING_API_KEYS_FILE": str(self.paths["keys"]),
                    "SERVING_RELOAD_INTERVAL_S": str(self.tuning.reload_interval_s),
                    # Serving starts before the first champion exists: poll for it at least every second.
                    "SERVING_STARTUP_RETRY_MAX_S": "1",
                    "SERVING_CAPTURE_DIR": str(self.paths["capture"]),
                    "SERVING_CAPTURE_FLUSH_S": str(self.tuning.capture_flush_s),
                    # The loop is one trusted client: its rate must never be what is measured.
                    "SERVING_RATE_PER_S": "100000",
                    "SERVING_BURST": "100000",
                    "SERVING_MAX_ROWS": str(SERVING_MAX_ROWS),
                    "SERVING_EVENTS_PATH": str(self.collector.path_for("serving")),
                }
            ),
        )
        self.retrain_command = shlex.join(self._training_argv(self.paths["data"]))
        self.manager.start(
            "monitoring",
            [self.options.python, "-m", "monitoring", "--interval", str(self.tuning.monitor_interval_s)],
            env=self.env(
                {
                    "MONITORING_MODEL_NAME": self.options.model_name,
                    "MONITORING_CAPTURE_DIR": str(self.paths["capture"]),
                    "MONITORING_STATE_PATH": str(self.paths["state"]),
                    "MONITORING_MIN_SAMPLES": str(self.tuning.min_samples),
                    "MONITORING_MIN_LABELS": str(self.tuning.min_labels),
                    "MONITORING_CAPTURE_SETTLE_S": "0.5",
                    # One retrain per run: a second drift alarm while the retrained champion settles
                    # would only blur the story the loop tells.
                    "MONITORING_COOLDOWN_S": "3600",
                    "MONITORING_RETRAIN_COMMAND": self.retrain_command,
                    "MONITORING_EVENTS_PATH": str(self.collector.path_for("monitoring")),
                    "MONITORING_METRICS_PORT": str(free_port()),
                }
            ),
        )

    def initial_training(self) -> str:
        """Step 2: train on the undrifted table; returns the first champion's version."""
        name = "initial training"
        with self.step(name) as notes:
            self.warehouse.reset(self._generate(self.tuning.train_rows, self.options.seed, 0.0))
            self.warehouse.write()
            started = time.time()
            self.manager.run_job(
                name,
                "training-initial",
                self._training_argv(self.paths["data"]),
                env=self.env(),
                timeout_s=self.tuning.training_timeout_s,
                on_tick=lambda: self.tick(name),
            )
            self.wait(
                name,
                "model_promoted from training",
                lambda: self._event_after(started, MODEL_PROMOTED, "training"),
                15,
                lambda: self._recent_events(started),
            )
            assert self.registry is not None
            champion = self.registry.alias_version(CHAMPION)
            if champion is None:
                raise StepFailedError(name, "training exited 0 but no version carries the champion alias")
            notes.append(f"champion v{champion} from {self.tuning.train_rows} rows")
            return champion

    def serving_ready(self, champion: str) -> None:
        """Step 3: the prediction service answers `/readyz` with the champion loaded."""
        name = "serving"
        with self.step(name) as notes:
            self.wait(
                name,
                f"serving /readyz at {self.serving_url}",
                lambda: _answers(f"{self.serving_url}/readyz", ok_only=True),
                self.tuning.ready_timeout_s,
                lambda: _status_line(f"{self.serving_url}/readyz"),
            )
            notes.append(f"serving at {self.serving_url}: {_status_line(f'{self.serving_url}/model')}")

    def monitor_ready(self) -> None:
        """Step 4: the monitor has completed a cycle (any event of its own)."""
        name = "monitor"
        with self.step(name) as notes:
            self.wait(
                name,
                "the monitor's first cycle",
                lambda: next((e for e in self.collector.events if e.source == "monitoring"), None),
                self.tuning.ready_timeout_s,
                lambda: "no monitoring event yet",
            )
            notes.append(
                f"a cycle every {self.tuning.monitor_interval_s:g} s; retrain: {self.retrain_command}"
            )

    def baseline(self, key: str, champion: str) -> None:
        """Step 5: undrifted traffic and malformed probes, until the monitor has checked a window."""
        from lifecycle.features import FEATURE_NAMES, LABEL  # noqa: PLC0415

        name = "baseline traffic"
        with self.step(name) as notes:
            started = time.time()
            self.driver = TrafficDriver(
                self.serving_url,
                key,
                generate=self._generate,
                feature_names=FEATURE_NAMES,
                label_column=LABEL,
                warehouse=self.warehouse,
                rate_per_s=self.tuning.rate_per_s,
                batch_rows=self.tuning.batch_rows,
                label_delay_s=self.tuning.label_delay_s,
                seed=self.options.seed * 1000,
            )
            self.driver.start()
            self.probes = send_probes(
                self.serving_url, key, width=len(FEATURE_NAMES), max_rows=SERVING_MAX_ROWS
            )
            bad = [p for p in self.probes if p.server_error]
            if bad:
                raise StepFailedError(
                    name,
                    "malformed requests got a 5xx or no answer: "
                    + ", ".join(f"{p.name} → {p.status}" for p in bad),
                )
            accepted = [p.name for p in self.probes if 200 <= p.status < 300]
            notes.append(f"{len(self.probes)} malformed requests, none answered 5xx")
            if accepted:
                notes.append(f"accepted as valid: {', '.join(accepted)}")
            driver = self.driver

            def settled() -> bool:
                if self._event_after(started, DRIFT_DETECTED) is not None:
                    raise StepFailedError(
                        name, f"drift detected on undrifted traffic: {self._recent_events(started)}"
                    )
                return (
                    time.time() - started >= self.tuning.baseline_s
                    and champion in driver.versions_since(started)
                    and any(
                        e.details.get("checked", True)
                        for e in self.collector.after(_utc(started), DRIFT_CHECKED, source="monitoring")
                    )
                )

            self.wait(
                name,
                f"responses from v{champion} and a drift check by the monitor",
                settled,
                self.tuning.baseline_timeout_s,
                functools.partial(self._seen, started),
            )
            notes.append(f"{driver.count(since=started)} requests, served by v{champion}")

    def drift(self, champion: str) -> str:
        """Step 6: drift the traffic and the table; returns the retrained champion's version."""
        name = "drift"
        assert self.driver is not None and self.registry is not None
        registry, driver = self.registry, self.driver
        with self.step(name) as notes:
            started = time.time()
            driver.set_drift(1.0)
            drifted = self._generate(self.tuning.train_rows, self.options.seed + 1, 1.0)
            self.warehouse.reset(drifted)
            self.warehouse.write()
            self.collector.emit(
                DRIFT_INJECTED, drift=1.0, table_rows=len(drifted), table=str(self.paths["data"])
            )
            seen = functools.partial(self._seen, started)
            self.wait(
                name,
                "drift_detected from the monitor",
                lambda: self._event_after(started, DRIFT_DETECTED, "monitoring"),
                self.tuning.drift_timeout_s,
                seen,
            )
            triggered = self.wait(
                name,
                "retrain_triggered from the monitor",
                lambda: self._event_after(started, RETRAIN_TRIGGERED, "monitoring"),
                30,
                seen,
            )
            promoted = self.wait(
                name,
                "model_promoted from the retrain",
                functools.partial(self._retrain_outcome, name, triggered.at.timestamp()),
                self.tuning.retrain_timeout_s,
                seen,
            )
            retrained = registry.alias_version(CHAMPION)
            if retrained is None or retrained == champion:
                raise StepFailedError(name, f"the retrain was promoted but champion is still {retrained}")
            self.wait(
                name,
                f"serving to answer with v{retrained}",
                lambda: driver.latest_version() == retrained,
                self.tuning.reload_timeout_s,
                seen,
            )
            reload_s = time.time() - promoted.at.timestamp()
            notes.append(f"v{champion} → v{retrained}; serving switched {reload_s:.1f} s after promotion")
            return retrained

    def _retrain_outcome(self, step: str, since: float) -> LoopEvent | None:
        """The retrain's `model_promoted`; fails fast when it was not promoted or did not finish well."""
        for event in self.collector.events:
            if event.at.timestamp() < since:
                continue
            if event.source == "training" and event.type == MODEL_NOT_PROMOTED:
                raise StepFailedError(step, f"the retrain was not promoted: {event.details.get('reason')}")
            if event.source == "training" and event.type == MODEL_PROMOTED:
                return event
            finished = event.details.get("retrain_finished")
            if isinstance(finished, dict) and finished.get("outcome") not in (None, "succeeded"):
                raise StepFailedError(step, f"the retrain ended badly: {json.dumps(finished, default=str)}")
        return None

    def worse_model(self, good: str) -> str:
        """Step 7: promote a model trained on shuffled labels by hand; returns the version rolled back to."""
        name = "worse model"
        assert self.driver is not None and self.registry is not None
        registry, driver = self.registry, self.driver
        with self.step(name) as notes:
            started = time.time()
            table = pd.read_parquet(self.paths["data"])
            rng = np.random.default_rng(self.options.seed)
            table["label"] = rng.permutation(table["label"].to_numpy())
            table.to_parquet(self.paths["worse"], index=False)
            # A shuffled table's holdout is noise too, so the candidate could "beat" the champion on it by
            # chance; a margin of 1 (unreachable for ROC AUC) keeps it a challenger: promotion is the operator's.
            self.manager.run_job(
                name,
                "training-shuffled",
                [*self._training_argv(self.paths["worse"]), "--promotion-margin", "1"],
                env=self.env(),
                timeout_s=self.tuning.training_timeout_s,
                on_tick=lambda: self.tick(name),
            )
            # The newest version: the monitor's cooldown rules out a retrain registering one meanwhile.
            bad = registry.latest_version()
            if bad is None or bad == good:
                raise StepFailedError(
                    name, f"no new version registered for the shuffled-label model (champion v{good})"
                )
            registry.set_alias(PREVIOUS_CHAMPION, good)
            registry.set_alias(CHAMPION, bad)
            reason = "injected: manual promotion of a worse model"
            injected = time.time()
            # The same keys as training's model_promoted, plus who did it.
            self.collector.emit(
                MODEL_PROMOTED,
                model_name=self.options.model_name,
                version=bad,
                previous_champion=good,
                reason=reason,
                by="hub loop, as an operator",
            )
            self.collector.emit(
                WORSE_MODEL_INJECTED, version=bad, trained_on="shuffled labels", replaced=good
            )
            seen = functools.partial(self._seen, started)
            self.wait(
                name,
                f"serving to answer with v{bad}",
                lambda: driver.latest_version() == bad,
                self.tuning.reload_timeout_s,
                seen,
            )
            rolled = self.wait(
                name,
                "model_rolled_back from the monitor",
                lambda: self._event_after(started, MODEL_ROLLED_BACK, "monitoring"),
                self.tuning.rollback_timeout_s,
                seen,
            )
            restored = registry.alias_version(CHAMPION)
            if restored != good:
                raise StepFailedError(name, f"rolled back, but champion is v{restored}, expected v{good}")
            self.wait(
                name,
                f"serving to answer with v{good} again",
                lambda: driver.latest_version() == good,
                self.tuning.reload_timeout_s,
                seen,
            )
            settle_until = time.monotonic() + self.tuning.settle_s
            while time.monotonic() < settle_until:
                self.tick(name)
                time.sleep(0.2)
            notes.append(
                f"v{good} → v{bad} (by hand) → v{good}; rollback {rolled.at.timestamp() - injected:.1f} s after injection"
            )
            return good

    # --- the whole run ----------------------------------------------------------------------------

    def run(self) -> LoopResult:
        """Run every step; always stops the children and writes the events and the report."""
        failure: str | None = None
        # Also on an exit this method does not see coming (sys.exit from a signal handler elsewhere).
        atexit.register(self.manager.stop_all)
        try:
            self.start_tracking()
            champion = self.initial_training()
            key = self.api_key
            self.serving_ready(champion)
            self.monitor_ready()
            self.baseline(key, champion)
            retrained = self.drift(champion)
            self.worse_model(retrained)
        except StepFailedError as error:
            failure = str(error)
        except KeyboardInterrupt:
            failure = "interrupted"
        except Exception as error:  # noqa: BLE001 - reported as the run's one-line failure, children still stopped
            failure = one_line(f"unexpected {type(error).__name__}: {error}")
        finally:
            failure = self.finish(failure)
            atexit.unregister(self.manager.stop_all)
        order = check_order(self.collector.events)
        return LoopResult(
            failure=failure,
            order=order,
            events_path=self.options.events_path,
            report_path=self.options.report_path,
            seconds=time.time() - self.started,
            steps=self.steps,
        )

    def finish(self, failure: str | None) -> str | None:
        """Stop traffic and children, then merge, check and write; returns the run's failure, if any."""
        with self.step("stop") as notes:
            if self.driver is not None:
                self.driver.stop()
            if self.s3_endpoint is not None:
                with contextlib.suppress(httpx.HTTPError):
                    self.s3_objects = s3_object_count(self.s3_endpoint, BUCKET)
            if self.registry is not None:
                self.registry.close()
            took = self.manager.stop_all()
            self.collector.poll()
            notes.append(
                "stopped by process group: "
                + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in took.items())
            )
        order = check_order(self.collector.events)
        if failure is None and not order.ok:
            failure = order.describe()
        server_errors = self.driver.count(status=lambda s: s >= 500) if self.driver is not None else 0
        if failure is None and server_errors:
            failure = f"serving answered {server_errors} requests with 5xx"
        if failure is None and self.options.s3 and not self.s3_objects:
            failure = "--s3: no artifact reached the S3 bucket"
        write_events(self.collector.events, self.options.events_path)
        if self.driver is not None:
            self.write_responses(self.options.workdir / "responses.csv")
        self.write_report(failure, order)
        return failure

    def write_responses(self, path: Path) -> None:
        """Every `/predict` call as the client saw it (time, latency, status, rows, model version)."""
        assert self.driver is not None
        frame = pd.DataFrame(
            [(s.time, s.latency_ms, s.status, s.rows, s.model_version) for s in self.driver.samples],
            columns=["time", "latency_ms", "status", "rows", "model_version"],
        )
        frame.to_csv(path, index=False)

    def write_report(self, failure: str | None, order: OrderCheck) -> None:
        """Render `report.html` from what was observed."""
        counters = {"labels sent": "0", "feedback posts rejected": "0"}
        if self.driver is not None:
            stats = self.driver.stats
            counters = {
                "labels sent": str(stats.labels_sent),
                "feedback posts rejected": str(stats.feedback_rejected),
                "transport errors": str(stats.transport_errors),
            }
        if self.s3_objects is not None:
            counters["objects in the S3 bucket"] = str(self.s3_objects)
        settings = {
            "seed": str(self.options.seed),
            "artifacts": "moto S3" if self.options.s3 else "local directory",
            "traffic": f"{self.tuning.rate_per_s:g} requests/s, {self.tuning.batch_rows} rows each",
            "monitor interval (s)": f"{self.tuning.monitor_interval_s:g}",
            "training rows": str(self.tuning.train_rows),
        }
        data = ReportData(
            started=self.started,
            events=self.collector.events,
            samples=list(self.driver.samples) if self.driver is not None else [],
            probes=self.probes,
            steps=self.steps,
            order=order,
            outcome="passed" if failure is None else failure,
            settings=settings,
            counters=counters,
        )
        self.options.report_path.parent.mkdir(parents=True, exist_ok=True)
        self.options.report_path.write_text(render_report(data), encoding="utf-8")


SERVING_MAX_ROWS = 256


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _answers(url: str, *, ok_only: bool = False) -> bool:
    try:
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            status = client.get(url).status_code
    except httpx.HTTPError:
        return False
    return status == 200 if ok_only else True


def _status_line(url: str) -> str:
    try:
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            response = client.get(url)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}"
    return f"{response.status_code} {one_line(response.text, 160)}"


def run_loop(options: LoopOptions, console: Console) -> LoopResult:
    """Prepare the workdir and run the scenario."""
    prepare_workdir(options.workdir)
    return Scenario(options, console).run()
