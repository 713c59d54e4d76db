"""`python -m training` against a real MLflow store (SQLite): promotion, challengers, rejection,
the torch path and an unreachable registry."""

import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score

from lifecycle.events import EventType
from lifecycle.features import FEATURE_NAMES, LABEL
from lifecycle.registry import CHALLENGER, CHAMPION, DEFAULT_MODEL_NAME, PREVIOUS_CHAMPION, REFERENCE_ARTIFACT
from lifecycle.scoring import FLAVOR_TAG, load_probability_model
from lifecycle.synthetic import generate
from tests.workloads.training.conftest import FAST, write_table
from tests.workloads.training.helpers import Outcome, events_of, train


@dataclass(frozen=True)
class Sequence3:
    """Three runs on one registry: noise first, then a real model, then noise again."""

    first: Outcome
    better: Outcome
    worse: Outcome
    client: MlflowClient
    events: Path
    workdir: Path
    uri: str


@pytest.fixture(scope="module")
def sequence(
    template_db: Path,
    tmp_path_factory: pytest.TempPathFactory,
    good_frame: pd.DataFrame,
    shuffled_frame: pd.DataFrame,
) -> Iterator[Sequence3]:
    workdir = tmp_path_factory.mktemp("sequence")
    database = workdir / "mlflow.db"
    shutil.copyfile(template_db, database)
    uri = f"sqlite:///{database}"
    noise = write_table(shuffled_frame, workdir / "noise.csv")
    good = write_table(good_frame, workdir / "good.parquet")
    events = workdir / "events.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        common = [*FAST, "--events", str(events), "--quarantine-dir", str(workdir / "q")]
        first = train(["--data", str(noise), *common])
        better = train(["--data", str(good), *common])
        worse = train(["--data", str(noise), *common])
        yield Sequence3(first, better, worse, MlflowClient(uri), events, workdir, uri)


def test_first_model_becomes_champion(sequence: Sequence3) -> None:
    first = sequence.first
    assert first.code == 0, first.stderr
    assert len(first.stdout) == 1  # events went to the file: stdout is the summary alone
    summary = first.summary
    assert summary["version"] == "1" and summary["promoted"] is True and summary["alias"] == CHAMPION
    assert summary["comparison"]["reason"] == "no champion yet"
    assert summary["rows_used"] == 1500 and summary["rows_quarantined"] == 0
    assert set(summary["metrics"]) == {
        "holdout_roc_auc",
        "holdout_accuracy",
        "holdout_precision",
        "holdout_recall",
        "holdout_log_loss",
    }


def test_better_model_is_promoted_and_old_champion_kept_for_rollback(sequence: Sequence3) -> None:
    better = sequence.better
    assert better.code == 0, better.stderr
    summary = better.summary
    assert summary["version"] == "2" and summary["promoted"] is True
    comparison = summary["comparison"]
    assert comparison["champion_version"] == "1"
    assert comparison["improvement"] == pytest.approx(
        comparison["candidate_score"] - comparison["champion_score"]
    )
    assert comparison["improvement"] >= 0.01
    model = sequence.client.get_registered_model(DEFAULT_MODEL_NAME)
    assert str(model.aliases[PREVIOUS_CHAMPION]) == "1"


def test_worse_model_stays_challenger(sequence: Sequence3) -> None:
    worse = sequence.worse
    assert worse.code == 0, worse.stderr
    summary = worse.summary
    assert summary["version"] == "3" and summary["promoted"] is False and summary["alias"] == CHALLENGER
    assert summary["comparison"]["champion_version"] == "2"
    assert summary["comparison"]["improvement"] < 0.01
    aliases = sequence.client.get_registered_model(DEFAULT_MODEL_NAME).aliases
    assert {alias: str(version) for alias, version in aliases.items()} == {
        CHAMPION: "2",
        PREVIOUS_CHAMPION: "1",
        CHALLENGER: "3",
    }


def test_events_tell_the_whole_story(sequence: Sequence3) -> None:
    events = events_of(sequence.events)
    assert [event.type for event in events] == [
        EventType.MODEL_TRAINED,
        EventType.MODEL_REGISTERED,
        EventType.MODEL_PROMOTED,
        EventType.MODEL_TRAINED,
        EventType.MODEL_REGISTERED,
        EventType.MODEL_PROMOTED,
        EventType.MODEL_TRAINED,
        EventType.MODEL_REGISTERED,
        EventType.MODEL_NOT_PROMOTED,
    ]
    promoted = events[5].details
    assert promoted["version"] == "2" and promoted["previous_champion"] == "1"
    assert {"candidate_score", "champion_score", "margin", "improvement"} <= set(promoted)
    registered = events[7].details
    assert registered["version"] == "3" and registered["rows_used"] == 1500
    assert registered["rows_quarantined"] == 0 and registered["run_id"]
    assert events[8].details["alias"] == CHALLENGER


def test_version_tags_run_and_reference_artifact(sequence: Sequence3) -> None:
    client = sequence.client
    version = client.get_model_version(DEFAULT_MODEL_NAME, "2")
    tags = version.tags
    assert tags[FLAVOR_TAG] == "sklearn" and tags["decision"] == "promoted"
    assert tags["comparison_champion_version"] == "1"
    assert len(tags["data_sha256"]) == 64
    assert float(tags["holdout_roc_auc"]) == pytest.approx(
        sequence.better.summary["metrics"]["holdout_roc_auc"], abs=1e-6
    )
    assert version.run_id is not None
    run = client.get_run(version.run_id)
    assert run.data.params["device"] == "cpu" and run.data.params["rows_used"] == "1500"
    assert "champion_holdout_roc_auc" in run.data.metrics

    reference_path = mlflow.artifacts.download_artifacts(
        run_id=version.run_id,
        artifact_path=REFERENCE_ARTIFACT,
        dst_path=str(sequence.workdir / "ref"),
        tracking_uri=sequence.uri,
    )
    reference = pd.read_parquet(reference_path)
    assert list(reference.columns) == list(FEATURE_NAMES)
    assert len(reference) == 1200  # the training split of 1,500 rows; the cap is 5,000

    model = load_probability_model(f"models:/{DEFAULT_MODEL_NAME}@{CHAMPION}", tags[FLAVOR_TAG])
    scores = np.asarray(model.predict_proba(reference.to_numpy()[:3]))
    assert scores.shape == (3, 2) and np.allclose(scores.sum(axis=1), 1.0)


def test_invalid_rows_quarantined_and_training_continues(tracking_uri: str, tmp_path: Path) -> None:
    frame = generate(1000, seed=21)
    frame.loc[[10, 20, 30], "amount"] = -1.0
    data = write_table(frame, tmp_path / "some-bad.csv")
    events = tmp_path / "events.jsonl"

    outcome = train(
        ["--data", str(data), *FAST, "--events", str(events), "--quarantine-dir", str(tmp_path / "q")]
    )

    assert outcome.code == 0, outcome.stderr
    assert outcome.summary["rows_quarantined"] == 3 and outcome.summary["rows_used"] == 997
    quarantined = [
        json.loads(line) for line in Path(outcome.summary["quarantine_file"]).read_text().splitlines()
    ]
    assert [(row["index"], row["reasons"]) for row in quarantined] == [
        (index, [{"column": "amount", "check": "in_range(0.0, 50000.0)", "value": -1.0}])
        for index in (10, 20, 30)
    ]
    first = events_of(events)[0]
    assert first.type is EventType.DATA_QUARANTINED
    assert first.details["rows_quarantined"] == 3 and first.details["rejected"] is False
    assert first.details["reasons"] == {"amount: in_range(0.0, 50000.0)": 3}


def test_too_many_invalid_rows_rejects_and_registers_nothing(tracking_uri: str, tmp_path: Path) -> None:
    frame = generate(200, seed=22)
    frame.loc[:19, "device_trust"] = 7.0  # 10 % > 5 %
    data = write_table(frame, tmp_path / "bad.csv")
    events = tmp_path / "events.jsonl"

    outcome = train(["--data", str(data), "--events", str(events), "--quarantine-dir", str(tmp_path / "q")])

    assert outcome.code == 1
    assert outcome.stdout == []
    assert outcome.stderr.count("\n") == 1 and outcome.stderr.startswith(
        "training: data rejected: 20 of 200 rows (10.0%)"
    )
    assert [event.type for event in events_of(events)] == [EventType.DATA_QUARANTINED]
    assert events_of(events)[0].details["rejected"] is True
    assert len((tmp_path / "q").glob("quarantine-*.jsonl").__next__().read_text().splitlines()) == 20
    assert MlflowClient(tracking_uri).search_registered_models() == []


def test_torch_trainer_logs_a_servable_pyfunc(
    tracking_uri: str, tmp_path: Path, good_frame: pd.DataFrame
) -> None:
    data = write_table(good_frame, tmp_path / "good.csv")

    outcome = train(
        [
            "--data",
            str(data),
            "--trainer",
            "torch",
            "--torch-epochs",
            "15",
            "--seed",
            "7",
            "--events",
            str(tmp_path / "e.jsonl"),
        ]
    )

    assert outcome.code == 0, outcome.stderr
    summary = outcome.summary
    assert summary["trainer"] == "torch" and summary["promoted"] is True
    assert summary["metrics"]["holdout_roc_auc"] > 0.7
    client = MlflowClient(tracking_uri)
    version = client.get_model_version(DEFAULT_MODEL_NAME, summary["version"])
    assert version.tags[FLAVOR_TAG] == "pyfunc"
    assert version.run_id is not None
    assert client.get_run(version.run_id).data.params["device"] == "cpu"

    uri = f"models:/{DEFAULT_MODEL_NAME}@{CHAMPION}"
    model = load_probability_model(uri, "pyfunc")
    features = good_frame.loc[:, list(FEATURE_NAMES)]
    scores = np.asarray(model.predict_proba(features.to_numpy()))
    assert scores.shape == (len(features), 2)
    assert roc_auc_score(good_frame[LABEL], scores[:, 1]) > 0.7
    generic = np.asarray(mlflow.pyfunc.load_model(uri).predict(features.head(4)))
    assert np.allclose(generic, scores[:4])


def test_unreachable_registry_fails_after_bounded_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, good_frame: pd.DataFrame
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free now, and nothing listens on it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://user:secret@127.0.0.1:{port}")
    monkeypatch.chdir(tmp_path)
    data = write_table(good_frame, tmp_path / "good.csv")
    events = tmp_path / "events.jsonl"
    started = time.monotonic()

    outcome = train(
        [
            "--data",
            str(data),
            "--events",
            str(events),
            "--registry-retry-s",
            "1.5",
            "--registry-backoff-s",
            "0.1",
            "--registry-backoff-max-s",
            "0.4",
            "--registry-timeout-s",
            "2",
        ]
    )

    elapsed = time.monotonic() - started
    assert outcome.code == 3
    assert outcome.stdout == []
    error_lines = [line for line in outcome.stderr.splitlines() if not line.startswith("{")]
    assert len(error_lines) == 1 and error_lines[0].startswith(
        f"training: registry unavailable at http://127.0.0.1:{port}"
    )
    assert "could not reach the registry after" in error_lines[0] and "secret" not in outcome.stderr
    retries = [
        json.loads(line)
        for line in outcome.stderr.splitlines()
        if line.startswith("{") and "retrying" in line
    ]
    assert len(retries) >= 3
    assert elapsed < 10
    (unavailable,) = events_of(events)
    assert (
        unavailable.type is EventType.DEPENDENCY_UNAVAILABLE and unavailable.details["dependency"] == "mlflow"
    )
    assert os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES") == "0"


def test_a_fixed_evaluation_table_is_the_judge(tracking_uri: str, tmp_path: Path) -> None:
    clean = write_table(generate(1500, seed=31), tmp_path / "clean.csv")
    shuffled = generate(1500, seed=32)
    shuffled[LABEL] = np.random.default_rng(5).permutation(shuffled[LABEL].to_numpy())
    noise = write_table(shuffled, tmp_path / "noise.csv")
    trusted = write_table(generate(1500, seed=33), tmp_path / "eval.csv")

    assert train(["--data", str(clean), *FAST]).code == 0
    # Margin 0: on its own noisy holdout the shuffled model could win by chance; on the fixed table it cannot.
    judged = train(["--data", str(noise), "--eval-data", str(trusted), "--promotion-margin", "0", *FAST])

    assert judged.code == 0, judged.stderr
    comparison = judged.summary["comparison"]
    assert judged.summary["promoted"] is False
    assert comparison["judged_on"] == "eval"
    assert comparison["champion_score"] > 0.75
    assert comparison["candidate_score"] < comparison["champion_score"] - 0.1
    assert judged.summary["metrics"]["eval_roc_auc"] == pytest.approx(comparison["candidate_score"])


def test_an_evaluation_table_with_invalid_rows_is_refused(tracking_uri: str, tmp_path: Path) -> None:
    clean = write_table(generate(600, seed=34), tmp_path / "clean.csv")
    broken = generate(300, seed=35)
    broken.loc[4, "hour"] = 31.0
    trusted = write_table(broken, tmp_path / "eval.csv")

    outcome = train(["--data", str(clean), "--eval-data", str(trusted), *FAST])

    assert outcome.code == 1
    assert "evaluation table" in outcome.stderr and "1 invalid rows of 300" in outcome.stderr
    assert MlflowClient(tracking_uri).search_registered_models() == []
