"""`hub loop`: the process manager, the event order check, the report, and one full run end to end."""

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from scripts.hub.cli import app
from scripts.hub.loop import command, scenario
from scripts.hub.loop.processes import ProcessManager, StepFailedError, child_environment, wait_until
from scripts.hub.loop.report import ReportData, StepTiming, drift_score, render_report
from scripts.hub.loop.scenario import MARKER_FILE, LoopOptions, LoopResult, SetupError, prepare_workdir
from scripts.hub.loop.timeline import (
    REQUIRED_ORDER,
    EventCollector,
    LoopEvent,
    check_order,
    parse_line,
    write_events,
)
from scripts.hub.loop.traffic import ProbeResult, ResponseSample, percentile

REPO_ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (
        Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] if Path(f"/proc/{pid}").exists() else "X"
    )
    return state not in {"Z", "X"}


def _wait_for_file(path: Path, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")


# --- process manager -----------------------------------------------------------------------------

SPAWNER = textwrap.dedent(
    """
    import subprocess, sys, time
    grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    open(sys.argv[1], "w").write(str(grandchild.pid))
    time.sleep(120)
    """
)


def test_a_child_leads_its_own_group_and_stopping_it_ends_its_grandchildren(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path / "logs")
    pid_file = tmp_path / "grandchild.pid"
    child = manager.start(
        "spawner", [sys.executable, "-c", SPAWNER, str(pid_file)], env=child_environment({})
    )
    grandchild = int(_wait_for_file(pid_file))
    assert os.getpgid(child.pid) == child.pid != os.getpgrp()
    assert os.getpgid(grandchild) == child.pid
    assert child.exit_code() is None

    started = time.monotonic()
    code = child.stop(grace_s=5)
    assert time.monotonic() - started < 3
    assert code == -15  # SIGTERM, by its own group id
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path / "logs")
    ready = tmp_path / "ready"
    stubborn = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "open(sys.argv[1], 'w').write('1'); time.sleep(120)"
    )
    child = manager.start("stubborn", [sys.executable, "-c", stubborn, str(ready)], env=child_environment({}))
    _wait_for_file(ready)
    started = time.monotonic()
    assert child.stop(grace_s=0.5) == -9
    assert 0.4 < time.monotonic() - started < 5


def test_stop_all_stops_every_child_and_a_dead_service_is_reported_in_one_line(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path / "logs")
    sleeper = manager.start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], env=os.environ)
    crasher = manager.start(
        "crasher",
        [sys.executable, "-c", "print('listening'); print('boom: port taken'); raise SystemExit(3)"],
        env=os.environ,
    )
    deadline = time.monotonic() + 10
    while crasher.exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(StepFailedError) as caught:
        manager.check_alive("serving")
    message = str(caught.value)
    assert "\n" not in message
    assert (
        message.startswith("step 'serving' failed: crasher")
        and "code 3" in message
        and "boom: port taken" in message
    )
    manager.stop_all(grace_s=2)
    assert manager.children == []
    assert sleeper.popen.returncode is not None


def test_a_job_running_past_its_timeout_is_stopped_and_reported_in_one_line(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path / "logs")
    started = time.monotonic()
    with pytest.raises(StepFailedError) as caught:
        manager.run_job(
            "initial training",
            "training",
            [sys.executable, "-c", "print('epoch 1', flush=True); import time; time.sleep(60)"],
            env=os.environ,
            timeout_s=1.0,
        )
    assert time.monotonic() - started < 8
    message = str(caught.value)
    assert "\n" not in message
    assert "step 'initial training' failed" in message and "still running after 1 s" in message
    assert "epoch 1" in message
    assert manager.children == []


def test_a_failing_job_names_its_exit_code(tmp_path: Path) -> None:
    manager = ProcessManager(tmp_path / "logs")
    with pytest.raises(StepFailedError, match=r"training \(pid \d+\) exited with code 2; last log line: bad"):
        manager.run_job(
            "step",
            "training",
            [sys.executable, "-c", "print('bad'); raise SystemExit(2)"],
            env=os.environ,
            timeout_s=30,
        )


def test_wait_until_returns_the_value_or_fails_in_one_line_with_what_was_seen() -> None:
    values = iter([None, False, "ready"])
    assert wait_until("s", lambda: next(values), timeout_s=5, seen=lambda: "", poll_s=0.01) == "ready"
    with pytest.raises(StepFailedError) as caught:
        wait_until(
            "drift", lambda: None, timeout_s=0.1, seen=lambda: "3 drift checks,\nscore 0.1", poll_s=0.01
        )
    assert str(caught.value) == "step 'drift' failed: timed out after 0 s; seen: 3 drift checks, score 0.1"


def test_children_get_no_proxies_telemetry_off_and_few_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setenv("http_proxy", "http://proxy:3128")
    environment = child_environment({"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"})
    assert "HTTPS_PROXY" not in environment and "http_proxy" not in environment
    assert environment["MLFLOW_DISABLE_TELEMETRY"] == "true" and environment["DO_NOT_TRACK"] == "true"
    assert environment["OMP_NUM_THREADS"] == "1"
    assert environment["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"


# --- events ----------------------------------------------------------------------------------------


def event(kind: str, second: float, source: str = "training", **details: object) -> LoopEvent:
    return LoopEvent(
        kind, (T0 + timedelta(seconds=second)).isoformat(timespec="milliseconds"), details, source
    )


def full_story() -> list[LoopEvent]:
    return [
        event("model_trained", 1, version="1"),
        event("model_registered", 2, version="1"),
        event("model_promoted", 3, version="1"),
        event("model_reloaded", 5, "serving", version="1"),
        event("drift_checked", 10, "monitoring", share_drifted=0.0, drift_share=0.5),
        event("drift_injected", 12, "loop", drift=1.0),
        event("drift_checked", 14, "monitoring", share_drifted=0.875, drift_share=0.5),
        event("drift_detected", 14.001, "monitoring", share_drifted=0.875),
        event("retrain_triggered", 14.002, "monitoring"),
        event("model_trained", 20, version="2"),
        event("model_registered", 21, version="2"),
        event("model_promoted", 22, version="2"),
        event("model_trained", 30, version="3"),
        event("model_registered", 31, version="3"),
        event("model_not_promoted", 31.5, version="3"),
        event(
            "model_promoted", 32, "loop", version="3", reason="injected: manual promotion of a worse model"
        ),
        event("worse_model_injected", 32.001, "loop", version="3"),
        event("model_rolled_back", 40, "monitoring", version="2"),
    ]


def test_the_full_story_holds_the_required_order_even_when_logs_are_collected_out_of_order() -> None:
    events = full_story()
    shuffled = events[::2] + events[1::2]
    check = check_order(shuffled)
    assert check.ok, check.describe()
    assert [e.type for e in check.matched] == list(REQUIRED_ORDER)
    assert check.describe().startswith("order holds: model_trained (training)")


def test_the_loops_own_promotion_does_not_stand_in_for_a_retrain_that_was_not_promoted() -> None:
    events = [e for e in full_story() if not (e.type == "model_promoted" and e.details.get("version") == "2")]
    check = check_order(events)
    assert not check.ok
    assert check.missing == "model_promoted"
    assert "missing model_promoted (step 8 of 9)" in check.describe()


def test_a_rollback_before_the_retrain_breaks_the_order() -> None:
    events = [e for e in full_story() if e.type != "model_rolled_back"]
    events.append(event("model_rolled_back", 13, "monitoring"))
    assert check_order(events).missing == "model_rolled_back"


def test_the_collector_reads_only_complete_lines_and_merges_sources_by_time(tmp_path: Path) -> None:
    collector = EventCollector(tmp_path)
    monitoring = collector.path_for("monitoring")
    later = json.dumps({"type": "drift_detected", "time": "2026-01-01T00:00:05.000+00:00", "details": {}})
    monitoring.write_text(later + "\n" + '{"type": "retrain_trig')
    collector.path_for("training").write_text(
        json.dumps({"type": "model_trained", "time": "2026-01-01T00:00:01.000+00:00", "details": {"v": 1}})
        + "\nnot json at all\n"
    )
    assert [e.type for e in collector.poll()] == ["drift_detected", "model_trained"]
    with monitoring.open("a") as log:
        log.write('gered", "time": "2026-01-01T00:00:06.000+00:00", "details": {}}\n')
    assert [e.type for e in collector.poll()] == ["retrain_triggered"]
    collector.emit("drift_injected", drift=1.0)
    assert collector.poll()[0].source == "loop"

    out = tmp_path / "out" / "events.json"
    write_events(collector.events, out)
    document = json.loads(out.read_text())
    assert [e["type"] for e in document["events"]] == [
        "model_trained",
        "drift_detected",
        "retrain_triggered",
        "drift_injected",
    ]
    assert set(document["events"][0]) == {"type", "time", "details", "source"}
    assert parse_line('{"type": "x"}', "s") is None


# --- report ----------------------------------------------------------------------------------------


def test_the_report_is_self_contained_with_three_plots_and_every_event() -> None:
    events = full_story()
    started = T0.timestamp()
    samples = [
        ResponseSample(started + t / 2, 2.0 + (t % 7), 200, 16, "1" if t < 44 else ("2" if t < 64 else "3"))
        for t in range(90)
    ]
    samples.append(ResponseSample(started + 3, 5.0, 422, 1, None))
    data = ReportData(
        started=started,
        events=events,
        samples=samples,
        probes=[ProbeResult("no API key", 401), ProbeResult("too many rows", 422)],
        steps=[StepTiming("tracking server", 7.2, ok=True, note="MLflow at http://127.0.0.1:1")],
        order=check_order(events),
        outcome="passed",
        settings={"seed": "7"},
    )
    page = render_report(data)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 3
    assert "<?xml" not in page and "http://cdn" not in page and "<script" not in page
    for title in ("Drift per monitor check", "Client latency per", "Model version in each response"):
        assert title in page
    table = page.split("<h2>Events</h2>", 1)[1]
    assert table.count("<tr>") == len(events) + 1
    assert "injected: manual promotion of a worse model" in table
    assert "order holds" in page
    assert "malformed requests answered 5xx (or not at all)</td><td>0" in page
    assert re.search(r"v1.*v2.*v3", page, re.DOTALL)


def test_a_failed_run_reports_its_failure_and_empty_plots_do_not_break_the_page() -> None:
    data = ReportData(
        started=T0.timestamp(),
        events=[],
        samples=[],
        probes=[ProbeResult("body is not JSON", 500, "Internal Server Error")],
        steps=[StepTiming("tracking server", 120.0, ok=False)],
        order=check_order([]),
        outcome="step 'tracking server' failed: timed out after 120 s; seen: no healthy answer",
    )
    page = render_report(data)
    assert page.count("<svg") == 3
    assert "timed out after 120 s" in page and "server error" in page and "not seen" in page


def test_drift_scores_are_read_from_the_share_of_drifted_columns() -> None:
    assert drift_score({"share_drifted": 0.25, "drift_share": 0.5}) == 0.25
    assert drift_score({"drifted_columns": ["a", "b"], "columns": ["a", "b", "c", "d"]}) == 0.5
    assert drift_score({"window_rows": 10}) is None
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0


# --- command ---------------------------------------------------------------------------------------


def test_a_foreign_non_empty_workdir_is_refused_and_an_old_loop_workdir_is_emptied(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(SetupError, match="not made by hub loop"):
        prepare_workdir(foreign)
    assert (foreign / "thesis.tex").exists()

    old = tmp_path / "old"
    old.mkdir()
    (old / MARKER_FILE).write_text("")
    (old / "mlflow.db").write_text("stale")
    prepare_workdir(old)
    assert sorted(p.name for p in old.iterdir()) == [MARKER_FILE]

    result = CliRunner().invoke(app, ["loop", "--workdir", str(foreign), "--quick"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "not made by hub loop" in result.stderr


WORKLOADS_READY = all(
    importlib.util.find_spec(f"{name}.__main__") is not None for name in ("training", "serving", "monitoring")
)


@pytest.mark.skipif(
    not WORKLOADS_READY, reason="training, serving and monitoring workloads are not installed"
)
def test_hub_loop_quick_runs_the_whole_lifecycle_in_order_with_artifacts_on_s3(tmp_path: Path) -> None:
    workdir = tmp_path / "loop"
    completed = subprocess.run(
        [sys.executable, "-m", "scripts.hub.cli", "loop", "--quick", "--s3", "--workdir", str(workdir)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    events = json.loads((workdir / "events.json").read_text())["events"]
    by_source = [e for e in events if e["source"] != "loop"]
    assert check_order([LoopEvent(e["type"], e["time"], e["details"], e["source"]) for e in by_source]).ok
    types = [e["type"] for e in events]
    assert types.index("drift_injected") < types.index("drift_detected")
    assert types.index("worse_model_injected") < types.index("model_rolled_back")
    injected = [e for e in events if e["type"] == "model_promoted" and e["source"] == "loop"]
    assert injected[0]["details"]["reason"] == "injected: manual promotion of a worse model"
    page = (workdir / "report.html").read_text()
    assert page.count("<svg") == 3 and "order holds" in page
    assert "malformed requests answered 5xx (or not at all)</td><td>0" in page
    objects = re.search(r"objects in the S3 bucket</td><td>(\d+)", page)
    assert objects is not None and int(objects.group(1)) > 0
    assert (workdir / "responses.csv").read_text().startswith("time,latency_ms,status,rows,model_version")
    assert "order holds" in completed.stdout
    assert not list(workdir.glob("artifacts/*")), "artifacts went to disk, not to S3"


def _result(tmp_path: Path, failure: str | None) -> LoopResult:
    events = [e for e in full_story() if failure is None or e.type != "model_rolled_back"]
    return LoopResult(
        failure=failure,
        order=check_order(events),
        events_path=tmp_path / "events.json",
        report_path=tmp_path / "report.html",
        seconds=1.0,
    )


@pytest.mark.parametrize(
    ("failure", "exit_code"),
    [
        (None, 0),
        (
            "step 'drift' failed: waiting for drift_detected from the monitor: timed out after 240 s; seen: x",
            1,
        ),
        ("interrupted", 130),
    ],
)
def test_the_command_exits_by_outcome_with_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str | None, exit_code: int
) -> None:
    seen: list[LoopOptions] = []

    def fake_run(options: LoopOptions, console: object) -> LoopResult:
        seen.append(options)
        return _result(tmp_path, failure)

    monkeypatch.setattr(scenario, "run_loop", fake_run)
    monkeypatch.setattr(command, "missing_workloads", lambda s3: [])
    result = CliRunner().invoke(app, ["loop", "--workdir", str(tmp_path / "w"), "--quick", "--seed", "3"])
    assert result.exit_code == exit_code, result.output
    assert seen[0].seed == 3 and seen[0].tuning == scenario.QUICK and not seen[0].s3
    assert seen[0].events_path == tmp_path / "w" / "events.json"
    if failure is None:
        assert result.stderr == "" and "order holds" in result.stdout
    else:
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


def test_the_command_refuses_to_start_without_the_workloads(monkeypatch: pytest.MonkeyPatch) -> None:
    assert command.missing_workloads(s3=True) == []
    monkeypatch.setattr(command, "missing_workloads", lambda s3: ["serving.__main__", "moto.server"])
    result = CliRunner().invoke(app, ["loop", "--s3"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot run the loop: missing serving.__main__, moto.server")


def test_a_retrain_that_is_not_promoted_or_fails_ends_the_drift_step_at_once(tmp_path: Path) -> None:
    options = LoopOptions(workdir=tmp_path, events_path=tmp_path / "e.json", report_path=tmp_path / "r.html")
    run = scenario.Scenario(options, Console(file=io.StringIO()))
    since = T0.timestamp()
    run.collector.events.extend([event("retrain_triggered", 1, "monitoring"), event("model_trained", 2)])
    assert run._retrain_outcome("drift", since) is None
    run.collector.events.append(event("model_promoted", 3, version="2"))
    promoted = run._retrain_outcome("drift", since)
    assert promoted is not None and promoted.details["version"] == "2"

    run.collector.events[-1] = event("model_not_promoted", 3, reason="holdout_roc_auc changed by -0.01")
    with pytest.raises(
        StepFailedError, match=re.escape("the retrain was not promoted: holdout_roc_auc changed by -0.01")
    ):
        run._retrain_outcome("drift", since)

    run.collector.events[-1] = event(
        "drift_checked", 3, "monitoring", retrain_finished={"outcome": "failed", "exit_code": 1}
    )
    with pytest.raises(StepFailedError, match=r"the retrain ended badly: .*\"exit_code\": 1"):
        run._retrain_outcome("drift", since)
