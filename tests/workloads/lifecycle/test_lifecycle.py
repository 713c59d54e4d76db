"""The shared lifecycle contract: feature schema, synthetic drift, event log and prediction capture."""

import json
import multiprocessing
from pathlib import Path

import numpy as np
import pandera.pandas as pa
import pytest

from lifecycle.capture import LABELS, PREDICTIONS, CaptureWriter, LabelRecord, PredictionRecord, read_capture
from lifecycle.events import Event, EventLog, EventType, read_events
from lifecycle.features import FEATURE_NAMES, FEATURES, LABEL, training_schema
from lifecycle.registry import model_uri
from lifecycle.synthetic import generate


def test_generated_data_passes_the_training_schema() -> None:
    frame = generate(500, seed=1, drift=0.7)
    validated = training_schema().validate(frame, lazy=True)
    assert list(validated.columns) == [*FEATURE_NAMES, LABEL]
    assert set(validated[LABEL].unique()) <= {0, 1}


def test_schema_reports_every_failing_row_with_its_check() -> None:
    frame = generate(20, seed=2)
    frame.loc[3, "hour"] = 30.0
    frame.loc[7, "merchant_risk"] = np.nan
    frame.loc[9, LABEL] = 2
    with pytest.raises(pa.errors.SchemaErrors) as caught:
        training_schema().validate(frame, lazy=True)
    cases = caught.value.failure_cases
    failing = {(row.column, int(row.index)) for row in cases.itertuples() if row.index is not None}
    assert failing == {("hour", 3), ("merchant_risk", 7), (LABEL, 9)}


def test_drift_moves_inputs_and_labels() -> None:
    before, after = generate(4000, seed=3), generate(4000, seed=3, drift=1.0)
    assert after["distance_km"].mean() > 5 * before["distance_km"].mean()
    assert after[LABEL].mean() > 3 * before[LABEL].mean()
    for feature in FEATURES:
        assert after[feature.name].between(feature.minimum, feature.maximum).all()


@pytest.mark.parametrize(("rows", "drift", "message"), [(0, 0.0, "rows must be"), (5, 1.5, "drift must be")])
def test_generate_rejects_bad_arguments(rows: int, drift: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(rows, seed=0, drift=drift)


def _emit_many(path: str, worker: int) -> None:
    log = EventLog(Path(path))
    for index in range(50):
        log.emit(EventType.DRIFT_CHECKED, worker=worker, index=index)


def test_event_log_keeps_whole_lines_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_emit_many, args=(str(path), worker)) for worker in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    events = list(read_events(path))
    assert len(events) == 150
    assert {(event.details["worker"], event.details["index"]) for event in events} == {
        (worker, index) for worker in range(3) for index in range(50)
    }


def test_a_torn_last_line_is_skipped_but_a_torn_middle_line_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    log.emit(EventType.MODEL_TRAINED, version="1")
    with path.open("a") as file:
        file.write('{"type": "model_regis')
    assert [event.type for event in read_events(path)] == [EventType.MODEL_TRAINED]
    with path.open("a") as file:
        file.write("\n" + Event(EventType.MODEL_PROMOTED).to_json() + "\n")
    with pytest.raises(ValueError, match="not an event line"):
        list(read_events(path))


def test_capture_files_appear_whole_and_in_order(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, PREDICTIONS, max_records=2)
    for index in range(5):
        writer.add(PredictionRecord(f"r{index}", float(index), "1", [0.0] * 8, 0.1, 0, "team-a"))
    assert writer.flush() is not None
    assert writer.flush() is None
    assert not list(tmp_path.glob(".*partial"))
    records = list(read_capture(tmp_path, PREDICTIONS))
    assert [record["request_id"] for record in records] == [f"r{index}" for index in range(5)]
    labels = CaptureWriter(tmp_path, LABELS)
    labels.add(LabelRecord("r1", 1.0, 1))
    newest = labels.flush()
    assert newest is not None
    since = int(newest.name.split("-")[1])
    assert list(read_capture(tmp_path, LABELS, since_ns=since)) == [
        {"request_id": "r1", "time": 1.0, "label": 1}
    ]
    assert list(read_capture(tmp_path, PREDICTIONS, since_ns=since)) == []
    assert json.loads(newest.read_text())["label"] == 1


def test_capture_rejects_an_unknown_prefix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="capture prefix must be 'predictions' or 'labels'"):
        CaptureWriter(tmp_path, "inputs")


def test_model_uri_follows_the_alias() -> None:
    assert model_uri("fraud-detector") == "models:/fraud-detector@champion"
