"""The lifecycle's events as the loop sees them: tailed from every workload's log, merged, checked.

Each workload appends `{"type", "time", "details"}` JSON lines to its own file (lifecycle.events);
the loop adds its own scenario events (`drift_injected`, `worse_model_injected`, the hand-made
`model_promoted`) in the same format. Types are plain strings here: the loop's own types are not
part of the workloads' `EventType`, and an unknown type from a newer workload must not break the loop.
"""

import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODEL_TRAINED = "model_trained"
MODEL_REGISTERED = "model_registered"
MODEL_PROMOTED = "model_promoted"
MODEL_NOT_PROMOTED = "model_not_promoted"
DRIFT_CHECKED = "drift_checked"
QUALITY_CHECKED = "quality_checked"
DRIFT_DETECTED = "drift_detected"
RETRAIN_TRIGGERED = "retrain_triggered"
MODEL_ROLLED_BACK = "model_rolled_back"
MODEL_RELOADED = "model_reloaded"
DRIFT_INJECTED = "drift_injected"
WORSE_MODEL_INJECTED = "worse_model_injected"
LOOP_SOURCE = "loop"

REQUIRED_ORDER: tuple[str, ...] = (
    MODEL_TRAINED,
    MODEL_REGISTERED,
    MODEL_PROMOTED,
    DRIFT_DETECTED,
    RETRAIN_TRIGGERED,
    MODEL_TRAINED,
    MODEL_REGISTERED,
    MODEL_PROMOTED,
    MODEL_ROLLED_BACK,
)
"""The decisions a full loop must show, in this order, taken by the workloads themselves (the loop's
own hand-made promotion does not count)."""


def now_iso() -> str:
    """The current time as lifecycle.events writes it (UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def parse_time(value: Any) -> datetime:
    """An event time (ISO 8601, or epoch seconds) as an aware UTC datetime."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LoopEvent:
    """One event and the log it came from (`training`, `serving`, `monitoring` or `loop`)."""

    type: str
    time: str
    details: Mapping[str, Any]
    source: str

    @property
    def at(self) -> datetime:
        """`time` parsed."""
        return parse_time(self.time)

    def to_dict(self) -> dict[str, Any]:
        """The merged log's form: the workloads' three keys plus `source`."""
        return {"type": self.type, "time": self.time, "details": dict(self.details), "source": self.source}


def parse_line(line: str, source: str) -> LoopEvent | None:
    """One JSON line as an event, or None when it is not one (a workload's stray log line)."""
    try:
        raw = json.loads(line)
        if not isinstance(raw, dict) or "type" not in raw or "time" not in raw:
            return None
        parse_time(raw["time"])
        details = raw.get("details") or {}
        return LoopEvent(
            type=str(raw["type"]),
            time=str(raw["time"]),
            details=details if isinstance(details, dict) else {"value": details},
            source=source,
        )
    except (json.JSONDecodeError, TypeError, ValueError):
        return None


@dataclass
class EventCollector:
    """Tails `<directory>/<source>.jsonl` files, returning only complete new lines on each poll."""

    directory: Path
    events: list[LoopEvent] = field(default_factory=list)
    _offsets: dict[Path, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def path_for(self, source: str) -> Path:
        """The events file a workload (or the loop) writes."""
        return self.directory / f"{source}.jsonl"

    def poll(self) -> list[LoopEvent]:
        """New events since the last poll, in file order per source."""
        fresh: list[LoopEvent] = []
        with self._lock:
            for path in sorted(self.directory.glob("*.jsonl")):
                offset = self._offsets.get(path, 0)
                with path.open("rb") as log:
                    log.seek(offset)
                    chunk = log.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]
                self._offsets[path] = offset + len(complete)
                for line in complete.decode(errors="replace").splitlines():
                    event = parse_line(line, path.stem) if line.strip() else None
                    if event is not None:
                        fresh.append(event)
            self.events.extend(fresh)
        return fresh

    def emit(self, event_type: str, **details: Any) -> LoopEvent:
        """Append one of the loop's own events (same format and atomic append as lifecycle.events)."""
        event = LoopEvent(type=event_type, time=now_iso(), details=details, source=LOOP_SOURCE)
        line = json.dumps({"type": event.type, "time": event.time, "details": details}, default=str) + "\n"
        self.directory.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path_for(LOOP_SOURCE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(descriptor, line.encode())
        finally:
            os.close(descriptor)
        return event

    def after(self, start: datetime, event_type: str, *, source: str | None = None) -> list[LoopEvent]:
        """Collected events of a type at or after `start`, optionally from one source."""
        return [
            e
            for e in self.events
            if e.type == event_type and e.at >= start and (source is None or e.source == source)
        ]


def merged(events: Iterable[LoopEvent]) -> list[LoopEvent]:
    """Events sorted by time; ties keep their collection order (stable sort)."""
    return sorted(events, key=lambda event: event.at)


def write_events(events: Iterable[LoopEvent], path: Path) -> None:
    """`{"events": [...]}`, sorted by time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"events": [event.to_dict() for event in merged(events)]}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class OrderCheck:
    """Whether `REQUIRED_ORDER` appears, in order, among the workloads' events."""

    matched: tuple[LoopEvent, ...]
    required: tuple[str, ...] = REQUIRED_ORDER

    @property
    def ok(self) -> bool:
        """Every required event was found in order."""
        return len(self.matched) == len(self.required)

    @property
    def missing(self) -> str | None:
        """The first required event not found after the ones matched, or None."""
        return None if self.ok else self.required[len(self.matched)]

    def describe(self) -> str:
        """One line: the chain as matched, and what is missing."""
        chain = " → ".join(f"{e.type} ({e.source})" for e in self.matched) or "nothing"
        if self.ok:
            return f"order holds: {chain}"
        position = len(self.matched) + 1
        return (
            f"order broken: matched {chain}; missing {self.missing} (step {position} of {len(self.required)})"
        )


def check_order(events: Sequence[LoopEvent], required: Sequence[str] = REQUIRED_ORDER) -> OrderCheck:
    """Greedy in-order match of `required` against the time-sorted workload events."""
    matched: list[LoopEvent] = []
    for event in merged(e for e in events if e.source != LOOP_SOURCE):
        if len(matched) < len(required) and event.type == required[len(matched)]:
            matched.append(event)
    return OrderCheck(matched=tuple(matched), required=tuple(required))
