"""Live quality per model version: captured predictions joined with the labels that arrived later."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class LiveQuality:
    """One model version's quality on the rows it served and that have been labelled."""

    version: str
    labelled: int
    positives: int
    roc_auc: float | None
    """None until `min_labels` rows with both classes are in."""
    accuracy: float | None
    first_time: float | None
    last_time: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "labelled": self.labelled,
            "positives": self.positives,
            "roc_auc": self.roc_auc,
            "accuracy": self.accuracy,
            "first_time": self.first_time,
            "last_time": self.last_time,
        }


def join_labels(
    predictions: Iterable[Mapping[str, Any]], labels: Iterable[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], int]]:
    """Predictions that have a label, paired with it; a label reported twice counts once (the latest)."""
    label_of: dict[str, int] = {}
    for record in labels:
        label_of[str(record["request_id"])] = int(record["label"])
    seen: set[str] = set()
    joined = []
    for record in predictions:
        request_id = str(record["request_id"])
        if request_id in label_of and request_id not in seen:
            seen.add(request_id)
            joined.append((record, label_of[request_id]))
    return joined


def live_quality(
    joined: Iterable[tuple[Mapping[str, Any], int]], *, min_labels: int
) -> dict[str, LiveQuality]:
    """ROC AUC (from scores) and accuracy (from served labels) per model version."""
    rows: dict[str, list[tuple[float, int, int, float]]] = {}
    for record, label in joined:
        rows.setdefault(str(record["model_version"]), []).append(
            (float(record["score"]), int(record["prediction"]), label, float(record["time"]))
        )
    result: dict[str, LiveQuality] = {}
    for version, served in rows.items():
        truth = [label for _, _, label, _ in served]
        positives = sum(truth)
        enough = len(served) >= min_labels and 0 < positives < len(served)
        result[version] = LiveQuality(
            version=version,
            labelled=len(served),
            positives=positives,
            roc_auc=float(roc_auc_score(truth, [score for score, _, _, _ in served])) if enough else None,
            accuracy=(
                sum(prediction == label for _, prediction, label, _ in served) / len(served)
                if enough
                else None
            ),
            first_time=min(time for _, _, _, time in served),
            last_time=max(time for _, _, _, time in served),
        )
    return result
