"""What the monitor does about drift: start a retrain, then follow it up on later cycles.

`CommandTrigger` runs a command line locally (what `hub loop` uses); `CronJobTrigger` creates a Job
from a CronJob's jobTemplate, as `kubectl create job --from=cronjob/<name>` does (what a cluster uses:
the training CronJob stays suspended and runs only when drift calls for it).
"""

import contextlib
import os
import shlex
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"
JOB_NAME_LIMIT = 63
"""A Job's name becomes the value of its pods' `job-name` label, which allows 63 characters."""


class RetrainOutcome(StrEnum):
    """Where a retrain stands."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    UNKNOWN = "unknown"
    """It has ended but its result cannot be known (a command started before a monitor restart)."""


@dataclass(frozen=True)
class RetrainStatus:
    """A follow-up of a retrain."""

    outcome: RetrainOutcome
    exit_code: int | None = None
    detail: str = ""


class TriggerError(RuntimeError):
    """The retrain could not be started (the reason is the message)."""


class RetrainTrigger(Protocol):
    """Starts a retrain and reports on it; implementations keep no state the monitor cannot persist."""

    @property
    def kind(self) -> str:
        """`command`, `cronjob` or `none`."""
        ...

    def start(self, reason: str, champion_version: str | None) -> dict[str, Any]:
        """Start a retrain; returns the JSON-ready handle `poll` needs later.

        Raises:
            TriggerError: it could not be started.
        """
        ...

    def poll(self, handle: Mapping[str, Any], *, started: float, timeout_s: float) -> RetrainStatus:
        """Where the retrain of `handle` stands; stops (or gives up on) one older than `timeout_s`."""
        ...

    def wait(self, handle: Mapping[str, Any], *, started: float, timeout_s: float) -> RetrainStatus:
        """`--once` mode: wait for a local retrain to end; a cluster Job is only polled."""
        ...


class NoTrigger:
    """Drift is reported, nothing is started (no `RETRAIN_COMMAND` or `RETRAIN_CRONJOB` set)."""

    kind = "none"

    def start(self, reason: str, champion_version: str | None) -> dict[str, Any]:
        """Never called: the monitor does not trigger without a trigger."""
        raise TriggerError("no retrain trigger configured")

    def poll(self, handle: Mapping[str, Any], *, started: float, timeout_s: float) -> RetrainStatus:
        """Nothing ever runs."""
        return RetrainStatus(RetrainOutcome.UNKNOWN)

    def wait(self, handle: Mapping[str, Any], *, started: float, timeout_s: float) -> RetrainStatus:
        """Nothing ever runs."""
        return RetrainStatus(RetrainOutcome.UNKNOWN)


class CommandTrigger:
    """Runs a command line (split like a POSIX shell, run without one) in the background.

    The child's output goes to a log file beside the monitor's state. A child started by this process is
    followed by its exit code; one started before a restart can only be followed by its PID (finished,
    result unknown) and is never signalled, since its PID may by now belong to someone else.
    """

    kind = "command"

    def __init__(self, command: str, log_dir: Path) -> None:
        """`command` is parsed now, so a malformed line fails at start-up, not on the first drift."""
        self.argv = shlex.split(command)
        if not self.argv:
            raise ValueError("retrain command is empty")
        self.log_dir = log_dir
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, reason: str, champion_version: str | None) -> dict[str, Any]:
        """Spawn the command; its environment also carries `RETRAIN_REASON` and `RETRAIN_CHAMPION_VERSION`."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"retrain-{time.time_ns()}.log"
        environment = {
            **os.environ,
            "RETRAIN_REASON": reason,
            "RETRAIN_CHAMPION_VERSION": champion_version or "",
        }
        try:
            with log_path.open("wb") as log:
                child = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=environment
                )
        except OSError as error:
            raise TriggerError(f"cannot run {self.argv[0]!r}: {error}") from error
        self._children[child.pid] = child
        return {"pid": child.pid, "argv": self.argv, "log": str(log_path)}

    def poll(self, handle: Mapping[str, Any], *, started: float, timeout_s: float) -> RetrainStatus:
        """Exit code of our own child; liveness only for a PID from before a restart."""
        pid = int(handle["pid"])
        child = self._children.get(pid)
        overdue = time.time() - started > timeout_s
        if child is not None:
            code = child.poll()
            if code is None and overdue:
                child.kill()
                child.wait()
                del self._children[pid]
                return RetrainStatus(
                    RetrainOutcome.TIMED_OUT, child.returncode, f"killed after {timeout_s:.0f} s"
                )
            if code is None:
                return RetrainStatus(RetrainOutcome.RUNNING)
            del self._children[pid]
            return RetrainStatus(RetrainOutcome.SUCCEEDED if code == 0 else RetrainOutcome.FAILED, code)
        if _alive(pid):
            if overdue:
                return RetrainStatus(RetrainOutcome.TIMED_OUT, None, "started before a restart; left running")
            return RetrainStatus(RetrainOutcome.RUNNING)
        return RetrainStatus(RetrainOutcome.UNKNOWN, None, "started before a restart; its exit code is lost")

    def wait(self, handle: Mapping[str, Any], *, started: float, timeout_s: float) -> RetrainStatus:
        """Block until the command ends or times out (the `--once` mode, which has no later cycle)."""
        child = self._children.get(int(handle["pid"]))
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=max(0.0, started + timeout_s - time.time()))
        return self.poll(handle, started=started, timeout_s=timeout_s)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A zombie still answers signal 0; on Linux its state letter says it has ended.
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


class BatchApi(Protocol):
    """The three `kubernetes.client.BatchV1Api` methods the trigger uses."""

    def read_namespaced_cron_job(self, name: str, namespace: str) -> Any:
        """GET the CronJob."""
        ...

    def create_namespaced_job(self, namespace: str, body: Any) -> Any:
        """POST a Job."""
        ...

    def read_namespaced_job_status(self, name: str, namespace: str) -> Any:
        """GET the Job's status."""
        ...


def job_from_cronjob(cronjob: Any, job_name: str) -> Any:
    """The Job `kubectl create job <job_name> --from=cronjob/<name>` creates.

    Like kubectl: the jobTemplate's labels and spec, its annotations over
    `cronjob.kubernetes.io/instantiate: manual`, and a controller ownerReference to the CronJob without
    `blockOwnerDeletion` (which would also need RBAC on `cronjobs/finalizers`).
    """
    from kubernetes import client  # noqa: PLC0415

    template = cronjob.spec.job_template
    template_metadata = template.metadata
    annotations = {INSTANTIATE_ANNOTATION: "manual"}
    if template_metadata is not None and template_metadata.annotations:
        annotations.update(template_metadata.annotations)
    return client.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=client.V1ObjectMeta(
            name=job_name,
            namespace=cronjob.metadata.namespace,
            annotations=annotations,
            labels=None if template_metadata is None else template_metadata.labels,
            owner_references=[
                client.V1OwnerReference(
                    api_version="batch/v1",
                    kind="CronJob",
                    name=cronjob.metadata.name,
                    uid=cronjob.metadata.uid,
                    controller=True,
                )
            ],
        ),
        spec=template.spec,
    )


def manual_job_name(cronjob_name: str, now: float) -> str:
    """`<cronjob>-retrain-<unix seconds>`, the CronJob part shortened to keep within 63 characters."""
    suffix = f"-retrain-{int(now)}"
    return cronjob_name[: JOB_NAME_LIMIT - len(suffix)].rstrip("-") + suffix


class CronJobTrigger:
    """Creates a Job from a CronJob's jobTemplate and follows it through the Job's status.

    Needs RBAC: `get` on `cronjobs`, `create` on `jobs` and `get` on `jobs/status` in the namespace.
    """

    kind = "cronjob"

    def __init__(self, namespace: str, name: str, api: BatchApi | None = None) -> None:
        """`api` defaults to a `BatchV1Api` configured in-cluster (or from the kubeconfig outside)."""
        self.namespace = namespace
        self.name = name
        self._api = api

    @property
    def api(self) -> BatchApi:
        """The Batch API client, configured on first use."""
        if self._api is None:
            from kubernetes import client, config  # noqa: PLC0415

            try:
                config.load_incluster_config()  # type: ignore[no-untyped-call]
            except config.ConfigException:
                config.load_kube_config()  # type: ignore[no-untyped-call]
            self._api = client.BatchV1Api()
        return self._api

    def start(self, reason: str, champion_version: str | None) -> dict[str, Any]:
        """Read the CronJob and create its Job."""
        try:
            cronjob = self.api.read_namespaced_cron_job(self.name, self.namespace)
            job = job_from_cronjob(cronjob, manual_job_name(self.name, time.time()))
            created = self.api.create_namespaced_job(self.namespace, job)
        except Exception as error:  # the client raises ApiException, urllib3 and config errors alike
            raise TriggerError(
                f"cannot create a Job from cronjob/{self.name} in {self.namespace}: {error}"
            ) from error
        return {"namespace": self.namespace, "job": created.metadata.name, "cronjob": self.name}

    def poll(self, handle: Mapping[str, Any], *, started: float, timeout_s: float) -> RetrainStatus:
        """The Job's Complete/Failed condition; running otherwise (overdue after `timeout_s`, left to its own deadline)."""
        try:
            job = self.api.read_namespaced_job_status(str(handle["job"]), str(handle["namespace"]))
        except Exception as error:  # noqa: BLE001 - see start()
            return RetrainStatus(RetrainOutcome.RUNNING, None, f"status unavailable: {error}")
        for condition in (job.status.conditions if job.status is not None else None) or []:
            if condition.status == "True" and condition.type == "Complete":
                return RetrainStatus(RetrainOutcome.SUCCEEDED, 0)
            if condition.status == "True" and condition.type == "Failed":
                return RetrainStatus(RetrainOutcome.FAILED, None, str(condition.reason or ""))
        if time.time() - started > timeout_s:
            return RetrainStatus(
                RetrainOutcome.TIMED_OUT, None, "the Job is still running; its activeDeadlineSeconds applies"
            )
        return RetrainStatus(RetrainOutcome.RUNNING)

    def wait(self, handle: Mapping[str, Any], *, started: float, timeout_s: float) -> RetrainStatus:
        """A training Job runs for minutes to hours: a `--once` monitor reports it and exits."""
        return self.poll(handle, started=started, timeout_s=timeout_s)


def build_trigger(command: str | None, cronjob: str | None, log_dir: Path) -> RetrainTrigger:
    """The trigger the settings select."""
    if command is not None:
        return CommandTrigger(command, log_dir)
    if cronjob is not None:
        namespace, name = cronjob.split("/", 1)
        return CronJobTrigger(namespace, name)
    return NoTrigger()
