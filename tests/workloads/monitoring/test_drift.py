"""Drift parsing pinned on real Evidently 0.7.23 runs, not on hand-made snapshots."""

import warnings
from pathlib import Path

import pytest

from lifecycle.features import FEATURE_NAMES
from lifecycle.synthetic import generate
from monitoring.drift import DriftParseError, compute_drift, parse_snapshot

FEATURES = list(FEATURE_NAMES)


def test_fully_drifted_traffic_drifts_every_column(tmp_path: Path) -> None:
    reference = generate(500, seed=1)[FEATURES]
    current = generate(400, seed=2, drift=1.0)[FEATURES]

    result = compute_drift(current, reference, FEATURES, drift_share=0.5, html_path=tmp_path / "r.html")

    assert result.share_drifted == 1.0 and result.drifted_columns == len(FEATURES)
    assert result.drifted(0.5)
    assert list(result.columns) == FEATURES
    for column in result.columns.values():
        # Up to 1,000 reference rows the monitor asks for K-S: the score is a p-value.
        assert column.method == "ks" and column.threshold == 0.05
        assert column.score < 0.05 and column.drifted is True
    assert (tmp_path / "r.html").stat().st_size > 10_000


def test_same_distribution_traffic_does_not_drift() -> None:
    reference = generate(500, seed=1001)[FEATURES]
    # This window holds a failed_logins_7d value the reference lacks: Evidently's default chi-square
    # for low-cardinality numeric columns called that drift (p = 0); the monitor's K-S does not.
    current = generate(400, seed=11)[FEATURES]
    assert not set(current["failed_logins_7d"]) <= set(reference["failed_logins_7d"])

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = compute_drift(current, reference, FEATURES, drift_share=0.5)

    assert not result.drifted(0.5) and result.share_drifted == 0.0
    assert {column.method for column in result.columns.values()} == {"ks"}
    assert result.share_drifted == sum(bool(c.drifted) for c in result.columns.values()) / len(FEATURES)


def test_large_windows_switch_to_distances_and_keep_evidently_verdicts() -> None:
    # Above 1,000 reference rows the monitor asks for a distance, where a *high* score drifts: the
    # verdict comes from Evidently's own per-column test, never from a guessed direction.
    reference = generate(1500, seed=1)[FEATURES]
    current = generate(1200, seed=4, drift=1.0)[FEATURES]

    result = compute_drift(current, reference, FEATURES, drift_share=0.5)

    assert {column.method for column in result.columns.values()} == {"wasserstein"}
    assert all(c.drifted is (c.score >= (c.threshold or 0)) for c in result.columns.values())
    assert result.share_drifted == sum(bool(c.drifted) for c in result.columns.values()) / len(FEATURES)


def test_a_snapshot_without_the_share_metric_is_an_error() -> None:
    with pytest.raises(DriftParseError, match="DriftedColumnsCount"):
        parse_snapshot({"metrics": [], "tests": []}, FEATURES)
    with pytest.raises(DriftParseError, match="metrics"):
        parse_snapshot({}, FEATURES)
