"""One training run: validate → split → train → evaluate candidate and champion → log → register → promote.

Each decision is an event (`data_quarantined`, `model_trained`, `model_registered`, then
`model_promoted` or `model_not_promoted`) with the evidence it was taken on.
"""

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from mlflow.exceptions import MlflowException
from sklearn.model_selection import train_test_split

from lifecycle.events import EventLog, EventType
from lifecycle.features import FEATURE_NAMES, LABEL
from lifecycle.registry import CHALLENGER, CHAMPION, HOLDOUT_METRIC
from lifecycle.retry import RegistryRetry, bound_mlflow_http, one_line, redact
from lifecycle.scoring import FLAVOR_TAG
from training.data import DataRejectedError, class_counts, file_sha256, load_table, validate, write_quarantine
from training.publish import Champion, Registry
from training.settings import TrainingSettings
from training.trainers import evaluate, train

_LOGGER = logging.getLogger("training")
_MIN_ROWS_PER_CLASS = 5


@dataclass(frozen=True)
class Comparison:
    """The promotion decision and its evidence."""

    promoted: bool
    reason: str
    candidate_score: float
    champion_version: str | None = None
    champion_score: float | None = None
    margin: float = 0.0
    judged_on: str = "holdout"
    """`holdout` (the candidate's own split) or `eval` (the fixed evaluation table)."""

    @property
    def improvement(self) -> float | None:
        """Candidate minus champion on the holdout metric (None without a champion)."""
        return None if self.champion_score is None else self.candidate_score - self.champion_score

    def evidence(self) -> dict[str, Any]:
        """Details for the event and the version's tags."""
        return {
            "metric": HOLDOUT_METRIC,
            "judged_on": self.judged_on,
            "candidate_score": self.candidate_score,
            "champion_version": self.champion_version,
            "champion_score": self.champion_score,
            "improvement": self.improvement,
            "margin": self.margin,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Summary:
    """What the run did, printed as the one JSON line on stdout."""

    model_name: str
    version: str
    run_id: str
    promoted: bool
    alias: str
    trainer: str
    metrics: dict[str, float]
    comparison: dict[str, Any]
    rows_used: int
    rows_quarantined: int
    quarantine_file: str | None
    data_sha256: str
    duration_s: float = field(default=0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model_name": self.model_name,
            "version": self.version,
            "run_id": self.run_id,
            "promoted": self.promoted,
            "alias": self.alias,
            "trainer": self.trainer,
            "metrics": self.metrics,
            "comparison": self.comparison,
            "rows_used": self.rows_used,
            "rows_quarantined": self.rows_quarantined,
            "quarantine_file": self.quarantine_file,
            "data_sha256": self.data_sha256,
            "duration_s": round(self.duration_s, 3),
        }


def decide(
    candidate_score: float, champion: Champion | None, champion_score: float | None, margin: float
) -> Comparison:
    """Promote when there is no champion, or the candidate beats it by at least `margin` (and by more
    than nothing, so a zero margin still needs a strict improvement)."""
    if champion is None:
        return Comparison(True, "no champion yet", candidate_score, margin=margin)
    if champion_score is None:
        return Comparison(
            False, "champion could not be scored", candidate_score, champion.version, None, margin
        )
    improvement = candidate_score - champion_score
    if improvement > 0.0 and improvement >= margin:
        reason = f"{HOLDOUT_METRIC} improved by {improvement:.4f} (margin {margin:g})"
        return Comparison(True, reason, candidate_score, champion.version, champion_score, margin)
    reason = f"{HOLDOUT_METRIC} changed by {improvement:+.4f}, below the margin {margin:g}"
    return Comparison(False, reason, candidate_score, champion.version, champion_score, margin)


def _evaluation_table(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The fixed evaluation table as (features, labels); it is the judge, so it must be wholly valid."""
    validated = validate(load_table(path))
    if validated.quarantined:
        raise DataRejectedError(
            f"evaluation table {path} has {len(validated.quarantined)} invalid rows of {validated.total_rows}; "
            "it judges promotion, so every row must pass the training schema"
        )
    counts = class_counts(validated.valid)
    if len(counts) < 2 or min(counts.values()) < _MIN_ROWS_PER_CLASS:
        raise DataRejectedError(
            f"evaluation table {path} needs at least {_MIN_ROWS_PER_CLASS} rows of each label, got {counts}"
        )
    features = validated.valid.loc[:, list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    return features, validated.valid[LABEL].to_numpy(dtype=np.int64)


def run(settings: TrainingSettings, events: EventLog) -> Summary:
    """Train, evaluate, register and (maybe) promote once.

    Raises:
        DataRejectedError: the table is unreadable, has a table-level defect, too many invalid rows, or
            too few rows of a class to train and evaluate.
        lifecycle.retry.RegistryUnavailableError: the registry stayed unreachable for the retry budget.
        mlflow.exceptions.MlflowException: the registry refused a request.
    """
    started = time.monotonic()
    data_sha256 = file_sha256(settings.data)
    frame = load_table(settings.data)
    validated = validate(frame)
    quarantine_file = write_quarantine(
        frame, validated, settings.quarantine_dir, source=settings.data, data_sha256=data_sha256
    )
    rejected = validated.invalid_share > settings.max_invalid_share
    if quarantine_file is not None:
        events.emit(
            EventType.DATA_QUARANTINED,
            data=str(settings.data),
            data_sha256=data_sha256,
            rows=validated.total_rows,
            rows_quarantined=len(validated.quarantined),
            share=round(validated.invalid_share, 6),
            max_invalid_share=settings.max_invalid_share,
            rejected=rejected,
            quarantine_file=str(quarantine_file),
            reasons=validated.reason_counts(),
        )
    if rejected:
        raise DataRejectedError(
            f"{len(validated.quarantined)} of {validated.total_rows} rows "
            f"({validated.invalid_share:.1%}) failed validation, above max_invalid_share "
            f"{settings.max_invalid_share:.1%}; see {quarantine_file}"
        )
    counts = class_counts(validated.valid)
    if len(counts) < 2 or min(counts.values()) < _MIN_ROWS_PER_CLASS:
        raise DataRejectedError(
            f"need at least {_MIN_ROWS_PER_CLASS} valid rows of each label (0 and 1), got {counts}"
        )

    bound_mlflow_http(settings.registry_timeout_s)
    retry = RegistryRetry(
        max_wait_s=settings.registry_retry_s,
        initial_backoff_s=settings.registry_backoff_s,
        max_backoff_s=settings.registry_backoff_max_s,
    )
    registry = Registry(settings.tracking_uri, settings.model_name, retry)
    _LOGGER.info("reaching the registry", extra={"tracking_uri": redact(registry.tracking_uri)})
    registry.probe()
    experiment_id = registry.experiment_id(settings.experiment)
    champion = registry.champion()

    valid = validated.valid
    features = valid.loc[:, list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    labels = valid[LABEL].to_numpy(dtype=np.int64)
    try:
        train_x, holdout_x, train_y, holdout_y = train_test_split(
            features,
            labels,
            test_size=settings.holdout_share,
            stratify=labels,
            random_state=settings.seed,
        )
    except ValueError as error:
        raise DataRejectedError(f"cannot split a stratified holdout: {one_line(error)}") from error

    _LOGGER.info("training", extra={"trainer": settings.trainer.value, "rows": len(train_y)})
    trained = train(settings, train_x, train_y)
    metrics = evaluate(trained.model, holdout_x, holdout_y)

    judge_x, judge_y, judged_on = holdout_x, holdout_y, "holdout"
    if settings.eval_data is not None:
        judge_x, judge_y = _evaluation_table(settings.eval_data)
        judged_on = "eval"
        metrics["eval_roc_auc"] = evaluate(trained.model, judge_x, judge_y)[HOLDOUT_METRIC]
    candidate_score = metrics[HOLDOUT_METRIC] if judged_on == "holdout" else metrics["eval_roc_auc"]

    champion_score: float | None = None
    if champion is not None:
        try:
            champion_model = registry.load(champion)
            champion_score = evaluate(champion_model, judge_x, judge_y)[HOLDOUT_METRIC]
        except (MlflowException, ValueError, TypeError, KeyError, OSError, ImportError) as error:
            # A champion that no longer loads or scores on today's features cannot be compared; the
            # candidate stays a challenger for a person to look at rather than replacing it unseen.
            _LOGGER.warning(
                "champion could not be scored", extra={"version": champion.version, "error": one_line(error)}
            )
    comparison = dataclasses.replace(
        decide(candidate_score, champion, champion_score, settings.promotion_margin), judged_on=judged_on
    )

    rng = np.random.default_rng(settings.seed)
    reference_rows = min(settings.reference_rows, len(train_x))
    reference_index = np.sort(rng.choice(len(train_x), size=reference_rows, replace=False))
    reference = _frame(train_x[reference_index])
    input_example = _frame(train_x[:5])

    rows_used = len(labels)
    params: dict[str, Any] = {
        "trainer": settings.trainer.value,
        "seed": settings.seed,
        "holdout_share": settings.holdout_share,
        "eval_data": settings.eval_data.name if settings.eval_data is not None else "",
        "judged_on": judged_on,
        "promotion_margin": settings.promotion_margin,
        "max_invalid_share": settings.max_invalid_share,
        "data": settings.data.name,
        "data_sha256": data_sha256,
        "rows_total": validated.total_rows,
        "rows_used": rows_used,
        "rows_train": len(train_y),
        "rows_holdout": len(holdout_y),
        "rows_quarantined": len(validated.quarantined),
        **trained.params,
    }
    run_metrics = dict(metrics)
    if comparison.champion_score is not None:
        run_metrics["champion_holdout_roc_auc"] = comparison.champion_score
    logged = registry.log_run(
        experiment_id=experiment_id,
        run_name=f"train-{settings.trainer.value}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
        trained=trained,
        params=params,
        metrics=run_metrics,
        tags={"data_sha256": data_sha256, "trainer": settings.trainer.value},
        reference=reference,
        input_example=input_example,
    )
    rows_quarantined = len(validated.quarantined)
    events.emit(
        EventType.MODEL_TRAINED,
        run_id=logged.run_id,
        trainer=settings.trainer.value,
        device=str(trained.params.get("device", "cpu")),
        metrics=metrics,
        rows_used=rows_used,
        rows_quarantined=rows_quarantined,
        data_sha256=data_sha256,
    )

    version_tags = {
        FLAVOR_TAG: trained.flavor.value,
        "trainer": settings.trainer.value,
        "data_sha256": data_sha256,
        "rows_used": str(rows_used),
        "rows_quarantined": str(rows_quarantined),
        **{key: f"{value:.6f}" for key, value in metrics.items()},
        **{
            f"comparison_{key}": "" if value is None else str(value)
            for key, value in comparison.evidence().items()
        },
    }
    version = registry.register(logged, version_tags)
    events.emit(
        EventType.MODEL_REGISTERED,
        model_name=settings.model_name,
        version=str(version.version),
        run_id=logged.run_id,
        flavor=trained.flavor.value,
        metrics=metrics,
        rows_used=rows_used,
        rows_quarantined=rows_quarantined,
    )

    comparison = _recheck_champion(registry, champion, comparison)
    if comparison.promoted:
        registry.promote(str(version.version), champion.version if champion is not None else None)
        alias = CHAMPION
        events.emit(
            EventType.MODEL_PROMOTED,
            model_name=settings.model_name,
            version=str(version.version),
            previous_champion=champion.version if champion is not None else None,
            **comparison.evidence(),
        )
    else:
        registry.keep_as_challenger(str(version.version))
        alias = CHALLENGER
        events.emit(
            EventType.MODEL_NOT_PROMOTED,
            model_name=settings.model_name,
            version=str(version.version),
            alias=CHALLENGER,
            **comparison.evidence(),
        )
    registry.set_version_tag(
        str(version.version), "decision", "promoted" if comparison.promoted else "challenger"
    )

    return Summary(
        model_name=settings.model_name,
        version=str(version.version),
        run_id=logged.run_id,
        promoted=comparison.promoted,
        alias=alias,
        trainer=settings.trainer.value,
        metrics=metrics,
        comparison=comparison.evidence(),
        rows_used=rows_used,
        rows_quarantined=rows_quarantined,
        quarantine_file=None if quarantine_file is None else str(quarantine_file),
        data_sha256=data_sha256,
        duration_s=time.monotonic() - started,
    )


def _recheck_champion(registry: Registry, evaluated: Champion | None, comparison: Comparison) -> Comparison:
    # Another training may have promoted meanwhile; the candidate was not compared with that model,
    # so it does not get to replace it.
    if not comparison.promoted:
        return comparison
    current = registry.champion()
    current_version = None if current is None else current.version
    evaluated_version = None if evaluated is None else evaluated.version
    if current_version == evaluated_version:
        return comparison
    return Comparison(
        promoted=False,
        reason=f"champion moved from {evaluated_version} to {current_version} during training",
        candidate_score=comparison.candidate_score,
        champion_version=comparison.champion_version,
        champion_score=comparison.champion_score,
        margin=comparison.margin,
    )


def _frame(rows: npt.NDArray[np.float64]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(FEATURE_NAMES))
