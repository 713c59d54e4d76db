"""`python -m monitoring`: settings errors are one line and exit 2; `--once` runs one real cycle."""

import http.server
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from lifecycle.events import read_events
from lifecycle.registry import CHAMPION
from monitoring.__main__ import main
from monitoring.settings import SettingsError, load_settings
from tests.workloads.monitoring.helpers import Lab, serve


@pytest.fixture(autouse=True)
def _restore_mlflow_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() fills in MLflow's retry and telemetry variables when unset; set them here so that the
    # process environment is restored after each test.
    for name, value in {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
        "DO_NOT_TRACK": "true",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("environment", "argv", "message"),
    [
        ({"MONITORING_RETRAIN_COMMAND": "true", "MONITORING_RETRAIN_CRONJOB": "ml/training"}, [], "not both"),
        ({"MONITORING_RETRAIN_CRONJOB": "training"}, [], "MONITORING_RETRAIN_CRONJOB"),
        ({"MONITORING_DRIFT_SHARE": "1.5"}, [], "MONITORING_DRIFT_SHARE"),
        ({}, ["--interval", "0"], "MONITORING_INTERVAL_S"),
        ({}, ["--once", "--interval", "5"], "not allowed with argument"),
    ],
)
def test_bad_settings_exit_2_with_one_line(
    environment: dict[str, str],
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert _exit_code(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def _exit_code(argv: list[str]) -> int | str | None:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse exits by itself on a usage error
        return exit_.code


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MONITORING_MODEL_NAME", "from-env")
    monkeypatch.setenv("MONITORING_COOLDOWN_S", "60")
    settings = load_settings(model_name="from-flag", capture_dir=None)
    assert settings.model_name == "from-flag" and settings.cooldown_s == 60.0
    with pytest.raises(SettingsError, match="MONITORING_MIN_SAMPLES"):
        load_settings(min_samples=1)


def test_once_runs_a_cycle_and_prints_a_summary(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", lab.tracking_uri)
    version = lab.register("cli", drift=0.0, seed=1)
    lab.set_alias("cli", CHAMPION, version)
    serve(tmp_path / "capture", lab.model(drift=0.0, seed=1), version, rows=300, seed=71, drift=1.0)
    marker = tmp_path / "retrained"
    monkeypatch.setenv(
        "MONITORING_RETRAIN_COMMAND", shlex.join([sys.executable, "-c", f"open({str(marker)!r}, 'w')"])
    )
    monkeypatch.setenv("MONITORING_CAPTURE_SETTLE_S", "0")
    pushed: list[tuple[str, str, bytes]] = []

    class Pushgateway(http.server.BaseHTTPRequestHandler):
        """Records what prometheus_client pushes (a stand-in for a Pushgateway on 127.0.0.1)."""

        def do_PUT(self) -> None:
            pushed.append((self.command, self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    gateway = http.server.HTTPServer(("127.0.0.1", 0), Pushgateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    monkeypatch.setenv("MONITORING_PUSHGATEWAY_URL", f"http://127.0.0.1:{gateway.server_address[1]}")

    try:
        code = main(
            [
                "--once",
                "--model-name", "cli",
                "--capture-dir", str(tmp_path / "capture"),
                "--state-path", str(tmp_path / "state" / "state.json"),
                "--events", str(tmp_path / "events.jsonl"),
            ]
        )  # fmt: skip
    finally:
        gateway.shutdown()
        gateway.server_close()

    assert code == 0
    [(method, path, body)] = pushed
    assert method == "PUT" and path == "/metrics/job/mlops-monitoring"
    assert (
        b"mlops_monitor_drift_share 1.0" in body
        and b'mlops_monitor_retrains_triggered_total{trigger="command"} 1.0' in body
    )
    summary: dict[str, Any] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["cycle"] == "completed" and summary["retrain_triggered"] is True
    assert marker.exists(), "--once waits for the local retrain it started"
    kinds = [event.type.value for event in read_events(tmp_path / "events.jsonl")]
    assert kinds == ["quality_checked", "drift_checked", "drift_detected", "retrain_triggered"]
    state = json.loads((tmp_path / "state" / "state.json").read_text())
    assert state["retrain"]["outcome"] == "succeeded" and state["retrain"]["reported"] is False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_interval_mode_serves_metrics_and_stops_on_sigterm(lab: Lab, tmp_path: Path) -> None:
    port = _free_port()
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": lab.tracking_uri,
        "MONITORING_MODEL_NAME": "no-such-model",
        "MONITORING_CAPTURE_DIR": str(tmp_path / "capture"),
        "MONITORING_STATE_PATH": str(tmp_path / "state.json"),
        "MONITORING_EVENTS_PATH": str(tmp_path / "events.jsonl"),
        "MONITORING_METRICS_PORT": str(port),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "monitoring", "--interval", "0.2"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        body = ""
        while time.monotonic() < deadline and "mlops_monitor_last_success_timestamp_seconds " not in body:
            time.sleep(0.2)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    body = response.read().decode()
            except OSError:
                continue
        assert "mlops_monitor_last_success_timestamp_seconds " in body
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors.decode()[-2000:]
    kinds = {event.type.value for event in read_events(tmp_path / "events.jsonl")}
    assert kinds == {"drift_checked"}
