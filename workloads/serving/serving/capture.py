"""Prediction and label capture kept off the request path.

A request only appends one tuple (its ids, features array, scores, labels) to a list on the event
loop; a background task swaps that list out (on the loop, so nothing is lost between threads) and a
worker thread turns it into `lifecycle.capture` records and files (`CaptureWriter`, orjson-encoded).
"""

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson

from lifecycle.capture import LABELS, PREDICTIONS, CaptureWriter

# One request's rows: (request token, time, model version, features, scores, labels, API key id).
# A flat tuple of strings, floats and numpy arrays: nothing the garbage collector has to traverse
# (thousands of these wait between flushes; lists of Python floats would make every collection slow).
_Batch = tuple[str, float, str, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int8], str]


def request_ids(token: str, rows: int) -> list[str]:
    """The ids of a request's rows: `<token>-<row index>`."""
    return [f"{token}-{index}" for index in range(rows)]


class CaptureBuffer:
    """Pending capture of one app; `drain()` runs in a worker thread, everything else on the loop."""

    def __init__(self, directory: Path, *, max_records: int) -> None:
        """Files go to `directory`; `max_records` pending rows make `full` true (flush soon)."""
        self.directory = directory
        self.max_records = max_records
        self.predictions = CaptureWriter(directory, PREDICTIONS, max_records=max_records, encode=orjson.dumps)
        self.labels = CaptureWriter(directory, LABELS, max_records=max_records, encode=orjson.dumps)
        self._batches: list[_Batch] = []
        self._labels: list[tuple[str, int, float]] = []
        self.pending = 0

    def add_predictions(
        self,
        token: str,
        model_version: str,
        features: npt.NDArray[np.float64],
        scores: npt.NDArray[np.float64],
        labels: npt.NDArray[np.int8],
        api_key_id: str,
    ) -> None:
        """Queue one request's rows, whose ids are `request_ids(token, len(scores))` (O(1): the
        records are built later, in `drain`)."""
        self._batches.append((token, time.time(), model_version, features, scores, labels, api_key_id))
        self.pending += len(scores)

    def add_labels(self, pairs: list[tuple[str, int]]) -> None:
        """Queue ground-truth labels from /feedback."""
        now = time.time()
        self._labels.extend((request_id, label, now) for request_id, label in pairs)
        self.pending += len(pairs)

    @property
    def full(self) -> bool:
        """Whether enough is pending to flush before the next period."""
        return self.pending >= self.max_records

    def take(self) -> tuple[list[_Batch], list[tuple[str, int, float]]]:
        """Swap out what is pending (call on the event loop)."""
        batches, labels = self._batches, self._labels
        self._batches, self._labels, self.pending = [], [], 0
        return batches, labels

    def drain(self, taken: tuple[list[_Batch], list[tuple[str, int, float]]]) -> int:
        """Write what `take` returned as capture files (blocking; a worker thread); returns records."""
        batches, labels = taken
        written = 0
        for token, stamp, version, features, scores, predictions, key in batches:
            rows = len(scores)
            self.predictions.add_dicts(
                [
                    {
                        "request_id": request_id,
                        "time": stamp,
                        "model_version": version,
                        "features": row,
                        "score": score,
                        "prediction": label,
                        "api_key_id": key,
                    }
                    for request_id, row, score, label in zip(
                        request_ids(token, rows),
                        features.tolist(),
                        scores.tolist(),
                        predictions.tolist(),
                        strict=True,
                    )
                ]
            )
            written += rows
        if labels:
            self.labels.add_dicts(
                [
                    {"request_id": request_id, "time": stamp, "label": label}
                    for request_id, label, stamp in labels
                ]
            )
            written += len(labels)
        self.predictions.flush()
        self.labels.flush()
        return written
