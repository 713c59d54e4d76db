"""The pieces without a server: scorers, keys file, token buckets, the extraction detector's window."""

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from lifecycle.features import FEATURE_NAMES, LABEL
from lifecycle.synthetic import generate
from serving.auth import ApiKeyFileError, ApiKeys, RateLimiter, hash_key
from serving.extraction import ExtractionDetector
from serving.model import _check_rows, _gradient_boosting_scorer, _scorer, probe_batch


def _data() -> tuple[np.ndarray, np.ndarray]:
    frame = generate(800, seed=4)
    return frame[list(FEATURE_NAMES)].to_numpy(), frame[LABEL].to_numpy()


def test_gradient_boosting_is_scored_directly_and_matches_predict_proba() -> None:
    features, labels = _data()
    model = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0).fit(features, labels)
    direct = _gradient_boosting_scorer(model, _check_rows())
    assert direct is not None
    rows = np.vstack([features[:50], probe_batch()])
    assert np.allclose(direct(rows), model.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)


def test_other_models_keep_predict_proba() -> None:
    features, labels = _data()
    model = LogisticRegression(max_iter=500).fit(features / 1000.0, labels)
    assert _gradient_boosting_scorer(model, _check_rows()) is None
    assert np.allclose(_scorer(model)(features[:5]), model.predict_proba(features[:5])[:, 1])


def test_keys_file_is_parsed_strictly(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# comment\n\nops:{hash_key('k1')}\nci:{hash_key('k2').upper()}\n")
    keys = ApiKeys.from_file(path)
    assert (keys.identify("k1"), keys.identify("k2"), keys.identify("k3"), keys.identify(None)) == (
        "ops",
        "ci",
        None,
        None,
    )
    for bad in (f"ops {hash_key('k')}", "ops:abc", f"ops:{hash_key('a')}\nops:{hash_key('b')}"):
        path.write_text(bad)
        with pytest.raises(ApiKeyFileError, match="keys"):
            ApiKeys.from_file(path)


def test_token_bucket_charges_rows_and_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=10.0, burst=20.0, clock=lambda: now[0])
    assert limiter.take("a", 20) == 0.0
    assert limiter.take("a", 5) == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take("a", 5) == 0.0
    assert RateLimiter.retry_after(0.01) == "1" and RateLimiter.retry_after(2.2) == "3"


def test_a_flag_clears_once_the_window_moves_on() -> None:
    now = [1000.0]
    detector = ExtractionDetector(
        window_s=60, bins=10, min_rows=50, coverage=0.8, max_rows=10_000, clock=lambda: now[0]
    )
    low = np.array([0.0] * 8)
    high = np.array([50_000.0, 20_000.0, 500.0, 20_000.0, 23.0, 1.0, 1.0, 100.0])
    sweep = low + np.linspace(0, 1, 100)[:, None] * (high - low)
    verdict = detector.observe("k", sweep)
    assert verdict.flagged and verdict.newly_flagged and verdict.coverage == 1.0
    assert not detector.observe("k", sweep[:1]).newly_flagged
    now[0] += 61
    assert not detector.judge("k").flagged
