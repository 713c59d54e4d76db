"""Running `python -m training` in-process and reading what it left behind."""

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifecycle.events import Event, read_events
from training.cli import main


@dataclass(frozen=True)
class Outcome:
    """Exit code, the stdout lines and stderr of one run."""

    code: int
    stdout: list[str]
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        """The JSON summary: the last stdout line."""
        assert self.stdout, f"no stdout; stderr: {self.stderr}"
        parsed: dict[str, Any] = json.loads(self.stdout[-1])
        return parsed


def train(arguments: Sequence[str]) -> Outcome:
    """`main(arguments)` with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(arguments))
    return Outcome(code, out.getvalue().splitlines(), err.getvalue())


def events_of(path: Path) -> list[Event]:
    """Every event written to `path`."""
    return list(read_events(path))


class TrackingServer:
    """`mlflow server` on a free loopback port with one worker, in its own process group (it forks
    uvicorn), stopped by that group's id: the process it started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = directory / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Launch without waiting (start-up takes several seconds: overlap it with other work)."""
        with self._log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("mlflow")),
                    "server",
                    "--backend-store-uri",
                    f"sqlite:///{self.directory / 'server.db'}",
                    "--artifacts-destination",
                    str(self.directory / "artifacts"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    "1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"},
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 120.0) -> str:
        """Block until `/health` answers; returns the URL."""
        if self._process is None:
            self.start()
        assert self._process is not None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return self.url
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start: {self._log_path.read_text()[-2000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it lingers."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=5)
