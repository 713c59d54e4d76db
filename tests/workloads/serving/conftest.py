"""Serving fixtures: a real MLflow registry (sqlite, in-process) holding real models, logged once per
session; each test registers the versions it needs under its own model name (cheap: no re-logging)."""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from sklearn.ensemble import GradientBoostingClassifier

from lifecycle.features import FEATURE_NAMES, LABEL
from lifecycle.registry import CHAMPION
from lifecycle.scoring import WEIGHTS_ARTIFACT, MlpPythonModel, MlpScorer
from lifecycle.synthetic import generate
from serving.app import ServingApp, create_app
from serving.auth import hash_key
from serving.settings import ServingSettings

KEYS = {"alice": "alice-secret-key", "bob": "bob-secret-key"}
PIP = ["scikit-learn", "numpy"]


@dataclass(frozen=True)
class Logged:
    """A model logged once: its URI (for registering versions) and the fitted object (sklearn only)."""

    uri: str
    run_id: str
    model: Any


@dataclass(frozen=True)
class Registry:
    """The session's tracking store and its logged models."""

    uri: str
    root: Path
    first: Logged
    second: Logged
    mlp: Logged
    corrupt: Logged

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)

    def register(
        self, name: str, logged: Logged, *, flavor: str | None = "sklearn", alias: str | None = CHAMPION
    ) -> str:
        """A new version of `name` from a logged model; returns its number."""
        version = mlflow.register_model(logged.uri, name)
        client = self.client()
        if flavor is not None:
            client.set_model_version_tag(name, version.version, "flavor", flavor)
        if alias is not None:
            client.set_registered_model_alias(name, alias, version.version)
        return str(version.version)


def _fit(seed: int, drift: float) -> GradientBoostingClassifier:
    frame = generate(1500, seed=seed, drift=drift)
    return GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=seed).fit(
        frame[list(FEATURE_NAMES)].to_numpy(), frame[LABEL].to_numpy()
    )


def _log_sklearn(model: GradientBoostingClassifier) -> Logged:
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(
            model, name="model", pip_requirements=PIP, serialization_format="cloudpickle"
        )
    return Logged(info.model_uri, run.info.run_id, model)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """Two scikit-learn models, a NumPy MLP pyfunc (the torch trainer's format) and a model whose
    artifact is garbled on disk after logging."""
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("serving-tests", artifact_location=(root / "artifacts").as_uri())
    mlflow.set_experiment(experiment_id=experiment)

    first, second = _log_sklearn(_fit(1, 0.0)), _log_sklearn(_fit(2, 1.0))

    rng = np.random.default_rng(7)
    scorer = MlpScorer(
        mean=np.zeros(8), scale=np.array([1000.0, 1000.0, 10.0, 100.0, 10.0, 1.0, 1.0, 5.0]),
        weights=[rng.normal(size=(4, 8)), rng.normal(size=(1, 4))], biases=[np.zeros(4), np.zeros(1)],
    )  # fmt: skip
    weights = root / "weights.npz"
    scorer.save(weights)
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=MlpPythonModel(),
            artifacts={WEIGHTS_ARTIFACT: str(weights)},
            pip_requirements=["numpy"],
        )
    mlp = Logged(info.model_uri, run.info.run_id, scorer)

    broken = _log_sklearn(_fit(3, 0.5))
    logged = MlflowClient(tracking_uri=uri).get_logged_model(broken.uri.removeprefix("models:/"))
    artifacts = Path(logged.artifact_location.removeprefix("file://"))
    for path in artifacts.rglob("*"):
        if path.is_file() and path.name != "MLmodel":
            path.write_bytes(b"\x00garbled\xff" * 3)
    corrupt = Logged(broken.uri, broken.run_id, None)

    # Hand the process back as found: tests/workloads/conftest.py resets MLflow's URIs after every test,
    # and each serving test gets this store through `_registry_uris` below.
    mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None = back to the variable; typed as str only
    mlflow.set_registry_uri(None)  # type: ignore[arg-type]
    os.environ.pop("MLFLOW_REGISTRY_URI", None)
    return Registry(uri, root, first, second, mlp, corrupt)


@pytest.fixture(autouse=True)
def _registry_uris(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every serving test talks to the session's registry, through MLflow's own variables."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry.uri)


@pytest.fixture
def model_name() -> str:
    """A registered model of this test alone."""
    return f"fraud-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text("# test keys\n" + "".join(f"{key_id}:{hash_key(key)}\n" for key_id, key in KEYS.items()))
    return path


@pytest.fixture
def make_settings(
    tmp_path: Path, keys_file: Path, registry: Registry, model_name: str
) -> Callable[..., ServingSettings]:
    """Settings for this test's model, capture and events in its directory; keywords override."""

    def make(**overrides: Any) -> ServingSettings:
        values: dict[str, Any] = {
            "model_name": model_name,
            "tracking_uri": registry.uri,
            "api_keys_file": keys_file,
            "capture_dir": tmp_path / "capture",
            "events_path": tmp_path / "events.jsonl",
            "reload_interval_s": 0.2,
            "startup_retry_max_s": 0.5,
            "rate_per_s": 100_000.0,
            "burst": 100_000.0,
        }
        values.update(overrides)
        return ServingSettings(**values)

    return make


def headers(key_id: str = "alice") -> dict[str, str]:
    return {"X-API-Key": KEYS[key_id], "Content-Type": "application/json"}


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ready_client(app: ServingApp) -> TestClient:
    """A started TestClient (use as a context manager) once /readyz says ready."""
    client = TestClient(app)
    client.__enter__()
    try:
        wait_for(lambda: client.get("/readyz").status_code == 200, what="/readyz 200")
    except BaseException:
        client.__exit__(None, None, None)
        raise
    return client


@pytest.fixture
def serve(make_settings: Callable[..., ServingSettings]) -> Iterator[Callable[..., TestClient]]:
    """`serve(**settings)`: a ready TestClient of a new app; all are shut down after the test."""
    clients: list[TestClient] = []

    def start(**overrides: Any) -> TestClient:
        client = ready_client(create_app(make_settings(**overrides)))
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)
