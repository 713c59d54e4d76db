"""Input drift of a window of served rows against the champion's training sample, with Evidently 0.7.

Evidently 0.7's snapshot (`Snapshot.dict()`) is `{"metrics": [...], "tests": [...]}`. The preset
`DataDriftPreset(columns=..., drift_share=...)` yields one `DriftedColumnsCount` metric (value
`{"count", "share"}`) and one `ValueDrift` metric per column (value: the drift score; config: `column`,
`method` (the requested name, e.g. `ks`, or Evidently's display name when it chose), `threshold`). Whether a score means drift depends on the method (a p-value drifts *below* its
threshold, a distance *at or above* it, and each test spells its own comparison), so with
`include_tests=True` the per-column verdict is read from Evidently's own test result for that column
(`status` FAIL = drifted) instead of being re-derived here.

The numeric test is chosen here, not left to Evidently: its default scores a numeric column with at
most five distinct values (a count such as `failed_logins_7d`) with chi-square, which reports p = 0
(drift) as soon as the window holds one value the reference lacks, even on identical distributions. The
monitor keeps Evidently's size rule and nothing else: K-S up to 1,000 reference rows, the normed
Wasserstein distance above (K-S flags negligible shifts on large samples).
"""

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

DRIFTED_COLUMNS_METRIC = "DriftedColumnsCount"
VALUE_DRIFT_METRIC = "ValueDrift"
SMALL_REFERENCE_ROWS = 1000
"""Evidently's own boundary between a p-value test and a distance for numeric columns."""


class DriftParseError(ValueError):
    """The Evidently snapshot lacks what the monitor reads (an Evidently upgrade changed its shape)."""


@dataclass(frozen=True)
class ColumnDrift:
    """One column's drift score as Evidently computed it."""

    column: str
    score: float
    method: str
    threshold: float | None
    drifted: bool | None
    """Evidently's verdict for the column; None when the snapshot carries no test for it."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "score": self.score,
            "method": self.method,
            "threshold": self.threshold,
            "drifted": self.drifted,
        }


@dataclass(frozen=True)
class DriftResult:
    """What a window's drift report says."""

    drifted_columns: int
    share_drifted: float
    columns: Mapping[str, ColumnDrift]

    def drifted(self, drift_share: float) -> bool:
        """Evidently's dataset rule: drift when the drifted share reaches the threshold."""
        return self.share_drifted >= drift_share


def _metric_type(config: Mapping[str, Any]) -> str:
    # "evidently:metric_v2:ValueDrift" -> "ValueDrift"
    return str(config.get("type", "")).rsplit(":", 1)[-1]


def parse_snapshot(snapshot: Mapping[str, Any], columns: Sequence[str]) -> DriftResult:
    """Read the drifted share and the per-column scores out of `Snapshot.dict()`.

    Raises:
        DriftParseError: the share metric or a requested column's score is missing.
    """
    metrics = snapshot.get("metrics")
    if not isinstance(metrics, list):
        raise DriftParseError("Evidently snapshot has no 'metrics' list")
    share: float | None = None
    count: int | None = None
    scores: dict[str, tuple[float, str, float | None]] = {}
    for metric in metrics:
        config = metric.get("config", {}) if isinstance(metric, Mapping) else {}
        kind = _metric_type(config)
        value = metric.get("value") if isinstance(metric, Mapping) else None
        if kind == DRIFTED_COLUMNS_METRIC and isinstance(value, Mapping):
            share = float(value["share"])
            count = round(float(value["count"]))
        elif kind == VALUE_DRIFT_METRIC and isinstance(value, int | float) and "column" in config:
            threshold = config.get("threshold")
            scores[str(config["column"])] = (
                float(value),
                str(config.get("method", "")),
                None if threshold is None else float(threshold),
            )
    verdicts: dict[str, bool] = {}
    for test in snapshot.get("tests") or []:
        params = (test.get("metric_config") or {}).get("params") or {}
        if _metric_type(params) == VALUE_DRIFT_METRIC and "column" in params:
            verdicts[str(params["column"])] = test.get("status") == "FAIL"
    if share is None or count is None:
        raise DriftParseError(f"Evidently snapshot has no {DRIFTED_COLUMNS_METRIC} value")
    missing = [column for column in columns if column not in scores]
    if missing:
        raise DriftParseError(f"Evidently snapshot has no {VALUE_DRIFT_METRIC} for {', '.join(missing)}")
    return DriftResult(
        drifted_columns=count,
        share_drifted=share,
        columns={
            column: ColumnDrift(column, *scores[column], drifted=verdicts.get(column)) for column in columns
        },
    )


def compute_drift(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    columns: Sequence[str],
    *,
    drift_share: float,
    html_path: Path | None = None,
) -> DriftResult:
    """Run Evidently's data drift preset (current first, then reference) and parse the result.

    `html_path`, when given, receives the full HTML report if the window drifted (it is ~4 MB).
    """
    os.environ.setdefault("DO_NOT_TRACK", "true")
    # Imported here: evidently takes seconds to import, and only a cycle with a full window needs it.
    from evidently import Report  # noqa: PLC0415
    from evidently.presets import DataDriftPreset  # noqa: PLC0415

    num_method = "ks" if len(reference) <= SMALL_REFERENCE_ROWS else "wasserstein"
    preset = DataDriftPreset(columns=list(columns), drift_share=drift_share, num_method=num_method)
    report = Report([preset], include_tests=True)
    snapshot = report.run(current[list(columns)], reference[list(columns)])
    result = parse_snapshot(snapshot.dict(), columns)
    if html_path is not None and result.drifted(drift_share):
        html_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(html_path))
    return result
