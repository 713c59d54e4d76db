"""Retries: transient errors are retried with backoff, then reported as one unavailable dependency."""

import pytest
from mlflow.exceptions import MlflowException

from monitoring.registry import Backoff, DependencyUnavailableError


def test_transient_errors_are_retried_until_success() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("capture volume not mounted yet")
        return "ok"

    assert Backoff(attempts=3, initial_s=0.001, max_s=0.002).call("capture storage", flaky) == "ok"
    assert len(calls) == 3


def test_exhausted_retries_name_the_dependency() -> None:
    def down() -> None:
        raise MlflowException("API request failed: connection refused")

    with pytest.raises(DependencyUnavailableError) as raised:
        Backoff(attempts=2, initial_s=0.001, max_s=0.002).call("model registry", down)
    assert raised.value.dependency == "model registry" and raised.value.attempts == 2
    assert "connection refused" in str(raised.value)


def test_programming_errors_are_not_retried() -> None:
    calls: list[int] = []

    def broken() -> None:
        calls.append(1)
        raise KeyError("version")

    with pytest.raises(KeyError):
        Backoff(attempts=5, initial_s=0.001).call("model registry", broken)
    assert len(calls) == 1
