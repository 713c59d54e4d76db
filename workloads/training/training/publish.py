"""Everything training does with MLflow: find the champion, log the run, register, move aliases.

Each call goes through the `RegistryRetry` policy, so an unreachable registry costs a bounded number
of quick attempts and then one clear error. A whole run is retried as a unit (a retry starts a new
run; the broken one is left FAILED), since a half-logged run is useless to the monitor.
"""

import logging
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient

import lifecycle.scoring
from lifecycle.features import FEATURE_NAMES
from lifecycle.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, REFERENCE_ARTIFACT
from lifecycle.retry import RegistryRetry, one_line
from lifecycle.scoring import (
    FLAVOR_TAG,
    WEIGHTS_ARTIFACT,
    Flavor,
    MlpScorer,
    ProbabilityModel,
    load_probability_model,
)
from training.trainers import TrainedModel

_LOGGER = logging.getLogger("training")

# What the logged model needs to load; passed explicitly because inferring it costs ~4.5 s per run.
# Keep in step with workloads/training/requirements.txt.
SKLEARN_REQUIREMENTS = ("mlflow-skinny==3.17.2", "scikit-learn==1.9.1", "skops==0.16.0", "numpy==2.4.6")
PYFUNC_REQUIREMENTS = ("mlflow-skinny==3.17.2", "numpy==2.4.6", "pandas==2.3.3")
# The MLP is logged as code (a file naming the class) plus an .npz of weights: nothing is pickled.
MLP_MODEL_CODE = Path(lifecycle.scoring.__file__).with_name("mlp_pyfunc.py")
# skops refuses to load types outside its allow-list unless named; a fitted tree is the only one here.
SKOPS_TRUSTED_TYPES = ("sklearn.tree._tree.Tree",)


@dataclass(frozen=True)
class Champion:
    """The version holding `champion` when training started."""

    version: str
    flavor: str | None
    run_id: str | None


@dataclass(frozen=True)
class LoggedRun:
    """A finished training run and its model."""

    run_id: str
    model_uri: str


class Registry:
    """The MLflow tracking server and model registry, as training uses them."""

    def __init__(self, tracking_uri: str | None, model_name: str, retry: RegistryRetry) -> None:
        """`tracking_uri=None` is MLflow's default (`MLFLOW_TRACKING_URI` or its built-in one)."""
        if tracking_uri is not None:
            mlflow.set_tracking_uri(tracking_uri)
        self.tracking_uri = mlflow.get_tracking_uri()
        self.model_name = model_name
        self.retry = retry
        self.client = MlflowClient(tracking_uri=self.tracking_uri)

    def _call(self, what: str, function: Any) -> Any:
        def on_retry(attempt: int, error: BaseException) -> None:
            _LOGGER.warning(
                "registry call failed, retrying",
                extra={"operation": what, "attempt": attempt, "error": one_line(error)},
            )

        return self.retry.call(what, function, on_retry=on_retry)

    def probe(self) -> None:
        """Reach the registry (retrying), before any time is spent training."""
        self._call("reach the registry", lambda: self.client.search_experiments(max_results=1))

    def champion(self) -> Champion | None:
        """The version the `champion` alias points at, or None (no such model, or no alias yet)."""

        def lookup() -> Champion | None:
            try:
                registered = self.client.get_registered_model(self.model_name)
            except MlflowException as error:
                if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return None
                raise
            version = registered.aliases.get(CHAMPION)
            if version is None:
                return None
            found = self.client.get_model_version(self.model_name, str(version))
            return Champion(version=str(version), flavor=found.tags.get(FLAVOR_TAG), run_id=found.run_id)

        result: Champion | None = self._call("look up the champion", lookup)
        return result

    def load(self, champion: Champion) -> ProbabilityModel:
        """Load the champion's exact version (not the alias, which may move meanwhile)."""
        uri = f"models:/{self.model_name}/{champion.version}"
        loaded: ProbabilityModel = self._call(
            f"load {uri}", lambda: load_probability_model(uri, champion.flavor)
        )
        return loaded

    def experiment_id(self, name: str) -> str:
        """The experiment's id, creating it when missing (a concurrent creator wins harmlessly)."""

        def get_or_create() -> str:
            existing = self.client.get_experiment_by_name(name)
            if existing is not None:
                return str(existing.experiment_id)
            try:
                return str(self.client.create_experiment(name))
            except MlflowException as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
                again = self.client.get_experiment_by_name(name)
                if again is None:
                    raise
                return str(again.experiment_id)

        experiment: str = self._call(f"open experiment {name!r}", get_or_create)
        return experiment

    def log_run(
        self,
        *,
        experiment_id: str,
        run_name: str,
        trained: TrainedModel,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        reference: pd.DataFrame,
        input_example: pd.DataFrame,
    ) -> LoggedRun:
        """Log params, metrics, the model (signature, input example) and the drift reference."""

        def log_once() -> LoggedRun:
            with (
                tempfile.TemporaryDirectory(prefix="training-") as scratch,
                mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as run,
            ):
                mlflow.log_params({key: str(value)[:6000] for key, value in params.items()})
                mlflow.log_metrics(metrics)
                model_uri = _log_model(trained, input_example, Path(scratch))
                reference_path = Path(scratch) / Path(REFERENCE_ARTIFACT).name
                reference.loc[:, list(FEATURE_NAMES)].to_parquet(reference_path, index=False)
                mlflow.log_artifact(str(reference_path), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))
                return LoggedRun(run_id=run.info.run_id, model_uri=model_uri)

        logged: LoggedRun = self._call("log the training run", log_once)
        return logged

    def register(self, logged: LoggedRun, tags: dict[str, str]) -> ModelVersion:
        """Create a new version of the registered model (and the model itself the first time)."""
        version: ModelVersion = self._call(
            "register the model",
            lambda: mlflow.register_model(logged.model_uri, self.model_name, tags=tags),
        )
        return version

    def set_alias(self, alias: str, version: str) -> None:
        """Point `alias` at `version` (idempotent, so safe to retry)."""
        self._call(
            f"set alias {alias}={version}",
            lambda: self.client.set_registered_model_alias(self.model_name, alias, version),
        )

    def set_version_tag(self, version: str, key: str, value: str) -> None:
        """Tag one model version (idempotent)."""
        self._call(
            f"tag version {version}",
            lambda: self.client.set_model_version_tag(self.model_name, version, key, value),
        )

    def promote(self, version: str, old_champion: str | None) -> None:
        """`previous_champion` → the old champion first, then `champion` → `version`: a crash in
        between leaves both aliases on the old champion, which serving and rollback both survive."""
        if old_champion is not None:
            self.set_alias(PREVIOUS_CHAMPION, old_champion)
        self.set_alias(CHAMPION, version)

    def keep_as_challenger(self, version: str) -> None:
        """Mark a candidate that did not win."""
        self.set_alias(CHALLENGER, version)


def _signature(trained: TrainedModel, example: pd.DataFrame) -> ModelSignature:
    probabilities = trained.model.predict_proba(example.to_numpy(dtype="float64"))
    signature: ModelSignature = infer_signature(example, probabilities)
    return signature


def _log_model(trained: TrainedModel, input_example: pd.DataFrame, scratch: Path) -> str:
    signature = _signature(trained, input_example)
    if trained.flavor is Flavor.SKLEARN:
        with warnings.catch_warnings():
            # MLflow checks the input example through the pyfunc, which hands the tree a DataFrame;
            # the model is fitted on bare matrices (what serving sends), so sklearn warns. Harmless.
            warnings.filterwarnings("ignore", message="X has feature names", category=UserWarning)
            info = mlflow.sklearn.log_model(
                trained.model,
                name="model",
                signature=signature,
                input_example=input_example,
                pip_requirements=list(SKLEARN_REQUIREMENTS),
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
                # pyfunc `predict` answers probabilities, like the torch model's, not bare labels.
                pyfunc_predict_fn="predict_proba",
            )
        return str(info.model_uri)
    if not isinstance(trained.model, MlpScorer):
        raise TypeError(f"a pyfunc candidate must be an MlpScorer, got {type(trained.model).__name__}")
    weights = scratch / "mlp.npz"
    trained.model.save(weights)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(MLP_MODEL_CODE),
        artifacts={WEIGHTS_ARTIFACT: str(weights)},
        signature=signature,
        input_example=input_example,
        pip_requirements=list(PYFUNC_REQUIREMENTS),
    )
    return str(info.model_uri)
