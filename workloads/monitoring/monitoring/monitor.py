"""One monitoring cycle: live quality and rollback first, then drift of the new window and retraining.

Quality runs first because a rollback changes the champion, and the drift window is then judged
against the reference of the model that actually serves. Every decision is an event with its reason
and evidence; an unreachable registry or capture store skips the rest of the cycle without moving the
drift window, so nothing captured is ever lost.
"""

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lifecycle.capture import LABELS, PREDICTIONS, read_capture
from lifecycle.events import EventLog, EventType
from lifecycle.features import FEATURE_NAMES
from lifecycle.registry import CHAMPION, PREVIOUS_CHAMPION
from monitoring.drift import DriftResult, compute_drift
from monitoring.metrics import MonitorMetrics
from monitoring.quality import LiveQuality, join_labels, live_quality
from monitoring.registry import (
    ROLLED_BACK_TAG,
    Backoff,
    DependencyUnavailableError,
    RegistryView,
    VersionInfo,
)
from monitoring.settings import MonitoringSettings
from monitoring.state import MonitorState, RetrainState, load_state, save_state
from monitoring.triggers import RetrainOutcome, RetrainTrigger, TriggerError, build_trigger

logger = logging.getLogger("monitoring")
NS = 1_000_000_000
CAPTURE = "capture storage"


@dataclass
class CycleReport:
    """What one cycle did, for the CLI summary and the tests."""

    completed: bool = False
    skipped_reason: str | None = None
    champion_version: str | None = None
    window_rows: int = 0
    drift_judged: bool = False
    drift_detected: bool = False
    retrain_triggered: bool = False
    rolled_back: bool = False
    events: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


def _capture_files(directory: Path, prefix: str, since_ns: int, until_ns: int) -> list[Path]:
    # Same naming as lifecycle.capture (`<prefix>-<time_ns>-<id>.jsonl`), with an upper bound as well,
    # so that every file falls in exactly one drift window.
    files = []
    for path in sorted(directory.glob(f"{prefix}-*.jsonl")):
        written_ns = int(path.name.split("-")[1])
        if since_ns <= written_ns < until_ns:
            files.append(path)
    return files


def _read_files(paths: list[Path]) -> Iterator[dict[str, Any]]:
    for path in paths:
        with path.open() as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)


def _retrain_summary(retrain: RetrainState) -> dict[str, Any]:
    return {
        "trigger": retrain.trigger,
        "handle": retrain.handle,
        "outcome": retrain.outcome,
        "exit_code": retrain.exit_code,
        "detail": retrain.detail,
        "started": retrain.started,
        "duration_s": None if retrain.finished is None else round(retrain.finished - retrain.started, 3),
    }


class Monitor:
    """The monitoring loop's state machine; `run_cycle` is one pass."""

    def __init__(
        self,
        settings: MonitoringSettings,
        events: EventLog,
        *,
        trigger: RetrainTrigger | None = None,
        metrics: MonitorMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Build the registry view and the trigger the settings describe (either can be injected)."""
        self.settings = settings
        self.events = events
        self.state_dir = settings.state_path.parent
        self.backoff = Backoff(
            settings.retry_attempts, settings.retry_backoff_s, settings.retry_backoff_max_s
        )
        self.registry = RegistryView(settings.model_name, self.backoff, self.state_dir / "cache")
        self.trigger = trigger or build_trigger(
            settings.retrain_command, settings.retrain_cronjob, self.state_dir / "retrain-logs"
        )
        self.metrics = metrics or MonitorMetrics()
        self.clock = clock

    # -- the cycle --------------------------------------------------------------------------------

    def run_cycle(self, *, wait_for_retrain: bool = False) -> CycleReport:
        """Follow up a retrain, check quality (maybe roll back), judge drift (maybe retrain), save state.

        `wait_for_retrain` (the `--once` mode) waits for a local retrain started or running now.
        """
        report = CycleReport()
        state = load_state(self.settings.state_path)
        self._follow_retrain(state)
        try:
            champion = self.registry.alias(CHAMPION)
            previous = self.registry.alias(PREVIOUS_CHAMPION)
            report.champion_version = champion.version if champion else None
            if champion is not None:
                self.metrics.champion_version.set(float(champion.version))
                champion = self._check_quality(champion, previous, state, report)
            self._check_drift(champion, state, report)
        except DependencyUnavailableError as outage:
            self._unavailable(outage, report)
            self._save(state)
            return report
        if wait_for_retrain:
            self._wait_for_retrain(state)
        state.last_cycle = self.clock()
        self._save(state)
        report.completed = True
        self.metrics.last_success.set(state.last_cycle)
        return report

    def _save(self, state: MonitorState) -> None:
        save_state(self.settings.state_path, state)

    def _emit(self, report: CycleReport, event_type: EventType, **details: Any) -> None:
        self.events.emit(event_type, **details)
        report.events.append(event_type.value)

    def _unavailable(self, outage: DependencyUnavailableError, report: CycleReport) -> None:
        kind = "registry" if outage.dependency == "model registry" else "capture"
        self.metrics.errors.labels(kind=f"{kind}_unavailable").inc()
        report.skipped_reason = str(outage)
        self._emit(
            report,
            EventType.DEPENDENCY_UNAVAILABLE,
            dependency=outage.dependency,
            attempts=outage.attempts,
            error=f"{type(outage.error).__name__}: {str(outage.error)[:500]}",
            action="cycle skipped; the drift window was not advanced and is judged on the next cycle",
        )

    # -- retrain follow-up ------------------------------------------------------------------------

    def _follow_retrain(self, state: MonitorState) -> None:
        """Poll an unfinished retrain and record its outcome once it has ended."""
        retrain = state.retrain
        if retrain is None or retrain.finished is not None:
            return
        if retrain.trigger != self.trigger.kind:
            self._finish_retrain(retrain, RetrainOutcome.UNKNOWN, None, "the trigger was reconfigured")
            return
        status = self.trigger.poll(
            retrain.handle, started=retrain.started, timeout_s=self.settings.retrain_timeout_s
        )
        if status.outcome is not RetrainOutcome.RUNNING:
            self._finish_retrain(retrain, status.outcome, status.exit_code, status.detail)

    def _finish_retrain(
        self, retrain: RetrainState, outcome: RetrainOutcome, exit_code: int | None, detail: str
    ) -> None:
        retrain.finished = self.clock()
        retrain.outcome = outcome.value
        retrain.exit_code = exit_code
        retrain.detail = detail
        logger.info("retrain finished", extra={"retrain": _retrain_summary(retrain)})
        if outcome is not RetrainOutcome.SUCCEEDED:
            self.metrics.errors.labels(kind=f"retrain_{outcome.value}").inc()

    def _wait_for_retrain(self, state: MonitorState) -> None:
        retrain = state.retrain
        if retrain is None or retrain.finished is not None or retrain.trigger != self.trigger.kind:
            return
        status = self.trigger.wait(
            retrain.handle, started=retrain.started, timeout_s=self.settings.retrain_timeout_s
        )
        if status.outcome is not RetrainOutcome.RUNNING:
            self._finish_retrain(retrain, status.outcome, status.exit_code, status.detail)

    # -- quality and rollback ---------------------------------------------------------------------

    def _check_quality(
        self, champion: VersionInfo, previous: VersionInfo | None, state: MonitorState, report: CycleReport
    ) -> VersionInfo:
        """Emit `quality_checked`; roll back and return the restored champion when the champion lost."""
        settings = self.settings
        since_ns = int((self.clock() - settings.quality_window_s) * NS)

        def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            return (
                list(read_capture(settings.capture_dir, PREDICTIONS, since_ns=since_ns)),
                list(read_capture(settings.capture_dir, LABELS, since_ns=since_ns)),
            )

        predictions, labels = self.backoff.call(CAPTURE, read)
        quality = live_quality(join_labels(predictions, labels), min_labels=settings.min_labels)
        for version, measured in quality.items():
            self.metrics.labelled_rows.labels(version=version).set(measured.labelled)
            if measured.roc_auc is not None and measured.accuracy is not None:
                self.metrics.live_roc_auc.labels(version=version).set(measured.roc_auc)
                self.metrics.live_accuracy.labels(version=version).set(measured.accuracy)

        own = quality.get(champion.version)
        champion_auc = own.roc_auc if own else None
        decision, baseline, baseline_source = self._rollback_decision(champion, previous, quality, state)
        self._emit(
            report,
            EventType.QUALITY_CHECKED,
            champion_version=champion.version,
            previous_champion_version=previous.version if previous else None,
            champion_roc_auc=champion_auc,
            baseline_roc_auc=baseline,
            baseline_source=baseline_source,
            quality_margin=settings.quality_margin,
            min_labels=settings.min_labels,
            window_s=settings.quality_window_s,
            versions={version: measured.to_dict() for version, measured in sorted(quality.items())},
            decision=decision,
        )
        if decision != "rolled_back" or previous is None or baseline is None or champion_auc is None:
            return champion

        reason = (
            f"live ROC AUC of v{champion.version} ({champion_auc:.4f}) is more than {settings.quality_margin} "
            f"below v{previous.version}'s {baseline_source} ROC AUC ({baseline:.4f})"
        )
        self.registry.roll_back(champion, previous, reason)
        self.metrics.rollbacks.inc()
        self.metrics.champion_version.set(float(previous.version))
        report.rolled_back = True
        report.champion_version = previous.version
        before = quality.get(previous.version)
        self._emit(
            report,
            EventType.MODEL_ROLLED_BACK,
            reason=reason,
            from_version=champion.version,
            to_version=previous.version,
            champion_roc_auc=champion_auc,
            champion_accuracy=own.accuracy if own else None,
            champion_labelled=own.labelled if own else 0,
            baseline_roc_auc=baseline,
            baseline_source=baseline_source,
            baseline_labelled=before.labelled if before else 0,
            quality_margin=settings.quality_margin,
            previous_champion_alias="removed (one-step rollback: the demoted version is tagged rolled_back=true)",
        )
        return previous

    def _rollback_decision(
        self,
        champion: VersionInfo,
        previous: VersionInfo | None,
        quality: dict[str, LiveQuality],
        state: MonitorState,
    ) -> tuple[str, float | None, str | None]:
        """(`rolled_back` or `kept: <why>`, the previous champion's score, `live` or `holdout`)."""
        own = quality.get(champion.version)
        if previous is None:
            return "kept: no previous champion to compare with", None, None
        if previous.version == champion.version:
            return "kept: the previous champion is the champion", None, None
        if previous.tags.get(ROLLED_BACK_TAG) == "true":
            return f"kept: previous champion v{previous.version} was itself rolled back once", None, None
        if own is None or own.roc_auc is None:
            labelled = own.labelled if own else 0
            needs = self.settings.min_labels
            return f"kept: champion has {labelled} labelled rows, needs {needs} with both classes", None, None
        before = quality.get(previous.version)
        baseline: float | None
        if before is not None and before.roc_auc is not None:
            baseline, source = before.roc_auc, "live"
        elif state.episode_started is None:
            # A holdout score describes traffic like the training data: only a fair yardstick while the
            # served traffic has not drifted.
            baseline, source = self.registry.holdout_metric(previous), "holdout"
        else:
            return (
                "kept: no fair baseline (previous champion has no live labels and traffic has drifted)",
                None,
                None,
            )
        if baseline is None:
            return "kept: no baseline (previous champion has no live labels and no holdout score)", None, None
        if own.roc_auc < baseline - self.settings.quality_margin:
            return "rolled_back", baseline, source
        return "kept: champion is within the margin of the previous champion", baseline, source

    # -- drift and retraining ---------------------------------------------------------------------

    def _check_drift(
        self,
        champion: VersionInfo | None,
        state: MonitorState,
        report: CycleReport,
    ) -> None:
        settings = self.settings
        now = self.clock()
        since_ns = state.window_since_ns
        until_ns = int((now - settings.capture_settle_s) * NS)
        common: dict[str, Any] = {
            "champion_version": champion.version if champion else None,
            "window_since_ns": since_ns,
            "window_until_ns": until_ns,
            "drift_share_threshold": settings.drift_share,
        }
        records, reference, reason = self._window(champion, since_ns, until_ns)
        retrain = state.retrain
        if retrain is not None and retrain.finished is not None and not retrain.reported:
            # There is no event of its own for a finished retrain: the next drift_checked carries it.
            common["retrain_finished"] = _retrain_summary(retrain)
            retrain.reported = True
        rows = len(records or [])
        report.window_rows = rows
        self.metrics.window_rows.set(rows)
        if reason is not None or champion is None or records is None or reference is None:
            self._emit(
                report, EventType.DRIFT_CHECKED, checked=False, reason=reason, window_rows=rows, **common
            )
            return

        current = pd.DataFrame([record["features"] for record in records], columns=list(FEATURE_NAMES))
        served_by = dict(Counter(str(record.get("model_version")) for record in records))
        html_path = self.state_dir / "reports" / f"drift-{until_ns}.html" if settings.save_reports else None
        try:
            result = compute_drift(
                current, reference, FEATURE_NAMES, drift_share=settings.drift_share, html_path=html_path
            )
        except Exception as error:  # noqa: BLE001 - a window Evidently cannot judge must not stall the monitor
            self.metrics.errors.labels(kind="drift_computation").inc()
            state.window_since_ns = until_ns
            self._save(state)
            self._emit(
                report,
                EventType.DRIFT_CHECKED,
                checked=False,
                reason=f"drift computation failed; window skipped: {type(error).__name__}: {str(error)[:300]}",
                window_rows=rows,
                **common,
            )
            return
        drifted = result.drifted(settings.drift_share)
        report.drift_judged = True
        report.drift_detected = drifted
        self._record_drift_metrics(result, drifted)
        report_path = str(html_path) if html_path is not None and html_path.exists() else None
        if report_path is not None and html_path is not None:
            self._prune_reports(html_path.parent)
        evidence = {
            "share_drifted": result.share_drifted,
            "drifted_columns": result.drifted_columns,
            "window_rows": rows,
            "reference_version": champion.version,
            "reference_rows": len(reference),
            "served_by_version": served_by,
        }
        self._emit(
            report,
            EventType.DRIFT_CHECKED,
            checked=True,
            drifted=drifted,
            columns={name: column.to_dict() for name, column in result.columns.items()},
            **evidence,
            **common,
        )
        state.window_since_ns = until_ns
        state.windows_judged += 1
        if not drifted:
            state.episode_started, state.episode_windows = None, 0
            self._save(state)
            return
        if state.episode_started is None:
            state.episode_started = now
        state.episode_windows += 1
        action = self._maybe_retrain(champion, state, result, evidence, now, report)
        self._save(state)
        self._emit(
            report,
            EventType.DRIFT_DETECTED,
            drifted_column_names=[name for name, column in result.columns.items() if column.drifted],
            episode_started=state.episode_started,
            episode_windows=state.episode_windows,
            action=action,
            report_path=report_path,
            **evidence,
            **common,
        )
        if report.retrain_triggered and state.retrain is not None:
            self._emit(
                report,
                EventType.RETRAIN_TRIGGERED,
                reason=state.retrain.reason,
                trigger=state.retrain.trigger,
                handle=state.retrain.handle,
                champion_version=champion.version,
                evidence={**evidence, "report_path": report_path},
                cooldown_s=settings.cooldown_s,
            )

    def _window(
        self, champion: VersionInfo | None, since_ns: int, until_ns: int
    ) -> tuple[list[dict[str, Any]] | None, pd.DataFrame | None, str | None]:
        """The window's records and the champion's reference, or why the window cannot be judged yet."""
        settings = self.settings

        def read() -> list[dict[str, Any]] | None:
            if not settings.capture_dir.is_dir():
                return None
            return list(_read_files(_capture_files(settings.capture_dir, PREDICTIONS, since_ns, until_ns)))

        records = self.backoff.call(CAPTURE, read)
        rows = len(records or [])
        if champion is None:
            return records, None, f"no {CHAMPION} version of {settings.model_name} yet"
        if records is None:
            return None, None, f"capture directory {settings.capture_dir} does not exist yet"
        if rows < settings.min_samples:
            return (
                records,
                None,
                f"window has {rows} rows, needs {settings.min_samples}; it keeps accumulating",
            )
        reference = self.registry.reference(champion)
        if reference is None:
            return (
                records,
                None,
                f"champion v{champion.version} has no reference artifact; the window waits for one",
            )
        return records, reference, None

    def _maybe_retrain(
        self,
        champion: VersionInfo,
        state: MonitorState,
        result: DriftResult,
        evidence: dict[str, Any],
        now: float,
        report: CycleReport,
    ) -> str:
        """Start a retrain unless one runs, the cooldown holds, or no trigger is configured; says which."""
        if self.trigger.kind == "none":
            return "none: no retrain trigger configured"
        if state.retrain is not None and state.retrain.finished is None:
            return f"none: a retrain is still running ({state.retrain.handle})"
        if state.last_trigger_time is not None and now - state.last_trigger_time < self.settings.cooldown_s:
            return f"none: cooldown until {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(state.last_trigger_time + self.settings.cooldown_s))}"
        reason = (
            f"{result.drifted_columns} of {len(result.columns)} features drifted "
            f"(share {result.share_drifted:.2f} >= {self.settings.drift_share}) in a window of "
            f"{evidence['window_rows']} rows against champion v{champion.version}'s reference"
        )
        try:
            handle = self.trigger.start(reason, champion.version)
        except TriggerError as error:
            self.metrics.errors.labels(kind="retrain_trigger").inc()
            self._emit(
                report,
                EventType.DEPENDENCY_UNAVAILABLE,
                dependency=f"retrain trigger ({self.trigger.kind})",
                attempts=1,
                error=str(error)[:500],
                action="no retrain started; the next drifted window tries again",
            )
            return f"none: retrain trigger failed: {error}"
        state.retrain = RetrainState(
            trigger=self.trigger.kind,
            started=now,
            reason=reason,
            champion_version=champion.version,
            handle=handle,
        )
        state.last_trigger_time = now
        report.retrain_triggered = True
        self.metrics.retrains.labels(trigger=self.trigger.kind).inc()
        return "retrain_triggered"

    def _record_drift_metrics(self, result: DriftResult, drifted: bool) -> None:
        self.metrics.drift_share.set(result.share_drifted)
        self.metrics.drift_detected.set(1.0 if drifted else 0.0)
        for name, column in result.columns.items():
            self.metrics.column_drift_score.labels(column=name, method=column.method).set(column.score)

    def _prune_reports(self, directory: Path) -> None:
        reports = sorted(directory.glob("drift-*.html"))
        for old in reports[: -self.settings.reports_kept]:
            old.unlink(missing_ok=True)
