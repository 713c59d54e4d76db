"""Helpers acting as training and serving do: tiny real models in a real MLflow registry, real capture files."""

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lifecycle.capture import LABELS, PREDICTIONS, CaptureWriter, LabelRecord, PredictionRecord
from lifecycle.events import EventLog, read_events
from lifecycle.features import FEATURE_NAMES, LABEL
from lifecycle.registry import HOLDOUT_METRIC, REFERENCE_ARTIFACT
from lifecycle.synthetic import generate

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

FEATURES = list(FEATURE_NAMES)


@dataclass
class Lab:
    """An MLflow tracking store in a temporary directory, and helpers that act like training and serving."""

    root: Path
    tracking_uri: str
    experiment_id: str
    models: dict[tuple[float, int], Any] = field(default_factory=dict)

    def model(self, *, drift: float, seed: int) -> Any:
        """A scaled logistic regression trained on synthetic data of this drift (cached)."""
        key = (drift, seed)
        if key not in self.models:
            table = generate(3000, seed=seed, drift=drift)
            self.models[key] = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
                table[FEATURES], table[LABEL]
            )
        return self.models[key]

    def register(self, model_name: str, *, drift: float, seed: int, holdout: float = 0.85) -> str:
        """Log a run as training does (holdout metric, `reference/reference.parquet`, the model) and register it."""
        reference = generate(500, seed=seed + 1000, drift=drift)[FEATURES]
        scratch = self.root / f"reference-{uuid.uuid4().hex}"
        scratch.mkdir()
        reference.to_parquet(scratch / Path(REFERENCE_ARTIFACT).name)
        with mlflow.start_run(experiment_id=self.experiment_id):
            mlflow.log_metric(HOLDOUT_METRIC, holdout)
            mlflow.log_artifact(str(scratch / Path(REFERENCE_ARTIFACT).name), artifact_path="reference")
            # cloudpickle, not the default skops: the monitor never loads the model, and skops pulls in
            # torch through scikit-learn's array API shim (seconds per test run).
            info = mlflow.sklearn.log_model(
                self.model(drift=drift, seed=seed),
                name="model",
                pip_requirements=["scikit-learn==1.9.1"],
                registered_model_name=model_name,
                serialization_format="cloudpickle",
            )
        return str(info.registered_model_version)

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        """Move an alias as training's promotion does."""
        MlflowClient().set_registered_model_alias(model_name, alias, version)

    def alias(self, model_name: str, alias: str) -> str | None:
        """The version behind an alias, or None."""
        try:
            return str(MlflowClient().get_model_version_by_alias(model_name, alias).version)
        except MlflowException:
            return None

    def tags(self, model_name: str, version: str) -> dict[str, str]:
        """A version's tags."""
        return dict(MlflowClient().get_model_version(model_name, version).tags)


def serve(
    capture_dir: Path,
    model: Any,
    version: str,
    *,
    rows: int,
    seed: int,
    drift: float,
    labelled: bool = True,
) -> None:
    """What serving captures for `rows` requests (one predictions file, and one labels file)."""
    table = generate(rows, seed=seed, drift=drift)
    scores = model.predict_proba(table[FEATURES])[:, 1]
    predictions = CaptureWriter(capture_dir, PREDICTIONS, max_records=10**7)
    labels = CaptureWriter(capture_dir, LABELS, max_records=10**7)
    now = time.time()
    for features, score, label in zip(
        table[FEATURES].to_numpy(), scores, table[LABEL].to_numpy(), strict=True
    ):
        request_id = uuid.uuid4().hex
        predictions.add(
            PredictionRecord(
                request_id=request_id,
                time=now,
                model_version=version,
                features=[float(value) for value in features],
                score=float(score),
                prediction=int(score >= 0.5),
                api_key_id="test",
            )
        )
        if labelled:
            labels.add(LabelRecord(request_id=request_id, time=now, label=int(np.int64(label))))
    predictions.flush()
    labels.flush()


def events_of(log: EventLog, kind: str) -> list[dict[str, Any]]:
    """Details of every event of one type, in order."""
    assert log.path is not None
    return [dict(event.details) for event in read_events(log.path) if event.type.value == kind]
