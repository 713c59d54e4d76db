"""Prediction and label capture kept off the request path.

A request only appends one tuple (its token, features array, scores, labels) to a list on the event
loop. The flush task swaps that list out on the loop (so nothing is lost between threads), encodes it
in short steps (`CHUNK_ROWS`, `CHUNK_REQUESTS`) with a turn for requests after each
(`encode_predictions`: a few whole-array orjson calls and list slices per step, no per-row Python
loop), and a worker thread writes the files through `lifecycle.capture.CaptureWriter`.

Encoding on the loop in short steps rather than in a worker thread is deliberate: a thread building
records holds the GIL for up to the switch interval (5 ms) each time the loop wants it back, so every
request that arrives during a flush waits; a step here delays the next request by at most about 0.3 ms.
Building one dict per row in a thread, as this module did first, cost about 4 us a row: more than the
request itself at 32 rows."""

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from lifecycle.capture import LABELS, PREDICTIONS, CaptureWriter

# One request's rows: (request token, time, model version, features, scores, labels, API key id).
# A flat tuple of strings, floats and numpy arrays: nothing the garbage collector has to traverse
# (thousands of these wait between flushes; lists of Python floats would make every collection slow).
Batch = tuple[str, float, str, npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int8], str]
Taken = tuple[list[Batch], list[tuple[str, int, float]]]
Encoded = list[tuple[bytes, bool]]
"""Encoded prediction lines in steps: (newline-separated lines, whether a file ends after them)."""

CHUNK_ROWS: Final = 512
CHUNK_REQUESTS: Final = 64
"""A step of a flush ends after this many rows or requests (a few tenths of a millisecond of work), and the loop
gets a turn before the next."""

_NUMPY: Final = orjson.OPT_SERIALIZE_NUMPY
_FIELDS: Final = 10  # the pieces of one line in `encode_predictions`
_SUFFIXES: list[str] = []
_INDICES: list[bytes] = []


_GROWING: Final = threading.Lock()


def _grow(rows: int) -> None:
    with _GROWING:  # the loop and a shutdown drain may both grow them
        for index in range(len(_SUFFIXES), rows):
            _SUFFIXES.append(f"-{index}")
            _INDICES.append(str(index).encode())


def request_ids(token: str, rows: int) -> list[str]:
    """The ids of a request's rows: `<token>-<row index>` (suffixes made once, then reused)."""
    if len(_SUFFIXES) < rows:
        _grow(rows)
    return [token + suffix for suffix in _SUFFIXES[:rows]]


def _indices(rows: int) -> list[bytes]:
    """`[b"0", b"1", ...]`, `rows` of them."""
    if len(_INDICES) < rows:
        _grow(rows)
    return _INDICES[:rows]


def _numbers(array: npt.NDArray[Any]) -> list[bytes]:
    """Each value of a 1-d numeric array as orjson writes it (what `orjson.dumps(float(x))` gives)."""
    if not array.size:
        return []
    return orjson.dumps(np.ascontiguousarray(array), option=_NUMPY)[1:-1].split(b",")


def encode_predictions(batches: Sequence[Batch]) -> bytes:
    """The capture lines of `batches`' rows, joined by newlines (none after the last): byte for byte
    `orjson.dumps` of each row's `PredictionRecord.to_dict()`.

    Every per-row value is cut out of one orjson call over the whole step's array (orjson writes a
    numpy float64 exactly as the Python float) and the lines are assembled by list slice assignment,
    so the cost per row is a few pointer copies and the final join.
    """
    heads: list[bytes] = []
    middles: list[bytes] = []
    tails: list[bytes] = []
    indices: list[bytes] = []
    stamps = _numbers(np.array([batch[1] for batch in batches], dtype=np.float64))
    labelled: dict[tuple[str, str], tuple[bytes, bytes]] = {}
    for (token, _, version, _, scores, _, key), stamp in zip(batches, stamps, strict=True):
        rows = len(scores)
        pair = labelled.get((version, key))
        if pair is None:
            pair = labelled[(version, key)] = (
                b',"model_version":' + orjson.dumps(version) + b',"features":[',
                b',"api_key_id":' + orjson.dumps(key) + b"}",
            )
        heads += [b'{"request_id":' + orjson.dumps(token)[:-1] + b"-"] * rows
        indices += _indices(rows)
        middles += [b'","time":' + stamp + pair[0]] * rows
        tails += [pair[1]] * rows
    total = len(heads)
    if not total:
        return b""
    features = np.concatenate([batch[3] for batch in batches])
    rows_json = orjson.dumps(np.ascontiguousarray(features), option=_NUMPY)[2:-2].split(b"],[")
    parts: list[bytes] = [b"\n"] * (_FIELDS * total)
    parts[0::_FIELDS] = heads
    parts[1::_FIELDS] = indices
    parts[2::_FIELDS] = middles
    parts[3::_FIELDS] = rows_json
    parts[4::_FIELDS] = [b'],"score":'] * total
    parts[5::_FIELDS] = _numbers(np.concatenate([batch[4] for batch in batches]))
    parts[6::_FIELDS] = [b',"prediction":'] * total
    parts[7::_FIELDS] = _numbers(np.concatenate([batch[5] for batch in batches]))
    parts[8::_FIELDS] = tails
    # parts[9::_FIELDS] stay b"\n"; the last one is dropped (CaptureWriter ends every item with one).
    del parts[-1]
    return b"".join(parts)


def _lines(item: Any) -> bytes:
    payload: bytes = item["lines"]
    return payload


class CaptureBuffer:
    """Pending capture of one app. `add_*`, `take` and `steps` run on the loop; `write` and `drain`
    in a worker thread."""

    def __init__(self, directory: Path, *, max_records: int) -> None:
        """Files go to `directory`; `max_records` pending rows make `full` true (flush soon), and a
        predictions file is closed once it holds at least `max_records` rows."""
        self.directory = directory
        self.max_records = max_records
        # Items of the predictions writer are encoded steps ({"lines": bytes}), not single records:
        # `write` decides where files end, so the writer never flushes on its own.
        self.predictions = CaptureWriter(directory, PREDICTIONS, max_records=2**62, encode=_lines)
        self.labels = CaptureWriter(directory, LABELS, max_records=max_records, encode=orjson.dumps)
        self._batches: list[Batch] = []
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
        records are encoded later, in steps of the flush)."""
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

    def take(self) -> Taken:
        """Swap out what is pending (call on the event loop)."""
        batches, labels = self._batches, self._labels
        self._batches, self._labels, self.pending = [], [], 0
        return batches, labels

    def steps(self, batches: list[Batch]) -> Iterator[tuple[list[Batch], bool]]:
        """`batches` in steps (`CHUNK_ROWS`, `CHUNK_REQUESTS`), each with whether a file ends after it:
        as soon as the file holds `max_records` rows or more (at a request's boundary, as before)."""
        start = step_rows = file_rows = 0
        for index, batch in enumerate(batches):
            rows = len(batch[4])
            step_rows += rows
            file_rows += rows
            ends_file = file_rows >= self.max_records
            if ends_file or step_rows >= CHUNK_ROWS or index + 1 - start >= CHUNK_REQUESTS:
                yield batches[start : index + 1], ends_file
                start, step_rows = index + 1, 0
                if ends_file:
                    file_rows = 0
        if start < len(batches):
            yield batches[start:], False

    def encode(self, batches: list[Batch]) -> Encoded:
        """All of `batches` encoded at once (`drain`; the flush task encodes step by step)."""
        return [(encode_predictions(step), ends_file) for step, ends_file in self.steps(batches)]

    def write(self, encoded: Encoded, labels: list[tuple[str, int, float]]) -> int:
        """Write encoded predictions and labels as capture files (blocking; a worker thread); returns
        the number of files written."""
        files = 0
        for lines, ends_file in encoded:
            self.predictions.add_dicts([{"lines": lines}])
            if ends_file and self.predictions.flush() is not None:
                files += 1
        if labels:
            self.labels.add_dicts(
                [
                    {"request_id": request_id, "time": stamp, "label": label}
                    for request_id, label, stamp in labels
                ]
            )
        files += self.predictions.flush() is not None
        files += self.labels.flush() is not None
        return files

    def drain(self, taken: Taken) -> int:
        """Encode and write what `take` returned (blocking: shutdown); returns the records written."""
        batches, labels = taken
        self.write(self.encode(batches), labels)
        return sum(len(batch[4]) for batch in batches) + len(labels)
