"""Typed settings of the training workload, read from `TRAINING_*` environment variables.

Command-line flags override the environment (see `training.cli`). The registry's address is MLflow's
own `MLFLOW_TRACKING_URI`; unset, MLflow's default applies.
"""

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, FilePath, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lifecycle.registry import DEFAULT_MODEL_NAME

ENV_PREFIX = "TRAINING_"
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


class Trainer(StrEnum):
    """Which learner fits the candidate (`TRAINING_TRAINER`, `--trainer`)."""

    SKLEARN = "sklearn"
    """scikit-learn gradient boosting: small, exact, ~0.2 ms to score one row."""
    TORCH = "torch"
    """A small PyTorch MLP on standardized features; trains on CUDA when present."""


class SettingsError(ValueError):
    """Settings that cannot run training; the message is one line naming the variables."""


class TrainingSettings(BaseSettings):
    """Every knob of one training run; the defaults suit the synthetic fraud table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", validate_by_name=True, protected_namespaces=()
    )

    data: FilePath
    """The training table: CSV (optionally gzipped) or Parquet, with every feature and the label."""
    tracking_uri: str | None = Field(default=None, validation_alias="MLFLOW_TRACKING_URI")
    """MLflow tracking/registry URI; unset = MLflow's default."""
    model_name: str = Field(default=DEFAULT_MODEL_NAME, min_length=1, max_length=256)
    """Registered model the candidate becomes a version of."""
    experiment: str = Field(default=DEFAULT_MODEL_NAME, min_length=1, max_length=256)
    """MLflow experiment the training run is logged in (created when missing)."""
    promotion_margin: float = Field(default=0.01, ge=0.0, le=1.0)
    """How much higher the candidate's holdout ROC AUC must be than the champion's to replace it."""
    max_invalid_share: float = Field(default=0.05, ge=0.0, le=1.0)
    """Largest share of quarantined rows that still trains; above it the table is rejected."""
    quarantine_dir: Path = Path(".mlops-hub/quarantine")
    """Where rows failing validation are written (one JSON-lines file per run), with their reasons."""
    events_path: Path | None = None
    """Append lifecycle events here; unset = events as JSON lines on stdout."""
    trainer: Trainer = Trainer.SKLEARN
    """`sklearn` or `torch`."""
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    """Seeds the split and the learner: the same data and settings give the same model."""
    eval_data: FilePath | None = None
    """A fixed, trusted evaluation table (same columns). When set, candidate and champion are compared on
    it instead of the candidate's own holdout, so a bad training table cannot also be its own judge; it
    must validate completely."""
    holdout_share: float = Field(default=0.2, gt=0.0, lt=1.0)
    """Share of valid rows held out (stratified) to score the candidate and the champion."""
    reference_rows: int = Field(default=5000, ge=1, le=5000)
    """Training input rows logged as the drift reference (`reference/reference.parquet`)."""
    n_estimators: int = Field(default=50, ge=1, le=2000)
    """sklearn: boosting stages (trees); single-row latency grows with it."""
    max_depth: int = Field(default=3, ge=1, le=16)
    """sklearn: depth of each tree."""
    learning_rate: float = Field(default=0.1, gt=0.0, le=1.0)
    """sklearn: shrinkage of each tree."""
    torch_hidden: int = Field(default=32, ge=1, le=4096)
    """torch: width of the first hidden layer (the second is half of it)."""
    torch_epochs: int = Field(default=40, ge=1, le=10_000)
    """torch: passes over the training rows."""
    torch_batch_size: int = Field(default=256, ge=1, le=1_000_000)
    """torch: rows per optimizer step."""
    torch_learning_rate: float = Field(default=0.005, gt=0.0, le=1.0)
    """torch: Adam step size."""
    torch_cpu_threads: int = Field(default=1, ge=1, le=256)
    """torch on CPU: intra-op threads (a small MLP is fastest on one)."""
    registry_retry_s: float = Field(default=60.0, gt=0.0, le=3600.0)
    """Longest time spent retrying an unreachable registry before giving up (exit 3)."""
    registry_backoff_s: float = Field(default=0.5, gt=0.0, le=60.0)
    """First wait between registry attempts; doubles each attempt."""
    registry_backoff_max_s: float = Field(default=8.0, gt=0.0, le=600.0)
    """Longest wait between registry attempts."""
    registry_timeout_s: int = Field(default=30, ge=1, le=600)
    """Timeout of one HTTP request to the registry (MLflow's own retries are switched off)."""
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    """Level of the JSON logs on stderr."""

    @field_validator("data")
    @classmethod
    def _known_format(cls, data: Path) -> Path:
        if not data.name.lower().endswith(DATA_SUFFIXES):
            raise ValueError(f"{data} is not one of {', '.join(DATA_SUFFIXES)}")
        return data

    @model_validator(mode="after")
    def _backoff_bounds(self) -> "TrainingSettings":
        if self.registry_backoff_s > self.registry_backoff_max_s:
            raise ValueError(
                f"registry_backoff_s ({self.registry_backoff_s:g}) must not exceed "
                f"registry_backoff_max_s ({self.registry_backoff_max_s:g})"
            )
        return self


_FLAG_OF = {
    "tracking_uri": "--tracking-uri",
    "events_path": "--events",
    "MLFLOW_TRACKING_URI": "--tracking-uri",
}


def _variable(location: tuple[int | str, ...]) -> str:
    # Names both ways of setting the value: the variable and the flag.
    if not location:
        return ""
    head = str(location[0])
    variable = head if head.isupper() else f"{ENV_PREFIX}{head.upper()}"
    flag = _FLAG_OF.get(head, "--" + head.lower().replace("_", "-"))
    return f"{variable} ({flag})"


def load_settings(**overrides: Any) -> TrainingSettings:
    """Read the settings from the environment (keyword arguments that are not None win), failing
    with one line.

    Raises:
        SettingsError: a value is missing or invalid.
    """
    try:
        return TrainingSettings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            variable = _variable(error["loc"])
            problems.append(f"{variable}: {message}" if variable else message)
        raise SettingsError(f"invalid training settings: {'; '.join(problems)}") from None
