"""One run against a real `mlflow server` on 127.0.0.1 (artifacts proxied by the server), the way
the training Job talks to the registry on a cluster. The server is started by conftest.py."""

from pathlib import Path

import pandas as pd
import pytest
from mlflow.artifacts import download_artifacts
from mlflow.tracking import MlflowClient

from lifecycle.registry import CHAMPION, DEFAULT_MODEL_NAME, REFERENCE_ARTIFACT
from tests.workloads.training.conftest import FAST, write_table
from tests.workloads.training.helpers import train


def test_training_against_a_real_tracking_server(
    mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good_frame: pd.DataFrame
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    data = write_table(good_frame, tmp_path / "good.csv")

    outcome = train(["--data", str(data), *FAST, "--events", str(tmp_path / "events.jsonl")])

    assert outcome.code == 0, outcome.stderr
    assert outcome.summary["promoted"] is True and outcome.summary["version"] == "1"
    client = MlflowClient(mlflow_server)
    champion = client.get_model_version_by_alias(DEFAULT_MODEL_NAME, CHAMPION)
    assert champion.version == "1" and champion.tags["flavor"] == "sklearn"
    reference = download_artifacts(
        run_id=champion.run_id,
        artifact_path=REFERENCE_ARTIFACT,
        dst_path=str(tmp_path / "ref"),
        tracking_uri=mlflow_server,
    )
    assert len(pd.read_parquet(reference)) == 1200
    assert not (tmp_path / "mlruns").exists()  # artifacts went through the server, not to the client's disk
