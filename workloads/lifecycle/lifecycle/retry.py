"""Bounded, exponential-backoff retries of MLflow registry and tracking calls (tenacity).

MLflow's HTTP client retries on its own (7 times, backoff factor 2: minutes before it gives up), which
hides an outage behind a long silence. `bound_mlflow_http` turns that off and caps each request, so the
caller's `RegistryRetry` owns the whole budget: a few quick attempts, then one clear error.
"""

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_before_delay,
    wait_exponential,
)

T = TypeVar("T")

_TRANSIENT_ERROR_CODES = frozenset({"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED"})
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


class RegistryUnavailableError(RuntimeError):
    """The registry could not be reached within the retry budget; the message is one line."""


def bound_mlflow_http(request_timeout_s: int) -> None:
    """Make every MLflow HTTP request a single attempt of at most `request_timeout_s` seconds.

    MLflow reads these variables on each request, so calling this before the first one is enough.
    """
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, request_timeout_s))


def redact(uri: str) -> str:
    """A URI fit for logs and messages: `user:password@` removed."""
    return _CREDENTIALS.sub("", uri)


def is_transient(error: BaseException) -> bool:
    """Whether retrying could help: a connection failure or timeout anywhere in the exception chain,
    or an MLflow error code that means "try again later"."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            return True
        if isinstance(current, requests.exceptions.RetryError):
            return True
        if getattr(current, "error_code", None) in _TRANSIENT_ERROR_CODES:
            return True
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


def one_line(error: BaseException, limit: int = 300) -> str:
    """The error as a single line of at most `limit` characters, credentials redacted."""
    text = " ".join(str(error).split()) or type(error).__name__
    text = redact(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class RegistryRetry:
    """Retry policy: exponential backoff from `initial_backoff_s` up to `max_backoff_s` between
    attempts, giving up once `max_wait_s` has passed since the first attempt."""

    max_wait_s: float = 60.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def call(
        self,
        what: str,
        function: Callable[[], T],
        *,
        on_retry: Callable[[int, BaseException], None] | None = None,
    ) -> T:
        """Run `function`, retrying transient failures; other errors propagate unchanged.

        Args:
            what: what the call does, for the error message (`"load the champion"`).
            function: the call, without arguments.
            on_retry: told the attempt number and the error before each wait (for logs).

        Raises:
            RegistryUnavailableError: still failing transiently when the budget ran out.
        """

        def before_sleep(state: RetryCallState) -> None:
            if on_retry is not None and state.outcome is not None:
                error = state.outcome.exception()
                if error is not None:
                    on_retry(state.attempt_number, error)

        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_before_delay(self.max_wait_s),
            wait=wait_exponential(multiplier=self.initial_backoff_s, max=self.max_backoff_s),
            before_sleep=before_sleep,
            reraise=False,
        )
        try:
            return retrying(function)
        except RetryError as exhausted:
            attempts = exhausted.last_attempt.attempt_number
            cause = exhausted.last_attempt.exception()
            detail = one_line(cause) if cause is not None else "no result"
            raise RegistryUnavailableError(
                f"could not {what} after {attempts} attempts in {self.max_wait_s:g} s: {detail}"
            ) from cause
