"""Shared by every workload's tests: MLflow's process-wide URIs never leak from one test into the next."""

import os
import sys
from collections.abc import Iterator

import pytest

_MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
_AT_START = {name: os.environ.get(name) for name in _MLFLOW_URI_VARIABLES}
"""The variables as the session found them, before any fixture (session-scoped ones included) ran."""


@pytest.fixture(autouse=True)
def _reset_mlflow_uris() -> Iterator[None]:
    """`mlflow.set_tracking_uri`/`set_registry_uri` (called by the workloads in-process, as they do in their
    own processes, and by session fixtures) set module globals *and* environment variables, and a global
    URI outranks the variable. Left behind, one test's store silently becomes the next test's registry on
    the same xdist worker, so after every test both go back to how the session started."""
    yield
    if "mlflow" in sys.modules:
        import mlflow  # noqa: PLC0415 - only when a test imported it; the RAG tests never do

        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]  # None = back to the variable; typed as str only
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
    for name, value in _AT_START.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
