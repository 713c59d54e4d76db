"""Typed settings of the serving workload, read from `SERVING_*` environment variables.

The registry's address is MLflow's own `MLFLOW_TRACKING_URI` (read by MLflow itself when
`tracking_uri` is left unset); tracing follows the standard `OTEL_*` variables (see `serving.tracing`).
"""

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lifecycle.registry import DEFAULT_MODEL_NAME

ENV_PREFIX = "SERVING_"


class ExtractionAction(StrEnum):
    """What happens to a key once the extraction detector flags it (`SERVING_EXTRACTION_ACTION`)."""

    LOG = "log"
    """Record it (metric, event, log line) and keep answering."""
    BLOCK = "block"
    """Record it and answer 403 to that key until its window no longer looks like a sweep."""


class SettingsError(ValueError):
    """Settings that cannot run the workload; the message is one line naming the variables."""


class ServingSettings(BaseSettings):
    """Every knob of the prediction service; the defaults suit `hub loop` on one machine."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", validate_by_name=True, protected_namespaces=()
    )

    host: str = "127.0.0.1"
    """Address uvicorn binds (the image sets 0.0.0.0)."""
    port: int = Field(default=8080, ge=1, le=65535)
    """Port uvicorn listens on."""
    workers: int = Field(default=1, ge=1, le=64)
    """uvicorn worker processes; each loads the model, keeps its own rate limits and capture files."""
    model_name: str = Field(default=DEFAULT_MODEL_NAME, min_length=1)
    """Registered model whose `champion` alias is served."""
    tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    """MLflow tracking URI; unset = MLflow's default."""
    registry_uri: str | None = Field(default=None, validation_alias="MLFLOW_REGISTRY_URI")
    """MLflow registry URI when it differs from the tracking URI (MLflow's own variable)."""
    api_keys_file: Path | None = None
    """Lines `key_id:sha256-hex-of-key` (`#` comments allowed); required by `python -m serving`."""
    reload_interval_s: float = Field(default=10.0, gt=0.0)
    """How often the `champion` alias is polled; a moved alias is loaded, validated and swapped in."""
    startup_retry_max_s: float = Field(default=30.0, gt=0.0)
    """Longest wait between attempts while no model is loaded yet (exponential backoff from 0.5 s)."""
    capture_dir: Path = Path(".mlops-hub/capture")
    """Where `predictions-*.jsonl` and `labels-*.jsonl` files are written for the monitor."""
    capture_flush_s: float = Field(default=5.0, gt=0.0)
    """Buffered capture records are written at least this often (and at shutdown)."""
    capture_max_records: int = Field(default=20_000, ge=1)
    """A capture file is also written as soon as this many records are waiting."""
    rate_per_s: float = Field(default=200.0, gt=0.0)
    """Token refill per API key and second; one token per row predicted (see README)."""
    burst: float = Field(default=400.0, gt=0.0)
    """Token bucket size per key: the most rows a key may send at once after being idle."""
    max_rows: int = Field(default=256, ge=1, le=100_000)
    """Most rows in one /predict request."""
    decision_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Score at or above which the label is 1 (fraud)."""
    extraction_window_s: float = Field(default=300.0, gt=0.0)
    """Sliding window over which each key's query volume and input-space coverage are measured."""
    extraction_bins: int = Field(default=20, ge=2, le=1000)
    """Equal-width bins per feature over its valid interval, for the coverage measure."""
    extraction_min_rows: int = Field(default=500, ge=1)
    """A key is judged on coverage only once it sent this many rows in the window."""
    extraction_coverage: float = Field(default=0.8, gt=0.0, le=1.0)
    """Share of (feature, bin) cells hit in the window at or above which a key is flagged."""
    extraction_max_rows: int = Field(default=1_000_000, ge=1)
    """Rows in the window at or above which a key is flagged whatever its coverage."""
    extraction_action: ExtractionAction = ExtractionAction.LOG
    """`log` or `block` (403 while flagged)."""
    events_path: Path | None = None
    """Append events (`model_reloaded`, `model_load_failed`, `extraction_suspected`...) here; unset = stdout."""
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    """Level of the JSON logs on stderr."""

    @model_validator(mode="after")
    def _burst_fits_a_batch(self) -> "ServingSettings":
        if self.burst < self.max_rows:
            raise ValueError(
                f"burst ({self.burst:g}) must be at least max_rows ({self.max_rows}): a batch costs one "
                "token per row, so a full batch could never pass"
            )
        return self

    @property
    def max_body_bytes(self) -> int:
        """Largest /predict or /feedback body read (a generous 1 KiB per row)."""
        return 4096 + 1024 * self.max_rows


def _variable(location: tuple[int | str, ...]) -> str:
    if not location:
        return ""
    head = str(location[0])
    return head if head.isupper() else f"{ENV_PREFIX}{head.upper()}"


def load_settings(**overrides: Any) -> ServingSettings:
    """Read the settings from the environment (keyword arguments win), failing with one line.

    Raises:
        SettingsError: a value is invalid.
    """
    try:
        return ServingSettings(**overrides)
    except ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            variable = _variable(error["loc"])
            problems.append(f"{variable}: {message}" if variable else message)
        raise SettingsError(f"invalid serving settings: {'; '.join(problems)}") from None
