"""Every decision of the lifecycle as a structured event: `{"type", "time", "details"}`.

Workloads append events as JSON lines (one `write` per event, flushed and fsynced, so a crash loses
at most the event being written and never corrupts earlier ones); `hub loop` collects them into
`{"events": [...]}`. On a cluster the same lines go to stdout, where the log pipeline picks them up.
"""

import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO


class EventType(StrEnum):
    """The decisions and observations the lifecycle records."""

    DATA_QUARANTINED = "data_quarantined"
    MODEL_TRAINED = "model_trained"
    MODEL_REGISTERED = "model_registered"
    MODEL_PROMOTED = "model_promoted"
    MODEL_NOT_PROMOTED = "model_not_promoted"
    MODEL_RELOADED = "model_reloaded"
    MODEL_LOAD_FAILED = "model_load_failed"
    DRIFT_CHECKED = "drift_checked"
    DRIFT_DETECTED = "drift_detected"
    QUALITY_CHECKED = "quality_checked"
    RETRAIN_TRIGGERED = "retrain_triggered"
    MODEL_ROLLED_BACK = "model_rolled_back"
    EXTRACTION_SUSPECTED = "extraction_suspected"
    DEPENDENCY_UNAVAILABLE = "dependency_unavailable"


@dataclass(frozen=True)
class Event:
    """One decision with its reason and evidence in `details`."""

    type: EventType
    details: Mapping[str, Any] = field(default_factory=dict)
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def to_json(self) -> str:
        """The event as one JSON line (no trailing newline)."""
        return json.dumps(
            {"type": self.type.value, "time": self.time, "details": dict(self.details)},
            default=str,
            sort_keys=False,
        )

    @classmethod
    def from_json(cls, line: str) -> "Event":
        """Parse one line written by `to_json`; raises ValueError naming what is wrong."""
        try:
            raw = json.loads(line)
            return cls(type=EventType(raw["type"]), time=str(raw["time"]), details=dict(raw["details"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not an event line ({error}): {line[:120]!r}") from error


class EventLog:
    """Append-only JSON-lines file of events, safe to share between threads and processes."""

    def __init__(self, path: Path | None, *, echo: TextIO | None = None) -> None:
        """`path=None` only echoes (the cluster case: stdout is the log); `echo` mirrors each line."""
        self.path = path
        self._echo = echo
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def emit(self, event_type: EventType, **details: Any) -> Event:
        """Record one event and return it."""
        event = Event(event_type, details)
        line = event.to_json() + "\n"
        with self._lock:
            if self.path is not None:
                # O_APPEND makes each single write land whole at the end, even from several processes.
                descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(descriptor, line.encode())
                    os.fsync(descriptor)
                finally:
                    os.close(descriptor)
            if self._echo is not None:
                self._echo.write(line)
                self._echo.flush()
        return event


def read_events(path: Path) -> Iterator[Event]:
    """Events of a log in the order written; a torn last line (a crash mid-write) is skipped."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Event.from_json(line)
        except ValueError:
            if number == len(lines):
                return
            raise
