"""The pieces without a server: scorers, keys file, token buckets, the extraction detector's window."""

from pathlib import Path

import numpy as np
import orjson
import pytest
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from lifecycle.capture import PREDICTIONS, PredictionRecord, read_capture
from lifecycle.features import FEATURE_NAMES, LABEL
from lifecycle.synthetic import generate
from serving.auth import ApiKeyFileError, ApiKeys, RateLimiter, hash_key
from serving.capture import Batch, CaptureBuffer, encode_predictions, request_ids
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


def _batches(sizes: list[int]) -> list[Batch]:
    rng = np.random.default_rng(7)
    out: list[Batch] = []
    for number, rows in enumerate(sizes):
        features = rng.random((rows, 8)) * 10.0 ** rng.integers(-8, 12, (rows, 8))
        features[0, :3] = (0.0, 4.0, 1e16)
        scores = rng.random(rows)
        out.append(
            (f"{number:016x}", 1.7e9 + number / 7, 'v"1' if number % 2 else "2", features, scores,
             (scores >= 0.5).astype(np.int8), f"key-{number % 3}")
        )  # fmt: skip
    return out


def test_capture_lines_are_byte_for_byte_what_the_records_encode_to() -> None:
    batches = _batches([1, 32, 3, 256, 1])
    expected = b"\n".join(
        orjson.dumps(PredictionRecord(request_id, stamp, version, row, score, label, key).to_dict())
        for token, stamp, version, features, scores, labels, key in batches
        for request_id, row, score, label in zip(
            request_ids(token, len(scores)), features.tolist(), scores.tolist(), labels.tolist(), strict=True
        )
    )
    assert encode_predictions(batches) == expected
    assert encode_predictions([]) == b""


def test_capture_is_written_in_steps_and_files_of_max_records(tmp_path: Path) -> None:
    buffer = CaptureBuffer(tmp_path, max_records=100)
    sizes = [32] * 7 + [1] * 150 + [256]
    for token, _, version, features, scores, predicted, key in _batches(sizes):
        buffer.add_predictions(token, version, features, scores, predicted, key)
    assert buffer.full and buffer.pending == sum(sizes)
    batches, labels = buffer.take()
    assert buffer.pending == 0
    steps = list(buffer.steps(batches))
    assert [batch for step, _ in steps for batch in step] == batches
    assert all(sum(len(b[4]) for b in step) <= 512 + 255 and len(step) <= 64 for step, _ in steps)
    assert buffer.drain((batches, labels)) == sum(sizes)
    files = sorted(tmp_path.glob(f"{PREDICTIONS}-*.jsonl"))
    # A file closes at the first request boundary at or past 100 rows, as row-by-row writing did.
    assert [len(path.read_bytes().splitlines()) for path in files] == [128, 100, 100, 46 + 256]
    records = list(read_capture(tmp_path, PREDICTIONS))
    assert [r["request_id"] for r in records] == [
        request_id for b in batches for request_id in request_ids(b[0], len(b[4]))
    ]
