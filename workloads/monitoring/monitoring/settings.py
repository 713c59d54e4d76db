"""Typed settings of the monitoring workload, read from `MONITORING_*` environment variables.

MLflow's own `MLFLOW_TRACKING_URI` (and `MLFLOW_REGISTRY_URI`) point at the registry; the monitor reads
no other variable of its own outside the prefix.
"""

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lifecycle.registry import DEFAULT_MODEL_NAME

ENV_PREFIX = "MONITORING_"


class SettingsError(ValueError):
    """Settings that cannot run the monitor; the message is one line naming the variables."""


class MonitoringSettings(BaseSettings):
    """Every knob of the monitor; the defaults suit `hub loop` on one machine."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    model_name: str = Field(default=DEFAULT_MODEL_NAME, min_length=1)
    """Registered model whose `champion` is watched."""
    capture_dir: Path = Path(".mlops-hub/capture")
    """Directory serving writes `predictions-*.jsonl` and `labels-*.jsonl` into."""
    state_path: Path = Path(".mlops-hub/monitoring/state.json")
    """The monitor's position and memory (JSON, written atomically); drift reports and caches sit beside it."""
    drift_share: float = Field(default=0.5, gt=0.0, le=1.0)
    """Share of drifted feature columns at or above which a window counts as drifted (Evidently's rule)."""
    min_samples: int = Field(default=200, ge=10)
    """Rows a window needs before drift is computed; smaller windows keep accumulating."""
    min_labels: int = Field(default=100, ge=10)
    """Labelled rows (with both classes) a model version needs before its live quality counts."""
    quality_margin: float = Field(default=0.02, ge=0.0, le=1.0)
    """How much lower (ROC AUC) the champion's live quality may be than the previous champion's before rollback."""
    quality_window_s: float = Field(default=7 * 24 * 3600.0, gt=0.0)
    """How far back captured predictions and labels are joined for live quality."""
    cooldown_s: float = Field(default=3600.0, ge=0.0)
    """Least time between two retrain triggers, however long a drift persists."""
    retrain_command: str | None = None
    """Local: a command line (no shell; split like a POSIX shell would) run in the background on drift."""
    retrain_cronjob: str | None = Field(
        default=None, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
    )
    """Cluster: `namespace/name` of a CronJob; on drift a Job is created from its jobTemplate."""
    retrain_timeout_s: float = Field(default=6 * 3600.0, gt=0.0)
    """A retrain still running after this long is stopped (command) or reported as overdue (Job)."""
    events_path: Path | None = None
    """JSON-lines decision log; unset = events on stdout."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """Serve Prometheus `/metrics` on this port in interval mode; unset = no server."""
    metrics_host: str = "127.0.0.1"
    """Address of the metrics server; a pod that Prometheus scrapes sets `0.0.0.0`."""
    pushgateway_url: str | None = None
    """`--once` mode (CronJob): push the cycle's metrics to this Prometheus Pushgateway (`http://host:9091`)."""
    interval_s: float = Field(default=300.0, gt=0.0)
    """Seconds between cycles in interval mode (`--interval` overrides)."""
    capture_settle_s: float = Field(default=5.0, ge=0.0)
    """Capture files younger than this are left for the next window, so a file still being renamed into place is never skipped."""
    retry_attempts: int = Field(default=4, ge=1, le=20)
    """Attempts for each registry or capture-storage call before the cycle is skipped."""
    retry_backoff_s: float = Field(default=1.0, ge=0.0)
    """First wait between attempts; doubles each attempt."""
    retry_backoff_max_s: float = Field(default=30.0, ge=0.0)
    """Longest wait between attempts."""
    save_reports: bool = True
    """Keep the Evidently HTML report of each drifted window beside the state (the newest `reports_kept`)."""
    reports_kept: int = Field(default=10, ge=1)
    """How many drift reports to keep."""

    @model_validator(mode="after")
    def _one_trigger(self) -> "MonitoringSettings":
        if self.retrain_command is not None and self.retrain_cronjob is not None:
            raise ValueError(
                f"set {ENV_PREFIX}RETRAIN_COMMAND (local) or {ENV_PREFIX}RETRAIN_CRONJOB (cluster), not both"
            )
        if self.retrain_command is not None and not self.retrain_command.strip():
            raise ValueError(f"{ENV_PREFIX}RETRAIN_COMMAND is empty")
        return self


def load_settings(**overrides: Any) -> MonitoringSettings:
    """Read the settings from the environment (keyword arguments win), failing with one line.

    Raises:
        SettingsError: a value is invalid.
    """
    try:
        return MonitoringSettings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            location = error["loc"]
            variable = f"{ENV_PREFIX}{str(location[0]).upper()}" if location else ""
            problems.append(f"{variable}: {message}" if variable else message)
        raise SettingsError(f"invalid monitoring settings: {'; '.join(problems)}") from None
