"""Retrain triggers: a real subprocess for CommandTrigger, a documented fake Batch API for CronJobTrigger."""

import shlex
import sys
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from monitoring.triggers import (
    CommandTrigger,
    CronJobTrigger,
    RetrainOutcome,
    job_from_cronjob,
    manual_job_name,
)


def _python(code: str) -> str:
    return shlex.join([sys.executable, "-c", code])


def test_command_trigger_runs_the_command_with_the_reason(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    code = f"import os, pathlib; pathlib.Path({str(marker)!r}).write_text(os.environ['RETRAIN_REASON'])"
    trigger = CommandTrigger(_python(code), tmp_path / "logs")

    started = time.time()
    handle = trigger.start("drift in 8 of 8 features", "3")
    status = trigger.wait(handle, started=started, timeout_s=30)

    assert status.outcome is RetrainOutcome.SUCCEEDED and status.exit_code == 0
    assert marker.read_text() == "drift in 8 of 8 features"
    assert handle["argv"][0] == sys.executable and isinstance(handle["pid"], int)
    assert Path(handle["log"]).exists()


def test_command_trigger_reports_a_failure_and_stops_an_overdue_command(tmp_path: Path) -> None:
    trigger = CommandTrigger(_python("raise SystemExit(3)"), tmp_path)
    failed = trigger.start("r", None)
    assert trigger.wait(failed, started=time.time(), timeout_s=30).exit_code == 3

    slow = CommandTrigger(_python("import time; time.sleep(60)"), tmp_path)
    started = time.time()
    handle = slow.start("r", None)
    assert slow.poll(handle, started=started, timeout_s=30).outcome is RetrainOutcome.RUNNING
    status = slow.wait(handle, started=started, timeout_s=0.3)
    assert status.outcome is RetrainOutcome.TIMED_OUT
    assert time.time() - started < 10


def test_a_command_from_before_a_restart_is_followed_by_pid_only(tmp_path: Path) -> None:
    first = CommandTrigger(_python("pass"), tmp_path)
    handle = first.start("r", None)
    first.wait(handle, started=time.time(), timeout_s=30)

    restarted = CommandTrigger(_python("pass"), tmp_path)
    status = restarted.poll(handle, started=time.time(), timeout_s=30)
    assert status.outcome is RetrainOutcome.UNKNOWN


class FakeBatchV1Api:
    """A FAKE of the three `kubernetes.client.BatchV1Api` methods CronJobTrigger calls, for tests only.

    It holds one CronJob and the Jobs created, returns real `kubernetes.client` model objects, and
    records each create body as given. It implements no API-server behaviour (no defaulting,
    validation, admission, owner garbage collection or controllers); a test sets Job conditions itself.
    """

    def __init__(self, cronjob: client.V1CronJob) -> None:
        self.cronjob: Any = cronjob
        self.created: list[Any] = []
        self.conditions: dict[str, list[client.V1JobCondition]] = {}

    def read_namespaced_cron_job(self, name: str, namespace: str) -> Any:
        assert (name, namespace) == (self.cronjob.metadata.name, self.cronjob.metadata.namespace)
        return self.cronjob

    def create_namespaced_job(self, namespace: str, body: Any) -> Any:
        assert namespace == body.metadata.namespace
        self.created.append(body)
        return body

    def read_namespaced_job_status(self, name: str, namespace: str) -> client.V1Job:
        job = next(j for j in self.created if j.metadata.name == name and j.metadata.namespace == namespace)
        return client.V1Job(
            metadata=job.metadata, status=client.V1JobStatus(conditions=self.conditions.get(name))
        )


def _training_cronjob() -> client.V1CronJob:
    return client.V1CronJob(
        api_version="batch/v1",
        kind="CronJob",
        metadata=client.V1ObjectMeta(name="training", namespace="ml", uid="0b7f-uid"),
        spec=client.V1CronJobSpec(
            schedule="0 3 * * *",
            suspend=True,
            job_template=client.V1JobTemplateSpec(
                metadata=client.V1ObjectMeta(
                    labels={"app.kubernetes.io/name": "training"}, annotations={"team": "fraud"}
                ),
                spec=client.V1JobSpec(
                    backoff_limit=1,
                    template=client.V1PodTemplateSpec(
                        spec=client.V1PodSpec(
                            restart_policy="Never",
                            containers=[
                                client.V1Container(
                                    name="training", image="registry/training:1", args=["--data", "/data"]
                                )
                            ],
                        )
                    ),
                ),
            ),
        ),
    )


def test_cronjob_trigger_creates_the_job_kubectl_would(monkeypatch: Any) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_790_000_000.0)
    api = FakeBatchV1Api(_training_cronjob())
    trigger = CronJobTrigger("ml", "training", api=api)

    handle = trigger.start("drift", "3")

    assert handle == {"namespace": "ml", "job": "training-retrain-1790000000", "cronjob": "training"}
    body = client.ApiClient().sanitize_for_serialization(api.created[0])  # type: ignore[no-untyped-call]
    assert body == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "training-retrain-1790000000",
            "namespace": "ml",
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual", "team": "fraud"},
            "labels": {"app.kubernetes.io/name": "training"},
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": "training",
                    "uid": "0b7f-uid",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "backoffLimit": 1,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "training", "image": "registry/training:1", "args": ["--data", "/data"]}
                    ],
                }
            },
        },
    }
    assert trigger.poll(handle, started=1_790_000_000.0, timeout_s=60).outcome is RetrainOutcome.RUNNING
    api.conditions["training-retrain-1790000000"] = [client.V1JobCondition(type="Complete", status="True")]
    assert trigger.poll(handle, started=1_790_000_000.0, timeout_s=60).outcome is RetrainOutcome.SUCCEEDED


def test_job_names_fit_the_label_limit_and_template_annotations_win() -> None:
    name = manual_job_name("a" * 60, 1_790_000_000.0)
    assert len(name) <= 63 and name.endswith("-retrain-1790000000")
    cronjob: Any = _training_cronjob()
    cronjob.spec.job_template.metadata.annotations = {"cronjob.kubernetes.io/instantiate": "custom"}
    assert job_from_cronjob(cronjob, "x").metadata.annotations == {
        "cronjob.kubernetes.io/instantiate": "custom"
    }
