"""The prediction service: `create_app(settings)`, or `uvicorn --factory serving.app:app_factory`.

`POST /predict` is the hot path and is answered by `ServingApp.__call__` as plain ASGI before
Starlette's routing and middleware run: the body is read and parsed with orjson, checked with numpy
against the feature bounds, scored with the model's own `predict_proba`, and the response written
with orjson. The same handler also sits behind a regular FastAPI route (for the OpenAPI schema and
405s). Every other endpoint is an ordinary FastAPI route; all of them are timed by route and status.

Order of checks on /predict: API key (401), content type (415), body size (413), JSON and row count
(422), rate limit at one token per row (429 + Retry-After), extraction block when configured (403),
values against the feature contract (422), model loaded (503). A client mistake is never a 5xx.
"""

import asyncio
import gc
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager, suppress
from typing import Any, Final

import numpy as np
import orjson
from fastapi import FastAPI, Request, Response
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lifecycle.events import EventLog, EventType
from serving.auth import ApiKeys, RateLimiter
from serving.capture import CaptureBuffer, Taken, encode_predictions, request_ids
from serving.extraction import ExtractionDetector
from serving.metrics import ROUTES, Metrics
from serving.model import LoadedModel, LoadFailure, ModelManager, Registry
from serving.settings import ExtractionAction, ServingSettings, load_settings
from serving.tracing import Tracing, configure_tracing
from serving.validation import Matrix, RequestError, instances_of, parse_feedback, parse_json, to_matrix

logger = logging.getLogger("serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Reply = tuple[int, bytes, list[tuple[bytes, bytes]]]

_JSON: Final = [(b"content-type", b"application/json")]
GC_THRESHOLD: Final = (10_000, 50, 100)
"""Collector thresholds of a serving process once a model is loaded (see `Service._model_loaded`)."""
_ROUTE_SET: Final = frozenset(ROUTES)


class _DisconnectedError(Exception):
    """The client went away before sending its whole body."""


def _error(status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> Reply:
    return status, orjson.dumps({"detail": message}), _JSON + (extra or [])


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when it is larger than `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return dict(scope["headers"])


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class ServingApp(FastAPI):
    """FastAPI with the /predict fast path in front of Starlette's stack (see the module docstring)."""

    service: "Service"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer `POST /predict` directly; time every other HTTP request by route and status."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        if path == "/predict" and scope["method"] == "POST":
            status = await self.service.predict_asgi(scope, receive, send)
            self.service.metrics.observe("/predict", status, time.perf_counter() - started)
            return
        seen = [500]

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen[0] = message["status"]
            await send(message)

        try:
            await super().__call__(scope, receive, timed_send)
        finally:
            route = path if path in _ROUTE_SET else "other"
            self.service.metrics.observe(route, seen[0], time.perf_counter() - started)


class Service:
    """Everything one app instance holds: model manager, keys, limits, detector, capture, metrics."""

    def __init__(
        self,
        settings: ServingSettings,
        *,
        registry_factory: Callable[[], Registry] | None = None,
        tracing: Tracing | None = None,
        tune_gc: bool = False,
    ) -> None:
        """`registry_factory` defaults to an `MlflowClient` on `settings.tracking_uri`; `tune_gc`
        changes the process's garbage collector (for a serving process, not a test session)."""
        self.settings = settings
        self.tune_gc = tune_gc
        self.metrics = Metrics()
        self.keys = ApiKeys.from_file(settings.api_keys_file) if settings.api_keys_file else ApiKeys({})
        self.limiter = RateLimiter(settings.rate_per_s, settings.burst)
        self.detector = ExtractionDetector(
            window_s=settings.extraction_window_s,
            bins=settings.extraction_bins,
            min_rows=settings.extraction_min_rows,
            coverage=settings.extraction_coverage,
            max_rows=settings.extraction_max_rows,
        )
        self.block_flagged = settings.extraction_action is ExtractionAction.BLOCK
        self.events = EventLog(settings.events_path, echo=None if settings.events_path else sys.stdout)
        self.capture = CaptureBuffer(settings.capture_dir, max_records=settings.capture_max_records)
        self.tracing = tracing if tracing is not None else configure_tracing()
        self.manager = ModelManager(
            model_name=settings.model_name,
            registry_factory=registry_factory or self._mlflow_client,
            events=self.events,
            reload_interval_s=settings.reload_interval_s,
            startup_retry_max_s=settings.startup_retry_max_s,
            tracking_uri=settings.tracking_uri,
            registry_uri=settings.registry_uri,
            on_loaded=self._model_loaded,
            on_failure=self._model_failed,
        )
        self._flush_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._max_labels = 10 * settings.max_rows
        self._rate_limited_children: dict[str, Any] = {}
        self._flagged_keys: set[str] = set()
        self._unwritten: Taken | None = None

    def _mlflow_client(self) -> Registry:
        from mlflow import MlflowClient  # noqa: PLC0415 - heavy; imported off the event loop

        tracking, registry = self.settings.tracking_uri, self.settings.registry_uri
        client: Registry = MlflowClient(tracking_uri=tracking, registry_uri=registry or tracking)
        return client

    def _model_loaded(self, new: LoadedModel, old: LoadedModel | None) -> None:
        if old is not None:
            Metrics.remove(self.metrics.model_info, self.settings.model_name, old.version)
        self.metrics.model_info.labels(self.settings.model_name, new.version).set(1)
        self.metrics.reloads.inc()
        if self.tune_gc:
            # Everything alive now (MLflow, scikit-learn, the model: hundreds of thousands of objects)
            # lives as long as the process: move it out of the collector's reach, or every full
            # collection walks it (250 ms pauses about every second under load, measured). Requests
            # allocate many short-lived containers that reference counting frees; collecting young
            # objects every 700 allocations (the default) mostly walks pending capture batches.
            gc.freeze()
            gc.set_threshold(*GC_THRESHOLD)

    def _model_failed(self, failure: LoadFailure) -> None:
        self.metrics.load_failures.inc()

    # Lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start following the alias and flushing capture; returns at once (readiness comes later)."""
        self._flush_wanted = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self.manager.run(), name="serving-model-reload"),
            asyncio.create_task(self._flush_loop(), name="serving-capture-flush"),
        ]
        if not len(self.keys):
            logger.warning("no API keys configured: every /predict and /feedback request is refused (401)")

    async def stop(self) -> None:
        """Stop the background tasks, write what capture holds, flush spans."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._unwritten is not None:
            unwritten, self._unwritten = self._unwritten, None
            await asyncio.to_thread(self.capture.drain, unwritten)
        await asyncio.to_thread(self.capture.drain, self.capture.take())
        await asyncio.to_thread(self.tracing.shutdown)

    async def _flush_loop(self) -> None:
        while True:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._flush_wanted.wait(), self.settings.capture_flush_s)
            self._flush_wanted.clear()
            await self._flush()

    async def _flush(self) -> None:
        """Encode what capture holds on the loop, a step at a time with a turn for requests after
        each (see `serving.capture`), then write it in a worker thread."""
        batches, labels = self.capture.take()
        self.metrics.capture_pending.set(0)
        if not (batches or labels):
            return
        self._unwritten = (batches, labels)  # what `stop` still writes if cancelled while encoding
        encoded = []
        for step, ends_file in self.capture.steps(batches):
            encoded.append((encode_predictions(step), ends_file))
            await asyncio.sleep(0)
        self._unwritten = None
        try:
            await asyncio.to_thread(self.capture.write, encoded, labels)
        except OSError:
            logger.exception("capture write failed", extra={"capture_dir": str(self.settings.capture_dir)})

    # Requests ------------------------------------------------------------------------------------

    def _emit_soon(self, event: EventType, **details: Any) -> None:
        asyncio.get_running_loop().run_in_executor(None, lambda: self.events.emit(event, **details))

    def _authenticate(self, headers: dict[bytes, bytes]) -> str | None:
        presented = headers.get(b"x-api-key")
        if presented is None:
            return None
        try:
            return self.keys.identify(presented.decode("latin-1"))
        except UnicodeError:  # pragma: no cover - latin-1 decodes every byte
            return None

    def _limit(self, key_id: str, cost: float) -> Reply | None:
        wait = self.limiter.take(key_id, cost)
        if not wait:
            return None
        child = self._rate_limited_children.get(key_id)
        if child is None:
            child = self._rate_limited_children[key_id] = self.metrics.rate_limited.labels(key_id)
        child.inc()
        self.metrics.error("rate_limited")
        return _error(
            429,
            f"rate limit of {self.settings.rate_per_s:g} rows/s (burst {self.settings.burst:g}) exceeded",
            [(b"retry-after", RateLimiter.retry_after(wait).encode())],
        )

    async def predict_asgi(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Answer one /predict request over raw ASGI; returns the status sent."""
        headers = _headers(scope)
        span = None
        tracer = self.tracing.tracer
        if tracer is not None:
            parent = self.tracing.parent(
                (headers.get(b"traceparent") or b"").decode("latin-1") or None,
                (headers.get(b"tracestate") or b"").decode("latin-1") or None,
            )
            span = tracer.start_span("POST /predict", context=parent, kind=SpanKind.SERVER)
        try:
            status, body, extra = await self._predict(headers, receive, span)
        except _DisconnectedError:
            status, body, extra = 499, b"", []
        except Exception:  # answer 500 rather than drop the connection
            logger.exception("predict failed")
            self.metrics.error("internal")
            status, body, extra = _error(500, "internal error while predicting")
        if status != 499:
            headers_out = [(b"content-length", str(len(body)).encode()), *extra]
            await send({"type": "http.response.start", "status": status, "headers": headers_out})
            await send({"type": "http.response.body", "body": body})
        if span is not None:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()
        return status

    async def _predict(self, headers: dict[bytes, bytes], receive: Receive, span: Any) -> Reply:
        key_id = self._authenticate(headers)
        if key_id is None:
            self.metrics.error("unauthorized")
            return _error(401, "a valid X-API-Key header is required")
        if span is not None:
            span.set_attribute("serving.api_key_id", key_id)
        if not _is_json(headers.get(b"content-type")):
            self.metrics.error("unsupported_media_type")
            return _error(415, "send the body as JSON (Content-Type: application/json)")
        body = await _read_body(receive, self.settings.max_body_bytes)
        if body is None:
            self.metrics.error("too_large")
            return _error(413, f"the body is larger than {self.settings.max_body_bytes} bytes")
        try:
            rows = instances_of(parse_json(body), self.settings.max_rows)
        except RequestError as error:
            return self._limit(key_id, 1) or self._client_error(error)
        limited = self._limit(key_id, len(rows))
        if limited is not None:
            return limited
        if self.block_flagged and self.detector.is_flagged(key_id) and self.detector.judge(key_id).flagged:
            self.metrics.error("extraction_blocked")
            return _error(403, "this key is blocked: its queries look like a model-extraction sweep")
        try:
            matrix = to_matrix(rows)
        except RequestError as error:
            return self._client_error(error)
        model = self.manager.current
        if model is None:
            self.metrics.error("not_ready")
            return _error(503, "no model loaded yet", [(b"retry-after", b"5")])
        return self._answer(key_id, matrix, model, span)

    def _answer(self, key_id: str, matrix: Matrix, model: LoadedModel, span: Any) -> Reply:
        scores = model.score(matrix)
        labels = (scores >= self.settings.decision_threshold).astype(np.int8)
        token = os.urandom(8).hex()
        ids = request_ids(token, len(scores))
        version = model.version
        reply = orjson.dumps(
            {
                "model_version": version,
                "predictions": [
                    {"request_id": request_id, "score": score, "label": label}
                    for request_id, score, label in zip(ids, scores.tolist(), labels.tolist(), strict=True)
                ],
            }
        )
        self.metrics.predictions.inc(len(ids))
        self.capture.add_predictions(token, version, matrix, scores, labels, key_id)
        if self.capture.full:
            self._flush_wanted.set()
        verdict = self.detector.observe(key_id, matrix)
        if verdict.newly_flagged:
            self._flag(key_id)
        elif not verdict.flagged and key_id in self._flagged_keys:
            self._flagged_keys.discard(key_id)
            self.metrics.extraction_suspected.labels(key_id).set(0)
        if span is not None:
            span.set_attribute("serving.rows", len(ids))
            span.set_attribute("serving.model_version", version)
        return 200, reply, _JSON

    def _flag(self, key_id: str) -> None:
        self._flagged_keys.add(key_id)
        evidence = self.detector.evidence(key_id)
        self.metrics.extraction_suspected.labels(key_id).set(1)
        self.metrics.extraction_flags.labels(key_id).inc()
        action = self.settings.extraction_action.value
        logger.warning("extraction suspected", extra={**evidence, "action": action})
        self._emit_soon(EventType.EXTRACTION_SUSPECTED, action=action, **evidence)

    def _client_error(self, error: RequestError) -> Reply:
        self.metrics.error(error.reason)
        return _error(error.status, error.message)

    async def feedback(self, request: Request) -> Reply:
        """Answer one /feedback request: labels for earlier request ids, captured for the monitor."""
        headers = _headers(request.scope)
        key_id = self._authenticate(headers)
        if key_id is None:
            self.metrics.error("unauthorized")
            return _error(401, "a valid X-API-Key header is required")
        if not _is_json(headers.get(b"content-type")):
            self.metrics.error("unsupported_media_type")
            return _error(415, "send the body as JSON (Content-Type: application/json)")
        body = await _read_body(request.receive, self.settings.max_body_bytes)
        if body is None:
            self.metrics.error("too_large")
            return _error(413, f"the body is larger than {self.settings.max_body_bytes} bytes")
        limited = self._limit(key_id, 1)
        if limited is not None:
            return limited
        try:
            pairs = parse_feedback(body, self._max_labels)
        except RequestError as error:
            return self._client_error(error)
        self.capture.add_labels(pairs)
        self.metrics.feedback_labels.inc(len(pairs))
        if self.capture.full:
            self._flush_wanted.set()
        return 202, orjson.dumps({"accepted": len(pairs)}), _JSON

    def model_status(self) -> dict[str, Any]:
        """What /model reports."""
        current = self.manager.current
        failure = self.manager.last_failure
        return {
            "model_name": self.settings.model_name,
            "alias": self.manager.alias,
            "ready": current is not None,
            "version": current.version if current else None,
            "flavor": current.flavor if current else None,
            "run_id": current.run_id if current else None,
            "source": current.source if current else None,
            "loaded_at": current.loaded_at if current else None,
            "load_failures": self.manager.failures,
            "last_reload_error": (
                {"version": failure.version, "error": failure.error, "time": failure.time}
                if failure
                else None
            ),
        }


def _reply(reply: Reply) -> Response:
    status, body, headers = reply
    response = Response(body, status_code=status, media_type="application/json")
    for name, value in headers:
        if name != b"content-type":
            response.headers[name.decode()] = value.decode()
    return response


def create_app(
    settings: ServingSettings,
    *,
    registry_factory: Callable[[], Registry] | None = None,
    tracing: Tracing | None = None,
    tune_gc: bool = False,
) -> ServingApp:
    """The service as an ASGI app; the model loads in the background after start-up. `tune_gc`:
    freeze start-up objects and raise the collector's thresholds once a model is loaded (what
    `python -m serving` does; it changes the whole process)."""
    service = Service(settings, registry_factory=registry_factory, tracing=tracing, tune_gc=tune_gc)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = ServingApp(
        title="mlops-hub serving",
        summary="Fraud scores from the registry's champion model.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.service = service

    @app.post("/predict", status_code=200)
    async def predict(request: Request) -> Response:
        """`{"instances": [[...8 numbers...], ...]}` → `{"model_version", "predictions": [...]}`.

        Normally answered before routing (`ServingApp.__call__`); this route documents it."""
        sent: list[Message] = []

        async def collect(message: Message) -> None:
            sent.append(message)

        status = await service.predict_asgi(request.scope, request.receive, collect)
        headers = (
            [(bytes(name), bytes(value)) for name, value in sent[0]["headers"] if name != b"content-length"]
            if sent
            else []
        )
        return _reply((status, bytes(sent[1]["body"]) if sent else b"", headers))

    @app.post("/feedback", status_code=202)
    async def feedback(request: Request) -> Response:
        """`{"labels": [{"request_id", "label"}]}` → 202: delayed ground truth for the monitor."""
        return _reply(await service.feedback(request))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        """Readiness: 200 once a model is loaded (and from then on, even if a reload fails)."""
        current = service.manager.current
        if current is None:
            return _reply(_error(503, "no model loaded yet"))
        return _reply((200, orjson.dumps({"status": "ready", "model_version": current.version}), _JSON))

    @app.get("/model")
    async def model() -> Response:
        """The version served, where it came from, and the last reload error if any."""
        return _reply((200, orjson.dumps(service.model_status()), _JSON))

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus exposition of this process's series."""
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def app_factory() -> ServingApp:
    """`uvicorn --factory serving.app:app_factory`: settings from the environment."""
    return create_app(load_settings(), tune_gc=True)
