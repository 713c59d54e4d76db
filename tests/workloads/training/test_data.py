"""Validation and quarantine: every failing row kept with its original index and exact reasons."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lifecycle.features import FEATURE_NAMES, LABEL
from lifecycle.synthetic import generate
from training.data import DataRejectedError, load_table, validate, write_quarantine


def _bad_frame() -> pd.DataFrame:
    frame = generate(20, seed=5).astype(object)
    frame.loc[1, "amount"] = -5.0
    frame.loc[2, "hour"] = np.nan
    frame.loc[3, LABEL] = 2
    frame.loc[4, "merchant_risk"] = "abc"
    frame.loc[5, "amount"] = -1.0
    frame.loc[5, "device_trust"] = 3.0
    return frame


def test_failing_rows_are_quarantined_with_exact_reasons(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    _bad_frame().to_csv(path, index=False)
    frame = load_table(path)

    validated = validate(frame)

    assert sorted(validated.quarantined) == [1, 2, 3, 4, 5]
    assert list(validated.valid.index) == [0, *range(6, 20)]
    assert list(validated.valid.columns) == [*FEATURE_NAMES, LABEL]
    assert validated.invalid_share == 5 / 20

    out = write_quarantine(frame, validated, tmp_path / "q", source=path, data_sha256="ab" * 32)
    assert out is not None and out.parent == tmp_path / "q" and out.suffix == ".jsonl"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    reasons = {record["index"]: record["reasons"] for record in records}
    assert reasons == {
        1: [{"column": "amount", "check": "in_range(0.0, 50000.0)", "value": -5.0}],
        2: [{"column": "hour", "check": "not_nullable", "value": None}],
        3: [{"column": "label", "check": "isin([0, 1])", "value": 2}],
        4: [
            {"column": "merchant_risk", "check": "coerce_dtype('float64')", "value": "abc"},
            {"column": "merchant_risk", "check": "dtype('float64')", "value": "abc"},
        ],
        5: [
            {"column": "amount", "check": "in_range(0.0, 50000.0)", "value": -1.0},
            {"column": "device_trust", "check": "in_range(0.0, 1.0)", "value": 3.0},
        ],
    }
    assert records[3]["row"]["merchant_risk"] == "abc"
    assert records[1]["row"]["hour"] is None
    assert all(record["source"] == str(path) for record in records)
    assert not list((tmp_path / "q").glob(".*partial"))


def test_a_column_that_failed_coercion_is_still_range_checked_on_the_other_rows() -> None:
    frame = generate(10, seed=6).astype(object)
    frame.loc[0, "merchant_risk"] = "n/a"
    frame.loc[7, "merchant_risk"] = 1.5

    validated = validate(frame)

    assert sorted(validated.quarantined) == [0, 7]
    assert validated.quarantined[7][0].check == "in_range(0.0, 1.0)"


def test_a_missing_column_rejects_the_table() -> None:
    frame = generate(10, seed=6).drop(columns=["hour"])

    with pytest.raises(DataRejectedError, match="column_in_dataframe failed for training-table"):
        validate(frame)


def test_clean_table_writes_no_quarantine_file(tmp_path: Path) -> None:
    frame = generate(10, seed=6)
    frame["extra"] = "ignored"

    validated = validate(frame)

    assert validated.quarantined == {}
    assert list(validated.valid.columns) == [*FEATURE_NAMES, LABEL]
    assert (
        write_quarantine(frame, validated, tmp_path, source=tmp_path / "x.csv", data_sha256="0" * 64) is None
    )


def test_parquet_and_unreadable_files(tmp_path: Path) -> None:
    parquet = tmp_path / "t.parquet"
    generate(5, seed=1).to_parquet(parquet)
    assert list(load_table(parquet).index) == [0, 1, 2, 3, 4]

    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(DataRejectedError, match="cannot read"):
        load_table(broken)
