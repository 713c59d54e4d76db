"""A real MLflow registry (sqlite, in-process, no server) per session; settings and events per test."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest

from lifecycle.events import EventLog
from monitoring.settings import MonitoringSettings
from tests.workloads.monitoring.helpers import Lab


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One sqlite-backed tracking store for the session (creating its schema takes seconds)."""
    root = tmp_path_factory.mktemp("mlflow")
    tracking_uri = f"sqlite:///{root}/mlflow.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        experiment_id = mlflow.create_experiment(
            "monitoring-tests", artifact_location=(root / "artifacts").as_uri()
        )
        yield Lab(root, tracking_uri, experiment_id)


@pytest.fixture
def settings_for(lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Settings factory for a test: its own capture and state directories, fast retries, no settle time."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", lab.tracking_uri)

    def make(model_name: str, **overrides: Any) -> MonitoringSettings:
        values: dict[str, Any] = {
            "model_name": model_name,
            "capture_dir": tmp_path / "capture",
            "state_path": tmp_path / "monitor" / "state.json",
            "min_samples": 200,
            "min_labels": 100,
            "capture_settle_s": 0.0,
            "retry_attempts": 2,
            "retry_backoff_s": 0.01,
            "retry_backoff_max_s": 0.02,
            "cooldown_s": 3600.0,
        }
        values.update(overrides)
        return MonitoringSettings(**values)

    return make


@pytest.fixture
def event_log(tmp_path: Path) -> EventLog:
    """The monitor's events file for this test."""
    return EventLog(tmp_path / "events.jsonl")
