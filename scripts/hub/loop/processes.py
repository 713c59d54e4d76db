"""Child processes the loop starts, watches and stops, and the one-line failures of a step.

Every child starts in its own session, so it leads its own process group (pgid == pid): stopping it
sends SIGTERM to that group (the MLflow server forks uvicorn and job runners; a retrain started by the
monitor may still run), waits, then SIGKILLs the group. The leader is only reaped after the group is
signalled, so its pid (and with it the group id) cannot be reused while we still signal it.
"""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "ftp_proxy")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


class StepFailedError(Exception):
    """A scenario step did not reach its goal; the message is one line naming the step and what was seen."""

    def __init__(self, step: str, message: str) -> None:
        """`message` is folded onto one line."""
        self.step = step
        super().__init__(f"step '{step}' failed: {' '.join(message.split())}")


def one_line(text: str, limit: int = 300) -> str:
    """`text` folded onto one line and cut to `limit` characters."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def child_environment(extra: Mapping[str, str], *, threads: int = 1) -> dict[str, str]:
    """The loop's environment for a child: no proxies, telemetry off, few BLAS threads, plus `extra`."""
    environment = {key: value for key, value in os.environ.items() if key.lower() not in PROXY_VARIABLES}
    environment.update(
        {
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "GIT_PYTHON_REFRESH": "quiet",
            "PYTHONUNBUFFERED": "1",
            **dict.fromkeys(THREAD_VARIABLES, str(threads)),
        }
    )
    environment.update(extra)
    return environment


def last_line(path: Path) -> str:
    """The last non-empty line of a log file, or '' (what a one-line failure quotes)."""
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 8192))
            lines = [line for line in log.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return one_line(lines[-1], 200) if lines else ""


@dataclass
class ManagedProcess:
    """One child, the leader of its own process group, logging to `log_path`."""

    name: str
    popen: "subprocess.Popen[bytes]"
    log_path: Path
    service: bool = True
    """True for a server that must stay up; False for a Job that runs to completion."""
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """The child's pid, which is also its process group id."""
        return self.popen.pid

    def exit_code(self) -> int | None:
        """The exit status if the child has exited, else None; never reaps (see the module docstring)."""
        if self.popen.returncode is not None:
            return self.popen.returncode
        try:
            status = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return self.popen.wait()
        if status is None:
            return None
        return status.si_status if status.si_code == os.CLD_EXITED else -status.si_status

    def describe_exit(self) -> str:
        """`<name> exited with code N (log: <last line>)`."""
        code = self.exit_code()
        tail = last_line(self.log_path)
        return f"{self.name} (pid {self.pid}) exited with code {code}" + (
            f"; last log line: {tail}" if tail else f"; log: {self.log_path}"
        )

    def signal_group(self, signum: int) -> None:
        """Send `signum` to the child's process group (nothing if it is gone)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def stop(self, grace_s: float = 10.0) -> int:
        """SIGTERM the group, wait up to `grace_s`, SIGKILL what is left; returns the exit status."""
        if self.popen.returncode is not None:
            return self.popen.returncode
        if self.exit_code() is None:
            self.signal_group(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while self.exit_code() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        # The leader is a zombie or still running here, so the group id is still ours to signal.
        self.signal_group(signal.SIGKILL)
        return self.popen.wait()


class ProcessManager:
    """Starts children in their own process groups and stops every one of them, newest first."""

    def __init__(self, log_dir: Path) -> None:
        """Each child's stdout and stderr go to `<log_dir>/<name>.log`."""
        self.log_dir = log_dir
        self.children: list[ManagedProcess] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path | None = None,
        service: bool = True,
    ) -> ManagedProcess:
        """Start `argv` in a new session (its own process group); returns at once."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env),
                cwd=cwd,
                start_new_session=True,
            )
        child = ManagedProcess(name=name, popen=popen, log_path=log_path, service=service)
        self.children.append(child)
        return child

    def run_job(
        self,
        step: str,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        timeout_s: float,
        on_tick: Callable[[], None] | None = None,
    ) -> ManagedProcess:
        """Run a child to completion (a Job); raises StepFailedError on a non-zero exit or a timeout."""
        child = self.start(name, argv, env=env, service=False)
        deadline = time.monotonic() + timeout_s
        while child.exit_code() is None:
            if time.monotonic() > deadline:
                child.stop(grace_s=2.0)
                self.children.remove(child)
                raise StepFailedError(
                    step,
                    f"{name} still running after {timeout_s:.0f} s (stopped); "
                    f"last log line: {last_line(child.log_path) or '(none)'}",
                )
            if on_tick is not None:
                on_tick()
            time.sleep(0.1)
        code = child.stop()
        self.children.remove(child)
        if code != 0:
            raise StepFailedError(step, child.describe_exit())
        return child

    def check_alive(self, step: str) -> None:
        """Raise StepFailedError when a long-running child has died."""
        for child in self.children:
            if child.service and child.exit_code() is not None:
                raise StepFailedError(step, child.describe_exit())

    def stop_all(self, grace_s: float = 10.0) -> dict[str, float]:
        """Stop every child: SIGTERM to every group at once (their shutdowns overlap), one shared grace
        period, then SIGKILL to whatever group is left. Returns each child's seconds to exit."""
        children, self.children = self.children, []
        started = time.monotonic()
        for child in children:
            if child.exit_code() is None:
                child.signal_group(signal.SIGTERM)
        deadline = started + grace_s
        took: dict[str, float] = {}
        while time.monotonic() < deadline:
            for child in children:
                if child.name not in took and child.exit_code() is not None:
                    took[child.name] = time.monotonic() - started
            if len(took) == len(children):
                break
            time.sleep(0.05)
        for child in children:
            took.setdefault(child.name, time.monotonic() - started)
            with contextlib.suppress(OSError):
                child.stop(grace_s=0.0)
        return took


def wait_until(
    step: str,
    condition: Callable[[], T | None],
    *,
    timeout_s: float,
    seen: Callable[[], str],
    tick: Callable[[], None] | None = None,
    poll_s: float = 0.2,
) -> T:
    """Poll `condition` until it returns something other than None or False; on timeout raise
    StepFailedError naming the step, the wait and `seen()` (what was observed instead)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if tick is not None:
            tick()
        result = condition()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise StepFailedError(step, f"timed out after {timeout_s:.0f} s; seen: {seen()}")
        time.sleep(poll_s)
