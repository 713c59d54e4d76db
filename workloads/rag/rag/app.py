"""The HTTP workload (Cloud Run / Azure Container Apps): `uvicorn rag.app:app`.

The model and the store load once, in the lifespan; requests only embed and query. Client mistakes
answer 4xx, never 5xx.
"""

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from rag.answer import LlmError
from rag.chunking import DocumentError
from rag.logs import configure_logging
from rag.schemas import AnswerBody, AskRequest, IngestBody, IngestRequest
from rag.service import QuestionError, RagService, build_service
from rag.settings import load_settings

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


def create_app(service_factory: Callable[[], RagService] = _default_factory) -> FastAPI:
    """Build the app; `service_factory` runs once at start-up (tests pass one with a shared model)."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging()
        started = time.perf_counter()
        app.state.service = service_factory()
        logger.info(
            "ready",
            extra={
                "load_s": round(time.perf_counter() - started, 3),
                "chunks": app.state.service.store.count(),
            },
        )
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
        if endpoint not in {"/healthz", "/readyz", "/metrics"}:
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
        current = request.app.state.service
        if not isinstance(current, RagService):
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready", "chunks": current.store.count()})

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

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
