"""The HTTP workload (Cloud Run / Azure Container Apps): `uvicorn rag.app:app`.

The model and the store load once, in the lifespan; requests only embed and query. Client mistakes
answer 4xx, never 5xx. Readiness costs nothing billed: it says the model is loaded and the store's client
built, without a request to the store (`GET /stats`, admin only, counts the stored chunks).

`POST /` receives Eventarc's Cloud Storage events (GcpServerlessRag's ingest service; binary content mode:
`ce-*` headers and a StorageObjectData JSON body). Only a process with `DOCUMENTS_BUCKET` set accepts them,
and only for that bucket; the caller is authenticated by Cloud Run, whose invoker check admits only the
trigger's service account (the service also takes internal traffic only). A bad document is acknowledged
(200, `"outcome": "rejected"`, logged as an error): Eventarc would otherwise redeliver it for a day.
Store and storage failures answer 503, which Eventarc retries with backoff.
"""

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from rag.answer import LlmError
from rag.chunking import DocumentError
from rag.logs import configure_logging
from rag.object_events import EventError, ObjectReader, gcs_event, is_permanent, one_line, sync_events
from rag.schemas import AnswerBody, AskRequest, IngestBody, IngestRequest
from rag.service import QuestionError, RagService, build_service
from rag.settings import load_settings
from rag.store import StoreError

logger = logging.getLogger("rag")


class Metrics:
    """Prometheus series of one app instance, on their own registry (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_requests",
            "Requests by endpoint and status code.",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rag_request_seconds",
            "Request latency by endpoint.",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=self.registry,
        )
        self.refusals = Counter(
            "rag_refusals", "Answers refused for lack of grounding.", registry=self.registry
        )
        self.ingested_chunks = Counter(
            "rag_ingested_chunks", "Chunks written by /ingest.", registry=self.registry
        )


def _default_factory() -> RagService:
    return build_service(load_settings(), create_store=True)


def _default_reader() -> ObjectReader:
    from rag.object_readers import GcsReader  # noqa: PLC0415 - only a process that receives events

    return GcsReader()


def create_app(
    service_factory: Callable[[], RagService] = _default_factory,
    reader_factory: Callable[[], ObjectReader] = _default_reader,
) -> FastAPI:
    """Build the app; `service_factory` runs once at start-up (tests pass one with a shared model), and
    `reader_factory` on the first object event."""
    metrics = Metrics()
    readers: list[ObjectReader] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging()
        started = time.perf_counter()
        app.state.service = service_factory()
        logger.info("ready", extra={"load_s": round(time.perf_counter() - started, 3)})
        yield
        app.state.service = None

    app = FastAPI(title="mlops-hub RAG", lifespan=lifespan)
    app.state.service = None

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - started
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(elapsed)
        if endpoint not in {"/healthz", "/readyz", "/metrics", "/"}:  # "/" logs per object
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": endpoint,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
        return response

    def service(request: Request) -> RagService:
        current = request.app.state.service
        if not isinstance(current, RagService):
            raise HTTPException(status_code=503, detail="not ready")
        return current

    def admin(
        rag: Annotated[RagService, Depends(service)], authorization: Annotated[str | None, Header()] = None
    ) -> None:
        settings = rag.settings
        if settings.admin_token is None:
            raise HTTPException(status_code=403, detail="ingestion is disabled: RAG_ADMIN_TOKEN is not set")
        expected = f"Bearer {settings.admin_token.get_secret_value()}"
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected.encode()):
            raise HTTPException(status_code=401, detail="a valid admin bearer token is required")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz(request: Request) -> JSONResponse:
        # No store request: probes run every few seconds, and on Firestore or Cosmos DB each is billed.
        if not isinstance(request.app.state.service, RagService):
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/stats", dependencies=[Depends(admin)])
    def stats(rag: Annotated[RagService, Depends(service)]) -> dict[str, int]:
        try:
            return {"chunks": rag.store.count()}
        except StoreError as err:
            raise HTTPException(status_code=503, detail=str(err)) from None

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/", include_in_schema=False)
    async def object_event(request: Request, rag: Annotated[RagService, Depends(service)]) -> JSONResponse:
        expected = rag.settings.documents_bucket
        if expected is None:
            raise HTTPException(status_code=404, detail="Not Found")
        try:
            event = gcs_event(request.headers, await request.body())
        except EventError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        if not readers:
            readers.append(reader_factory())
        # Embedding is CPU-bound and the storage SDKs block: off the event loop, like the sync routes.
        failures = await run_in_threadpool(sync_events, rag, readers[0], [event], expected)
        if not failures:
            return JSONResponse({"outcome": "synced", "source": event.key})
        if is_permanent(failures[0]):
            return JSONResponse({"outcome": "rejected", "source": event.key, "error": one_line(failures[0])})
        return JSONResponse({"detail": one_line(failures[0])}, status_code=503)

    @app.post("/query")
    @app.post("/ask")
    def ask(body: AskRequest, rag: Annotated[RagService, Depends(service)]) -> AnswerBody:
        try:
            answer = rag.ask(body.question)
        except QuestionError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        except LlmError as err:
            raise HTTPException(status_code=502, detail=str(err)) from None
        if answer.refused:
            metrics.refusals.inc()
        return AnswerBody.of(answer)

    @app.post("/ingest", dependencies=[Depends(admin)])
    def ingest(body: IngestRequest, rag: Annotated[RagService, Depends(service)]) -> IngestBody:
        try:
            result = rag.ingest_texts([(document.source, document.text) for document in body.documents])
        except DocumentError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        metrics.ingested_chunks.inc(result.chunks)
        return IngestBody(documents=result.documents, chunks=result.chunks, total_chunks=result.total_chunks)

    return app


app = create_app()
