"""The monitor's memory between cycles and restarts: one JSON file, replaced atomically.

It holds the drift window's position (capture files written before `window_since_ns` have been
judged), the retrain in flight and the last trigger time (the cooldown), and the drift episode. A crash
between two writes repeats at most the last cycle; it never skips captured data.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FORMAT = 1


@dataclass
class RetrainState:
    """A retrain the monitor started, as far as it knows."""

    trigger: str
    started: float
    reason: str
    champion_version: str | None
    handle: dict[str, Any] = field(default_factory=dict)
    """What the trigger needs to follow it up (`pid`, or the Job's namespace/name)."""
    finished: float | None = None
    outcome: str | None = None
    """`succeeded`, `failed`, `timed_out` or `unknown` once finished."""
    exit_code: int | None = None
    detail: str = ""
    reported: bool = False
    """Whether a `drift_checked` event has carried its outcome yet."""


@dataclass
class MonitorState:
    """Everything the monitor must remember."""

    window_since_ns: int = 0
    windows_judged: int = 0
    last_trigger_time: float | None = None
    episode_started: float | None = None
    """Start of the current drift episode (consecutive drifted windows); None when there is none."""
    episode_windows: int = 0
    retrain: RetrainState | None = None
    last_cycle: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the format number."""
        return {"format": STATE_FORMAT, **asdict(self)}


def load_state(path: Path) -> MonitorState:
    """The saved state, or a fresh one when the file does not exist yet.

    Raises:
        ValueError: the file exists but is not a state this version wrote.
    """
    if not path.exists():
        return MonitorState()
    try:
        raw = json.loads(path.read_text())
        if raw.pop("format", None) != STATE_FORMAT:
            raise ValueError(f"unknown state format (expected {STATE_FORMAT})")
        retrain = raw.pop("retrain", None)
        return MonitorState(**raw, retrain=None if retrain is None else RetrainState(**retrain))
    except (json.JSONDecodeError, TypeError, ValueError) as error:
        raise ValueError(f"unreadable monitoring state {path}: {error}") from error


def save_state(path: Path, state: MonitorState) -> None:
    """Write the state to a temporary file, fsync it, then rename it over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w") as handle:
        json.dump(state.to_dict(), handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
