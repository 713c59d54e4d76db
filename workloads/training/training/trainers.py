"""The two learners and the holdout evaluation both models (candidate and champion) go through.

Both learners return an object with `predict_proba(matrix) -> (n, 2)`, fitted on a plain float matrix
in `FEATURE_NAMES` order (no column names: serving scores NumPy rows, and a model fitted on a
DataFrame warns on every one of them).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, log_loss, precision_score, recall_score, roc_auc_score

from lifecycle.registry import HOLDOUT_METRIC
from lifecycle.scoring import Flavor, MlpScorer, ProbabilityModel
from training.settings import Trainer, TrainingSettings
from training.torch_mlp import fit_mlp

Matrix = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]

DECISION_THRESHOLD = 0.5
"""Score at or above which a row counts as fraud for accuracy, precision and recall."""


@dataclass(frozen=True)
class TrainedModel:
    """A fitted candidate, how MLflow should store it, and what to record about it."""

    model: ProbabilityModel
    """A `GradientBoostingClassifier` (flavor sklearn) or an `MlpScorer` (flavor pyfunc)."""
    flavor: Flavor
    params: dict[str, Any]
    """Hyperparameters and the device, logged as run params."""


def train(settings: TrainingSettings, features: Matrix, labels: Labels) -> TrainedModel:
    """Fit the learner `settings.trainer` names."""
    if settings.trainer is Trainer.TORCH:
        return _train_torch(settings, features, labels)
    return _train_sklearn(settings, features, labels)


def _train_sklearn(settings: TrainingSettings, features: Matrix, labels: Labels) -> TrainedModel:
    # Gradient boosting, not a random forest: 50 shallow trees score one row in ~0.2 ms without
    # threads, which is what single-row serving latency needs.
    model = GradientBoostingClassifier(
        n_estimators=settings.n_estimators,
        max_depth=settings.max_depth,
        learning_rate=settings.learning_rate,
        random_state=settings.seed,
    )
    model.fit(features, labels)
    params = {
        "estimator": "GradientBoostingClassifier",
        "n_estimators": settings.n_estimators,
        "max_depth": settings.max_depth,
        "learning_rate": settings.learning_rate,
        "device": "cpu",
    }
    return TrainedModel(model=model, flavor=Flavor.SKLEARN, params=params)


def _train_torch(settings: TrainingSettings, features: Matrix, labels: Labels) -> TrainedModel:
    fit = fit_mlp(
        features,
        labels,
        hidden=settings.torch_hidden,
        epochs=settings.torch_epochs,
        batch_size=settings.torch_batch_size,
        learning_rate=settings.torch_learning_rate,
        seed=settings.seed,
        cpu_threads=settings.torch_cpu_threads,
    )
    scorer = MlpScorer(mean=fit.mean, scale=fit.scale, weights=fit.weights, biases=fit.biases)
    params = {
        "estimator": "TorchMLP",
        "hidden_layers": ",".join(str(weight.shape[0]) for weight in fit.weights[:-1]),
        "epochs": settings.torch_epochs,
        "batch_size": settings.torch_batch_size,
        "learning_rate": settings.torch_learning_rate,
        "device": fit.device,
        "torch_version": fit.torch_version,
    }
    return TrainedModel(model=scorer, flavor=Flavor.PYFUNC, params=params)


def evaluate(model: ProbabilityModel, features: Matrix, labels: Labels) -> dict[str, float]:
    """Holdout metrics of one model: ROC AUC (the promotion metric), accuracy, precision, recall, log loss."""
    fraud = np.asarray(model.predict_proba(features), dtype=np.float64)[:, 1]
    predicted = (fraud >= DECISION_THRESHOLD).astype(np.int64)
    return {
        HOLDOUT_METRIC: float(roc_auc_score(labels, fraud)),
        "holdout_accuracy": float(accuracy_score(labels, predicted)),
        "holdout_precision": float(precision_score(labels, predicted, zero_division=0)),
        "holdout_recall": float(recall_score(labels, predicted, zero_division=0)),
        "holdout_log_loss": float(log_loss(labels, np.clip(fraud, 1e-15, 1 - 1e-15), labels=[0, 1])),
    }
