"""One JSON object per log line on stderr, the shape Cloud Logging, CloudWatch and Azure Monitor parse.

Shared by the three lifecycle workloads (stdout carries events and summaries, never logs).
"""

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, TextIO

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...extra}`; `extra=` keys become fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a JSON line."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in record.__dict__.items() if key not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _CurrentStderr(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time, so a replaced stream (tests) is followed."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(loggers: Sequence[str], level: str = "INFO", *, quiet: Sequence[str] = ()) -> None:
    """Send `loggers`' records to stderr as JSON lines and raise `quiet` loggers to WARNING (idempotent)."""
    for name in loggers:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        if not any(isinstance(handler.formatter, JsonFormatter) for handler in logger.handlers):
            handler = _CurrentStderr()
            handler.setFormatter(JsonFormatter())
            logger.addHandler(handler)
        logger.propagate = False
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.WARNING)
