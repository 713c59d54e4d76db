"""Loading the training table, validating it against the feature contract, and quarantining rows.

Validation is Pandera's lazy mode, which reports every failing cell at once. Rows with a failing cell
are written to a quarantine file with their original index and every reason (column, check, value),
never silently dropped. A failure that belongs to no row (a missing column) rejects the whole table.
"""

import gzip
import hashlib
import json
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from lifecycle.features import FEATURE_NAMES, LABEL, training_schema

_MAX_PASSES = 4


class DataRejectedError(ValueError):
    """The table cannot be trained on; the message is one line."""


@dataclass(frozen=True)
class Reason:
    """Why one row failed: the column, the check and the offending value."""

    column: str
    check: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"column": self.column, "check": self.check, "value": self.value}


@dataclass(frozen=True)
class Validated:
    """The outcome of validation: the rows to train on and the rows set aside."""

    valid: pd.DataFrame
    """Passing rows, coerced, with exactly the feature columns and the label, original index kept."""
    quarantined: dict[Any, list[Reason]] = field(default_factory=dict)
    """Original index of each failing row → its reasons."""
    total_rows: int = 0

    @property
    def invalid_share(self) -> float:
        """Share of the table's rows that failed."""
        return len(self.quarantined) / self.total_rows if self.total_rows else 0.0

    def reason_counts(self) -> dict[str, int]:
        """`"<column>: <check>"` → number of rows failing it (evidence for the event)."""
        counts: Counter[str] = Counter()
        for reasons in self.quarantined.values():
            counts.update({f"{reason.column}: {reason.check}" for reason in reasons})
        return dict(sorted(counts.items()))


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes: the data version recorded with the model."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_table(path: Path) -> pd.DataFrame:
    """Read a CSV (optionally gzipped) or Parquet table; the index is the 0-based row number.

    Raises:
        DataRejectedError: the file cannot be parsed.
    """
    name = path.name.lower()
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif name.endswith(".gz"):
            with gzip.open(path, "rt") as handle:
                frame = pd.read_csv(handle)
        else:
            frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataRejectedError(f"cannot read {path}: {' '.join(str(error).split())[:200]}") from error
    return frame.reset_index(drop=True)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    item = getattr(value, "item", None)
    if callable(item):
        return _json_value(item())
    return str(value)


def validate(frame: pd.DataFrame) -> Validated:
    """Validate every row against `training_schema()`; see the module docstring.

    Checks that could not run on a column because of a value that failed coercion are rerun on the
    rows left once those are set aside, so every remaining row is checked.

    Raises:
        DataRejectedError: a failure that belongs to no row (a missing column, an empty table).
    """
    if frame.empty:
        raise DataRejectedError("the table has no rows")
    schema = training_schema()
    quarantined: dict[Any, list[Reason]] = {}
    remaining = frame
    for _ in range(_MAX_PASSES):
        try:
            with warnings.catch_warnings():
                # Pandera's failure-case concatenation trips a pandas FutureWarning; not ours to fix.
                warnings.simplefilter("ignore", FutureWarning)
                valid = schema.validate(remaining, lazy=True)
        except pa.errors.SchemaErrors as errors:
            cases = errors.failure_cases
            row_cases = cases[cases["index"].notna()]
            if row_cases.empty:
                first = cases.iloc[0]
                raise DataRejectedError(
                    f"table rejected: {first['check']} failed for {first['column']} ({first['failure_case']})"
                ) from None
            for case in row_cases.itertuples(index=False):
                reason = Reason(str(case.column), str(case.check), _json_value(case.failure_case))
                reasons = quarantined.setdefault(_row_key(case.index), [])
                if reason not in reasons:
                    reasons.append(reason)
            remaining = remaining.drop(index=[_row_key(index) for index in row_cases["index"].unique()])
            if remaining.empty:
                break
            continue
        return Validated(
            valid=valid.loc[:, [*FEATURE_NAMES, LABEL]], quarantined=quarantined, total_rows=len(frame)
        )
    if remaining.empty:
        return Validated(
            valid=frame.iloc[0:0].reindex(columns=[*FEATURE_NAMES, LABEL]),
            quarantined=quarantined,
            total_rows=len(frame),
        )
    raise DataRejectedError(f"table rejected: still failing validation after {_MAX_PASSES} passes")


def write_quarantine(
    frame: pd.DataFrame, validated: Validated, directory: Path, *, source: Path, data_sha256: str
) -> Path | None:
    """Write the failing rows as JSON lines `{"index", "row", "reasons"}`; None when there are none.

    The file is written under a temporary name and renamed, so a reader never sees half of it.
    """
    if not validated.quarantined:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = directory / f"quarantine-{stamp}-{data_sha256[:12]}.jsonl"
    partial = directory / f".{final.name}.partial"
    with partial.open("w") as handle:
        for index in sorted(validated.quarantined, key=_index_key):
            row = {str(column): _json_value(value) for column, value in frame.loc[index].items()}
            record = {
                "index": _json_value(index),
                "source": str(source),
                "row": row,
                "reasons": [reason.to_dict() for reason in validated.quarantined[index]],
            }
            handle.write(json.dumps(record, default=str) + "\n")
    partial.replace(final)
    return final


def _row_key(index: Any) -> Any:
    # Pandera reports indexes in an object column beside the table-level `None`s: back to plain ints.
    value = _json_value(index)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _index_key(index: Any) -> tuple[int, Any]:
    return (0, index) if isinstance(index, int) else (1, str(index))


def class_counts(valid: pd.DataFrame) -> dict[int, int]:
    """Rows per label value among the valid rows."""
    counts = valid[LABEL].value_counts().sort_index()
    return {int(str(label)): int(count) for label, count in counts.items()}
