"""Monitoring cycles against a real sqlite MLflow registry and real capture files."""

import json
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from lifecycle.events import EventLog
from lifecycle.registry import CHAMPION, PREVIOUS_CHAMPION
from monitoring.monitor import Monitor
from monitoring.state import load_state
from tests.workloads.monitoring.helpers import Lab, events_of, serve


def _champion(lab: Lab, model_name: str, *, drift: float = 0.0, seed: int = 1) -> str:
    version = lab.register(model_name, drift=drift, seed=seed)
    lab.set_alias(model_name, CHAMPION, version)
    return version


def _retrain_command(marker: Path) -> str:
    code = f"import pathlib; p = pathlib.Path({str(marker)!r}); p.write_text(p.read_text() + 'x' if p.exists() else 'x')"
    return shlex.join([sys.executable, "-c", code])


def test_same_distribution_traffic_is_no_drift_and_no_retrain(
    lab: Lab, settings_for: Any, event_log: EventLog, tmp_path: Path
) -> None:
    version = _champion(lab, "calm")
    settings = settings_for("calm", retrain_command=_retrain_command(tmp_path / "retrained"))
    serve(settings.capture_dir, lab.model(drift=0.0, seed=1), version, rows=400, seed=11, drift=0.0)

    report = Monitor(settings, event_log).run_cycle(wait_for_retrain=True)

    assert report.completed and report.drift_judged and not report.drift_detected
    [checked] = events_of(event_log, "drift_checked")
    assert checked["checked"] is True and checked["drifted"] is False
    assert checked["share_drifted"] < 0.5 and checked["window_rows"] == 400
    assert checked["champion_version"] == checked["reference_version"] == version
    assert len(checked["columns"]) == 8 and checked["columns"]["amount"]["method"] == "ks"
    assert events_of(event_log, "drift_detected") == [] and events_of(event_log, "retrain_triggered") == []
    assert not (tmp_path / "retrained").exists()


def test_persisting_drift_triggers_one_retrain_per_cooldown(
    lab: Lab, settings_for: Any, event_log: EventLog, tmp_path: Path
) -> None:
    version = _champion(lab, "drifting")
    marker = tmp_path / "retrained"
    settings = settings_for("drifting", retrain_command=_retrain_command(marker), cooldown_s=3600.0)
    model = lab.model(drift=0.0, seed=1)
    monitor = Monitor(settings, event_log)

    for cycle in range(3):
        serve(settings.capture_dir, model, version, rows=300, seed=20 + cycle, drift=1.0)
        report = monitor.run_cycle(wait_for_retrain=True)
        assert report.drift_detected and report.window_rows == 300

    detected = events_of(event_log, "drift_detected")
    [triggered] = events_of(event_log, "retrain_triggered")
    assert detected[0]["action"] == "retrain_triggered"
    assert all(d["action"].startswith("none: cooldown until") for d in detected[1:])
    assert detected[0]["share_drifted"] == 1.0 and len(detected[0]["drifted_column_names"]) == 8
    assert [d["episode_windows"] for d in detected] == [1, 2, 3]
    assert Path(detected[0]["report_path"]).exists()
    assert triggered["trigger"] == "command" and triggered["champion_version"] == version
    assert triggered["evidence"]["share_drifted"] == 1.0 and "8 of 8 features drifted" in triggered["reason"]
    assert marker.read_text() == "x", "the retrain command ran exactly once"
    # The finished retrain is reported by the next cycle's drift_checked (there is no event of its own).
    finished = [
        c["retrain_finished"] for c in events_of(event_log, "drift_checked") if "retrain_finished" in c
    ]
    assert [f["outcome"] for f in finished] == ["succeeded"] and finished[0]["exit_code"] == 0


def test_rollback_when_the_champion_is_worse_on_labelled_traffic(
    lab: Lab, settings_for: Any, event_log: EventLog
) -> None:
    old = _champion(lab, "regressed", drift=0.0, seed=1)
    settings = settings_for("regressed", quality_margin=0.02)
    serve(settings.capture_dir, lab.model(drift=0.0, seed=1), old, rows=1000, seed=31, drift=0.0)
    # A candidate trained on the wrong regime is promoted, as training does: old champion -> previous.
    new = lab.register("regressed", drift=1.0, seed=2)
    lab.set_alias("regressed", PREVIOUS_CHAMPION, old)
    lab.set_alias("regressed", CHAMPION, new)
    serve(settings.capture_dir, lab.model(drift=1.0, seed=2), new, rows=1000, seed=32, drift=0.0)
    monitor = Monitor(settings, event_log)

    report = monitor.run_cycle()

    assert report.rolled_back and report.champion_version == old
    assert lab.alias("regressed", CHAMPION) == old
    assert lab.alias("regressed", PREVIOUS_CHAMPION) is None
    tags = lab.tags("regressed", new)
    assert tags["rolled_back"] == "true" and tags["rolled_back_to"] == old
    [quality] = events_of(event_log, "quality_checked")
    [rolled] = events_of(event_log, "model_rolled_back")
    assert quality["decision"] == "rolled_back" and quality["baseline_source"] == "live"
    assert rolled["from_version"] == new and rolled["to_version"] == old
    assert rolled["champion_roc_auc"] < rolled["baseline_roc_auc"] - 0.02
    assert rolled["champion_labelled"] == 1000 and rolled["baseline_labelled"] == 1000
    # Drift is then judged against the restored champion's reference.
    assert events_of(event_log, "drift_checked")[0]["champion_version"] == old

    monitor.run_cycle()
    assert len(events_of(event_log, "model_rolled_back")) == 1, "no ping-pong"
    assert (
        events_of(event_log, "quality_checked")[1]["decision"] == "kept: no previous champion to compare with"
    )


def test_no_rollback_when_the_champion_is_as_good(lab: Lab, settings_for: Any, event_log: EventLog) -> None:
    old = _champion(lab, "steady", drift=0.0, seed=1)
    settings = settings_for("steady", quality_margin=0.05)
    serve(settings.capture_dir, lab.model(drift=0.0, seed=1), old, rows=1000, seed=41, drift=0.0)
    new = lab.register("steady", drift=0.0, seed=5)
    lab.set_alias("steady", PREVIOUS_CHAMPION, old)
    lab.set_alias("steady", CHAMPION, new)
    serve(settings.capture_dir, lab.model(drift=0.0, seed=5), new, rows=1000, seed=42, drift=0.0)

    report = Monitor(settings, event_log).run_cycle()

    assert not report.rolled_back and lab.alias("steady", CHAMPION) == new
    [quality] = events_of(event_log, "quality_checked")
    assert quality["decision"] == "kept: champion is within the margin of the previous champion"
    assert quality["versions"][new]["labelled"] == quality["versions"][old]["labelled"] == 1000
    assert events_of(event_log, "model_rolled_back") == []


def test_a_restart_neither_rereads_nor_loses_windows(
    lab: Lab, settings_for: Any, event_log: EventLog
) -> None:
    version = _champion(lab, "restarted")
    settings = settings_for("restarted")
    model = lab.model(drift=0.0, seed=1)
    serve(settings.capture_dir, model, version, rows=300, seed=51, drift=0.0)
    assert Monitor(settings, event_log).run_cycle().window_rows == 300

    restarted = Monitor(settings, event_log)
    assert restarted.run_cycle().window_rows == 0
    serve(settings.capture_dir, model, version, rows=150, seed=52, drift=0.0)
    small = restarted.run_cycle()
    assert small.window_rows == 150 and not small.drift_judged, (
        "below MIN_SAMPLES the window keeps accumulating"
    )
    serve(settings.capture_dir, model, version, rows=150, seed=53, drift=0.0)
    assert Monitor(settings, event_log).run_cycle().window_rows == 300

    checked = events_of(event_log, "drift_checked")
    assert [c["checked"] for c in checked] == [True, False, False, True]
    assert load_state(settings.state_path).windows_judged == 2
    assert json.loads(settings.state_path.read_text())["format"] == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_registry_skips_the_cycle_without_losing_the_window(
    lab: Lab, settings_for: Any, event_log: EventLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _champion(lab, "outage")
    settings = settings_for("outage")
    serve(settings.capture_dir, lab.model(drift=0.0, seed=1), version, rows=300, seed=61, drift=0.0)
    monitor = Monitor(settings, event_log)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")

    down = monitor.run_cycle()

    assert not down.completed and down.skipped_reason
    [outage] = events_of(event_log, "dependency_unavailable")
    assert outage["dependency"] == "model registry" and outage["attempts"] == 2
    assert "MlflowException" in outage["error"]
    assert load_state(settings.state_path).window_since_ns == 0
    assert events_of(event_log, "drift_checked") == []
    assert (
        monitor.metrics.registry.get_sample_value(
            "mlops_monitor_errors_total", {"kind": "registry_unavailable"}
        )
        == 1
    )

    monkeypatch.setenv("MLFLOW_TRACKING_URI", lab.tracking_uri)
    up = monitor.run_cycle()

    assert up.completed and up.window_rows == 300 and up.drift_judged
    assert monitor.metrics.registry.get_sample_value("mlops_monitor_window_rows") == 300
    assert monitor.metrics.registry.get_sample_value("mlops_monitor_last_success_timestamp_seconds")


def test_no_champion_yet_is_reported_not_fatal(lab: Lab, settings_for: Any, event_log: EventLog) -> None:
    report = Monitor(settings_for("never-registered"), event_log).run_cycle()

    assert report.completed and report.champion_version is None
    [checked] = events_of(event_log, "drift_checked")
    assert checked["checked"] is False and "no champion version" in checked["reason"]


def test_without_live_labels_the_previous_holdout_score_is_the_baseline(
    lab: Lab, settings_for: Any, event_log: EventLog
) -> None:
    # The previous champion never served labelled traffic here: its registered holdout_roc_auc (0.85)
    # stands in, which is fair only while the traffic still looks like training data (no drift episode).
    old = lab.register("holdout", drift=0.0, seed=1, holdout=0.85)
    new = lab.register("holdout", drift=1.0, seed=2)
    lab.set_alias("holdout", PREVIOUS_CHAMPION, old)
    lab.set_alias("holdout", CHAMPION, new)
    settings = settings_for("holdout", quality_margin=0.02)
    serve(settings.capture_dir, lab.model(drift=1.0, seed=2), new, rows=1000, seed=81, drift=0.0)

    report = Monitor(settings, event_log).run_cycle()

    assert report.rolled_back and lab.alias("holdout", CHAMPION) == old
    [rolled] = events_of(event_log, "model_rolled_back")
    assert rolled["baseline_source"] == "holdout" and rolled["baseline_roc_auc"] == 0.85
    assert rolled["baseline_labelled"] == 0
