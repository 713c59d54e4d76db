"""The monitor's view of the MLflow registry: who is champion, its drift reference, and rollback.

Every call is retried with exponential backoff (tenacity); when the registry stays unreachable the call
raises `DependencyUnavailableError` and the cycle is skipped without moving the window. "Not found" answers
(no champion yet, no reference logged) are not outages: they come back as None.
"""

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from lifecycle.registry import CHAMPION, HOLDOUT_METRIC, PREVIOUS_CHAMPION, REFERENCE_ARTIFACT

T = TypeVar("T")

NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})
ROLLED_BACK_TAG = "rolled_back"
TRANSIENT = (MlflowException, OSError, requests.RequestException)


class DependencyUnavailableError(RuntimeError):
    """A dependency (registry, capture storage) failed every attempt."""

    def __init__(self, dependency: str, error: BaseException, attempts: int) -> None:
        """Name the dependency, the last error and how often it was tried."""
        super().__init__(f"{dependency} unavailable after {attempts} attempts: {error}")
        self.dependency = dependency
        self.error = error
        self.attempts = attempts


@dataclass(frozen=True)
class Backoff:
    """How a dependency call is retried."""

    attempts: int = 4
    initial_s: float = 1.0
    max_s: float = 30.0

    def call(self, dependency: str, function: Callable[[], T]) -> T:
        """Run `function`, retrying transient errors; raises DependencyUnavailableError when all attempts fail."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.initial_s, max=self.max_s),
            retry=retry_if_exception_type(TRANSIENT),
            reraise=True,
        )
        try:
            return retrying(function)
        except TRANSIENT as error:
            raise DependencyUnavailableError(dependency, error, self.attempts) from error


@dataclass(frozen=True)
class VersionInfo:
    """A model version as the monitor needs it."""

    version: str
    run_id: str | None
    tags: dict[str, str]


def _not_found(error: MlflowException) -> bool:
    return error.error_code in NOT_FOUND_CODES


class RegistryView:
    """Reads and moves the aliases of one registered model."""

    def __init__(self, model_name: str, backoff: Backoff, cache_dir: Path) -> None:
        """The tracking URI comes from MLflow's own settings (`MLFLOW_TRACKING_URI`), read on each call."""
        self.model_name = model_name
        self.backoff = backoff
        self.cache_dir = cache_dir
        self._references: dict[str, pd.DataFrame] = {}

    def _client(self) -> MlflowClient:
        return MlflowClient()

    def alias(self, alias: str) -> VersionInfo | None:
        """The version behind `alias`, or None when the model or the alias does not exist."""

        def lookup() -> VersionInfo | None:
            try:
                version = self._client().get_model_version_by_alias(self.model_name, alias)
            except MlflowException as error:
                if _not_found(error):
                    return None
                raise
            return VersionInfo(str(version.version), version.run_id, dict(version.tags or {}))

        return self.backoff.call("model registry", lookup)

    def reference(self, version: VersionInfo) -> pd.DataFrame | None:
        """The version's drift reference (`reference/reference.parquet` of its run), cached per version."""
        if version.version in self._references:
            return self._references[version.version]
        cached = self.cache_dir / f"reference-{self.model_name}-v{version.version}.parquet"
        if not cached.exists():
            if version.run_id is None:
                return None
            run_id = version.run_id

            def download() -> bool:
                with tempfile.TemporaryDirectory() as scratch:
                    try:
                        local = self._client().download_artifacts(run_id, REFERENCE_ARTIFACT, scratch)
                    except MlflowException as error:
                        if _not_found(error):
                            return False
                        raise
                    self.cache_dir.mkdir(parents=True, exist_ok=True)
                    partial = cached.with_name(f".{cached.name}.partial")
                    shutil.copyfile(local, partial)
                    partial.replace(cached)
                    return True

            if not self.backoff.call("model registry", download):
                return None
        frame = pd.read_parquet(cached)
        self._references[version.version] = frame
        return frame

    def holdout_metric(self, version: VersionInfo) -> float | None:
        """`holdout_roc_auc` as registered: the version's tag, else its run's metric."""
        if HOLDOUT_METRIC in version.tags:
            try:
                return float(version.tags[HOLDOUT_METRIC])
            except ValueError:
                pass
        if version.run_id is None:
            return None
        run_id = version.run_id

        def lookup() -> float | None:
            metrics: dict[str, Any] = self._client().get_run(run_id).data.metrics
            value = metrics.get(HOLDOUT_METRIC)
            return None if value is None else float(value)

        return self.backoff.call("model registry", lookup)

    def roll_back(self, demoted: VersionInfo, restored: VersionInfo, reason: str) -> None:
        """Point `champion` at `restored`, tag `demoted`, and drop `previous_champion`.

        The order matters for a crash in between: champion moves first (what serving follows); until the
        alias `previous_champion` is gone it equals the champion, which the monitor never compares.
        """
        client_call = self._client

        def move() -> None:
            client = client_call()
            client.set_registered_model_alias(self.model_name, CHAMPION, restored.version)
            for key, value in {
                ROLLED_BACK_TAG: "true",
                "rolled_back_reason": reason[:5000],
                "rolled_back_to": restored.version,
                "rolled_back_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }.items():
                client.set_model_version_tag(self.model_name, demoted.version, key, value)
            try:
                client.delete_registered_model_alias(self.model_name, PREVIOUS_CHAMPION)
            except MlflowException as error:
                if not _not_found(error):
                    raise

        self.backoff.call("model registry", move)
