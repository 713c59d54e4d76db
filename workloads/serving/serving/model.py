"""The served model: loading a registry version, validating it, and following the `champion` alias.

Loading goes through `lifecycle.scoring.load_probability_model`, by the version's `flavor` tag:
scikit-learn models with their own flavour, called with `predict_proba` on a numpy array (MLflow's
pyfunc wrapper would build a pandas frame per request); the torch trainer's `pyfunc` MLP unwrapped
to its NumPy forward pass; any other pyfunc through its `predict`. A version without the tag is
looked up in its MLmodel file. Either way a new version must load and score a probe batch with finite probabilities in
[0, 1], one per row, before it replaces the one being served; until then the old one keeps serving.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from lifecycle.events import EventLog, EventType
from lifecycle.features import FEATURES
from lifecycle.registry import CHAMPION
from lifecycle.retry import one_line
from lifecycle.scoring import FLAVOR_TAG, Flavor, ProbabilityModel, load_probability_model

logger = logging.getLogger("serving")

Scores = npt.NDArray[np.float64]
Scorer = Callable[[npt.NDArray[np.float64]], Scores]


def probe_batch() -> npt.NDArray[np.float64]:
    """Rows a model must score before it is served: each feature's minimum, quartiles, mid-point
    and maximum (five rows)."""
    low = np.array([feature.minimum for feature in FEATURES], dtype=np.float64)
    high = np.array([feature.maximum for feature in FEATURES], dtype=np.float64)
    return np.stack([low + share * (high - low) for share in (0.0, 0.25, 0.5, 0.75, 1.0)])


@dataclass(frozen=True)
class LoadedModel:
    """One validated registry version, ready to score."""

    version: str
    flavor: str
    run_id: str | None
    source: str
    loaded_at: float
    load_s: float
    score: Scorer


class ModelLoadError(Exception):
    """A version that cannot be served; the message says why (one line)."""


class Registry(Protocol):
    """What the manager needs from MLflow (an `MlflowClient` satisfies it)."""

    def get_model_version_by_alias(self, name: str, alias: str) -> Any: ...


def _gradient_boosting_scorer(model: Any, check: npt.NDArray[np.float64]) -> Scorer | None:
    """A direct scorer for a binary scikit-learn `GradientBoostingClassifier`, or None.

    scikit-learn spends most of a small `predict_proba` call validating its input (about 0.3-1 ms
    on this kind of machine, 20x the trees themselves). Serving has already validated every value,
    so this scorer runs the same compiled tree walk (`predict_stages`) from the init estimator's
    constant raw score, and applies the logistic link. It is only used when it agrees with
    `predict_proba` to 1e-12 on `check` rows; any other model keeps `predict_proba`.
    """
    try:
        from scipy.special import expit  # noqa: PLC0415
        from sklearn.ensemble import GradientBoostingClassifier  # noqa: PLC0415
        from sklearn.ensemble._gradient_boosting import predict_stages  # noqa: PLC0415

        if type(model) is not GradientBoostingClassifier or len(model.classes_) != 2:
            return None
        init = model._raw_predict_init(check.astype(np.float32))
        if not np.all(init == init[0, 0]):  # a non-constant init estimator: keep the public path
            return None
        start = float(init[0, 0])
        estimators, learning_rate = model.estimators_, model.learning_rate

        def score(matrix: npt.NDArray[np.float64]) -> Scores:
            rows = np.ascontiguousarray(matrix, dtype=np.float32)
            raw = np.full((rows.shape[0], 1), start)
            predict_stages(estimators, rows, learning_rate, raw)
            result: Scores = expit(raw[:, 0])
            return result

        expected = np.asarray(model.predict_proba(check), dtype=np.float64)[:, 1]
        if not np.allclose(score(check), expected, rtol=0.0, atol=1e-12):
            return None
        return score
    except Exception:
        logger.warning("direct gradient-boosting scorer unavailable; using predict_proba", exc_info=True)
        return None


def _check_rows() -> npt.NDArray[np.float64]:
    """The probe batch plus 256 seeded rows spread over every feature's interval."""
    low = np.array([feature.minimum for feature in FEATURES], dtype=np.float64)
    high = np.array([feature.maximum for feature in FEATURES], dtype=np.float64)
    rng = np.random.default_rng(0)
    spread = low + (high - low) * rng.random((256, len(FEATURES))) ** 4  # dense near the minima
    return np.vstack([probe_batch(), spread])


def _scorer(model: ProbabilityModel) -> Scorer:
    direct = _gradient_boosting_scorer(model, _check_rows())
    if direct is not None:
        return direct

    predict_proba = model.predict_proba

    def score(matrix: npt.NDArray[np.float64]) -> Scores:
        return np.asarray(predict_proba(matrix), dtype=np.float64)[:, -1]

    return score


def load_version(
    model_name: str, version: Any, tracking_uri: str | None = None, registry_uri: str | None = None
) -> LoadedModel:
    """Load and validate one registry version (an MLflow `ModelVersion`); blocking.

    `tracking_uri` and `registry_uri` (when given; the registry defaults to the tracking URI) become
    MLflow's URIs for the process: model URIs are resolved through them.

    Raises:
        ModelLoadError: it does not load, or scores the probe batch wrongly.
    """
    import mlflow  # noqa: PLC0415 - heavy; imported once, off the event loop

    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    registry = registry_uri or tracking_uri
    if registry is not None:
        mlflow.set_registry_uri(registry)
    number = str(version.version)
    uri = f"models:/{model_name}/{number}"
    started = time.perf_counter()
    flavor = str((getattr(version, "tags", None) or {}).get(FLAVOR_TAG, "")).lower()
    try:
        if not flavor:  # not made by the training workload: ask the model's own MLmodel file
            flavors = mlflow.models.get_model_info(uri).flavors
            flavor = Flavor.SKLEARN.value if Flavor.SKLEARN.value in flavors else Flavor.PYFUNC.value
        model = load_probability_model(uri, flavor)
        if not callable(getattr(model, "predict_proba", None)):
            raise ModelLoadError(f"version {number} ({flavor}): the model has no predict_proba")
        scorer = _scorer(model)
        probe = probe_batch()
        scores = scorer(probe)
    except ModelLoadError:
        raise
    except Exception as error:  # any failure to load or run means "not servable"
        raise ModelLoadError(
            f"version {number} ({flavor or 'unknown flavour'}) failed to load or score: "
            f"{type(error).__name__}: {one_line(error)}"
        ) from error
    if scores.shape != (probe.shape[0],):
        raise ModelLoadError(
            f"version {number}: scored {probe.shape[0]} probe rows with an array of shape {scores.shape}"
        )
    if not (np.isfinite(scores).all() and (scores >= 0.0).all() and (scores <= 1.0).all()):
        raise ModelLoadError(f"version {number}: probe scores are not finite probabilities in [0, 1]")
    return LoadedModel(
        version=number,
        flavor=flavor,
        run_id=getattr(version, "run_id", None),
        source=str(getattr(version, "source", "")),
        loaded_at=time.time(),
        load_s=time.perf_counter() - started,
        score=scorer,
    )


@dataclass(frozen=True)
class LoadFailure:
    """The last version that could not be served, and why."""

    version: str | None
    error: str
    time: float


class ModelManager:
    """Holds the served model and follows the alias; `current` is swapped in one assignment."""

    def __init__(
        self,
        *,
        model_name: str,
        registry_factory: Callable[[], Registry],
        events: EventLog,
        reload_interval_s: float,
        startup_retry_max_s: float,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        on_loaded: Callable[[LoadedModel, LoadedModel | None], None] = lambda new, old: None,
        on_failure: Callable[[LoadFailure], None] = lambda failure: None,
        alias: str = CHAMPION,
    ) -> None:
        """`on_loaded(new, old)` and `on_failure(failure)` run on the event loop (metrics)."""
        self.model_name = model_name
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.alias = alias
        self.current: LoadedModel | None = None
        self.last_failure: LoadFailure | None = None
        self.failures = 0
        self._registry_factory = registry_factory
        self._registry: Registry | None = None
        self._events = events
        self._interval = reload_interval_s
        self._retry_max = startup_retry_max_s
        self._on_loaded = on_loaded
        self._on_failure = on_failure
        self._failed_version: str | None = None
        self._failed_attempts = 0
        self._retry_at = 0.0
        self._registry_down = False

    def _resolve(self) -> Any:
        if self._registry is None:
            self._registry = self._registry_factory()
        return self._registry.get_model_version_by_alias(self.model_name, self.alias)

    async def _emit(self, event: EventType, **details: Any) -> None:
        await asyncio.to_thread(self._events.emit, event, **details)

    async def check_once(self) -> bool:
        """Resolve the alias and load its version when it moved; True when a model is being served."""
        try:
            version = await asyncio.to_thread(self._resolve)
        except Exception as error:  # noqa: BLE001 - the registry being down must not stop serving
            if not self._registry_down:
                self._registry_down = True
                logger.warning(
                    "registry unavailable", extra={"error": f"{type(error).__name__}: {error}"[:300]}
                )
                await self._emit(
                    EventType.DEPENDENCY_UNAVAILABLE,
                    dependency="model_registry",
                    model_name=self.model_name,
                    alias=self.alias,
                    error=one_line(error),
                    serving_version=self.current.version if self.current else None,
                )
            return self.current is not None
        self._registry_down = False
        number = str(version.version)
        if self.current is not None and self.current.version == number:
            return True
        if number == self._failed_version and time.monotonic() < self._retry_at:
            return self.current is not None
        try:
            loaded = await asyncio.to_thread(
                load_version, self.model_name, version, self.tracking_uri, self.registry_uri
            )
        except ModelLoadError as error:
            self._record_failure(number, str(error))
            await self._emit(
                EventType.MODEL_LOAD_FAILED,
                model_name=self.model_name,
                version=number,
                error=str(error),
                serving_version=self.current.version if self.current else None,
                attempt=self._failed_attempts,
            )
            return self.current is not None
        old = self.current
        self.current = loaded
        self._failed_version = None
        self._failed_attempts = 0
        self._on_loaded(loaded, old)
        logger.info(
            "model loaded",
            extra={"version": loaded.version, "flavor": loaded.flavor, "load_s": round(loaded.load_s, 3)},
        )
        await self._emit(
            EventType.MODEL_RELOADED,
            model_name=self.model_name,
            alias=self.alias,
            old_version=old.version if old else None,
            new_version=loaded.version,
            flavor=loaded.flavor,
            load_s=round(loaded.load_s, 3),
        )
        return True

    def _record_failure(self, number: str, error: str) -> None:
        self.failures += 1
        if number == self._failed_version:
            self._failed_attempts += 1
        else:
            self._failed_version, self._failed_attempts = number, 1
        # A broken version is retried with backoff (an artifact store can be briefly unreachable),
        # never more often than the poll interval and at most every 10 minutes once it keeps failing.
        delay = min(600.0, max(self._interval, 2.0**self._failed_attempts))
        self._retry_at = time.monotonic() + delay
        self.last_failure = LoadFailure(number, error, time.time())
        logger.error("model load failed", extra={"version": number, "error": error})
        self._on_failure(self.last_failure)

    async def run(self) -> None:
        """Poll forever: with backoff (0.5 s doubling to `startup_retry_max_s`) until a model is
        served, then every `reload_interval_s`."""
        delay = 0.5
        while True:
            try:
                serving = await self.check_once()
            except Exception:  # a bug in one poll must not end the reload loop
                logger.exception("reload check failed")
                serving = self.current is not None
            if serving:
                delay = 0.5
                await asyncio.sleep(self._interval)
            else:
                await asyncio.sleep(delay)
                delay = min(self._retry_max, delay * 2)
