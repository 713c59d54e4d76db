"""Prediction capture: what serving answered, and the labels that arrive later, as JSON-lines files.

Serving buffers records in memory and writes them in whole files (`<prefix>-<time>-<uuid>.jsonl`,
written to a temporary name then renamed, so a reader never sees half a file); the monitor reads every
file newer than its last window. A local directory by default; on a cluster it is a volume the
monitoring CronJob also mounts (or a bucket synced to one).
"""

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREDICTIONS: str = "predictions"
LABELS: str = "labels"


@dataclass(frozen=True)
class PredictionRecord:
    """One served row: its features, the score and label given, and the model version that gave them."""

    request_id: str
    time: float
    model_version: str
    features: Sequence[float]
    score: float
    prediction: int
    api_key_id: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "request_id": self.request_id,
            "time": self.time,
            "model_version": self.model_version,
            "features": list(self.features),
            "score": self.score,
            "prediction": self.prediction,
            "api_key_id": self.api_key_id,
        }


@dataclass(frozen=True)
class LabelRecord:
    """The ground truth for a served row, reported later by the caller."""

    request_id: str
    time: float
    label: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"request_id": self.request_id, "time": self.time, "label": self.label}


class CaptureWriter:
    """Buffers records and writes them as whole files; thread-safe, cheap on the request path."""

    def __init__(
        self,
        directory: Path,
        prefix: str,
        *,
        max_records: int = 1000,
        encode: Callable[[Mapping[str, Any]], bytes] | None = None,
    ) -> None:
        """Records are flushed every `max_records`, and on `flush()` (call it periodically and at exit).

        `encode` turns one record into its JSON line without the newline (e.g. `orjson.dumps`, 20x
        faster than the default `json.dumps`); it must produce the same JSON.
        """
        if prefix not in (PREDICTIONS, LABELS):
            raise ValueError(f"capture prefix must be {PREDICTIONS!r} or {LABELS!r}, got {prefix!r}")
        self.directory = directory
        self.prefix = prefix
        self.max_records = max_records
        self._encode = encode
        self._buffer: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    def add(self, record: PredictionRecord | LabelRecord) -> None:
        """Queue one record; writes a file when the buffer is full."""
        with self._lock:
            self._buffer.append(record.to_dict())
            full = len(self._buffer) >= self.max_records
        if full:
            self.flush()

    def add_dicts(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Queue many records already in `to_dict()` form in one lock round (a whole batch of a server
        that builds its records off the request path); writes a file when the buffer is full."""
        with self._lock:
            self._buffer.extend(records)
            full = len(self._buffer) >= self.max_records
        if full:
            self.flush()

    def flush(self) -> Path | None:
        """Write the buffered records as one file; returns its path, or None when there was nothing."""
        with self._lock:
            records, self._buffer = self._buffer, []
        if not records:
            return None
        name = f"{self.prefix}-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
        final = self.directory / name
        partial = self.directory / f".{name}.partial"
        if self._encode is None:
            partial.write_text("".join(json.dumps(record) + "\n" for record in records))
        else:
            encode = self._encode
            partial.write_bytes(b"".join(encode(record) + b"\n" for record in records))
        os.replace(partial, final)
        return final


def read_capture(directory: Path, prefix: str, *, since_ns: int = 0) -> Iterator[dict[str, Any]]:
    """Records of every complete capture file written at or after `since_ns`, oldest file first."""
    if not directory.exists():
        return
    for path in sorted(directory.glob(f"{prefix}-*.jsonl")):
        written_ns = int(path.name.split("-")[1])
        if written_ns < since_ns:
            continue
        with path.open() as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)
