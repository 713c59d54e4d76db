"""Training fixtures: a real MLflow store (SQLite) per test, copied from one migrated template,
and small synthetic tables on disk."""

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

from lifecycle.synthetic import generate
from tests.workloads.training.helpers import TrackingServer

# Small and quick: enough rows for a stable ROC AUC, few trees.
ROWS = 1500
FAST = ["--n-estimators", "15", "--seed", "7"]


_SERVER: list[TrackingServer] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start the tracking server as soon as a test that needs it is selected: it takes 6-40 s to come
    up (more on a busy machine), which then overlaps the other tests instead of adding to them."""
    if not _SERVER and any("mlflow_server" in getattr(item, "fixturenames", ()) for item in items):
        server = TrackingServer(Path(tempfile.mkdtemp(prefix="mlflow-server-")))
        server.start()
        _SERVER.append(server)


def pytest_sessionfinish() -> None:
    """Stop the server this conftest started, and remove its files."""
    for server in _SERVER:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)
    _SERVER.clear()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a real `mlflow server` on 127.0.0.1 (SQLite store, artifacts proxied to a directory)."""
    if not _SERVER:
        _SERVER.append(TrackingServer(tmp_path_factory.mktemp("mlflow-server")))
    return _SERVER[0].wait_ready()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow SQLite database with every migration applied (creating one takes ~6 s)."""
    from mlflow.tracking import MlflowClient  # noqa: PLC0415

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments(max_results=1)
    return path


@pytest.fixture
def tracking_uri(template_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """This test's own tracking store; artifacts land under the test's directory (the cwd)."""
    database = tmp_path / "mlflow.db"
    shutil.copyfile(template_db, database)
    uri = f"sqlite:///{database}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    for variable in [name for name in os.environ if name.startswith("TRAINING_")]:
        monkeypatch.delenv(variable)
    return uri


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` as CSV or Parquet by the suffix of `path`."""
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def good_frame() -> pd.DataFrame:
    """A clean table the models learn well."""
    return generate(ROWS, seed=11)


@pytest.fixture(scope="session")
def shuffled_frame() -> pd.DataFrame:
    """Same inputs, labels shuffled: nothing to learn, a model of it scores ~0.5 ROC AUC."""
    frame = generate(ROWS, seed=12)
    frame["label"] = frame["label"].sample(frac=1.0, random_state=3).to_numpy()
    return frame
