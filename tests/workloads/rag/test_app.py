"""The HTTP workload through FastAPI's TestClient (lifespan included)."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from rag.app import create_app
from rag.service import RagService

TOKEN = "test-admin-token"


@pytest.fixture
def client(ingested: RagService) -> Iterator[TestClient]:
    """The app over the ingested corpus, with ingestion enabled by an admin token."""
    service = RagService(
        ingested.settings.model_copy(update={"admin_token": SecretStr(TOKEN)}),
        ingested._embedder,
        ingested.store,
        ingested._answerer,
    )
    with TestClient(create_app(lambda: service)) as test_client:
        yield test_client


class CountingStore:
    """The service's store, counting the requests a probe would make to it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.requests = 0

    def __getattr__(self, name: str) -> Any:
        self.requests += 1
        return getattr(self.inner, name)


def test_health_and_readiness_make_no_store_request(ingested: RagService) -> None:
    store = CountingStore(ingested.store)
    service = RagService(ingested.settings, ingested._embedder, store, ingested._answerer)
    with TestClient(create_app(lambda: service)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}
    # Probes run every few seconds; on Firestore and Cosmos DB each store request is billed.
    assert store.requests == 0


def test_stats_count_chunks_for_admins_only(client: TestClient) -> None:
    assert client.get("/stats").status_code == 401
    assert client.get("/stats", headers={"Authorization": f"Bearer {TOKEN}"}).json() == {"chunks": 4}


def test_not_ready_before_start_up(ingested: RagService) -> None:
    app = create_app(lambda: ingested)
    client = TestClient(app)  # no `with`: the lifespan has not run
    assert client.get("/readyz").status_code == 503
    assert client.post("/ask", json={"question": "Anything?"}).status_code == 503


def test_ask_answers_with_citations(client: TestClient) -> None:
    response = client.post(
        "/ask", json={"question": "How long are inference request logs with personal data kept?"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["refused"] is False
    assert body["citations"][0]["label"] == "[1] data-retention.md#0"
    assert "thirty days" in body["text"]


def test_query_is_the_same_route(client: TestClient) -> None:
    """`POST /query` is AwsServerlessRag's route; the container answers it too."""
    question = {"question": "How long are inference request logs with personal data kept?"}
    assert client.post("/query", json=question).json() == client.post("/ask", json=question).json()


def test_ask_refuses_off_topic(client: TestClient) -> None:
    body = client.post("/ask", json={"question": "What is the best recipe for sourdough bread?"}).json()
    assert body["refused"] is True and body["citations"] == []


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": 42},
        {"question": "x" * 2001},
        {"question": "ok", "extra": 1},
    ],
)
def test_ask_bad_input_is_422(client: TestClient, payload: object) -> None:
    assert client.post("/ask", json=payload).status_code == 422


def test_ask_malformed_json_is_422(client: TestClient) -> None:
    response = client.post("/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_ingest_needs_the_admin_token(client: TestClient) -> None:
    body = {"documents": [{"source": "new.md", "text": "Backups run nightly at 02:00 UTC."}]}
    assert client.post("/ingest", json=body).status_code == 401
    assert client.post("/ingest", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_ingest_disabled_without_a_token(ingested: RagService) -> None:
    with TestClient(create_app(lambda: ingested)) as client:
        body = {"documents": [{"source": "new.md", "text": "Text."}]}
        assert client.post("/ingest", json=body, headers={"Authorization": "Bearer x"}).status_code == 403


def test_ingest_then_ask(client: TestClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"documents": [{"source": "backups.md", "text": "Database backups run nightly at 02:00 UTC."}]}
    response = client.post("/ingest", json=body, headers=auth)
    assert response.status_code == 200
    assert response.json() == {"documents": 1, "chunks": 1, "total_chunks": 5}
    answer = client.post("/ask", json={"question": "When do database backups run?"}).json()
    assert answer["citations"][0]["source"] == "backups.md"


@pytest.mark.parametrize(
    ("documents", "status"),
    [
        ([{"source": "a.md", "text": "ok"}, {"source": "b.md", "text": "  "}], 422),
        ([{"source": "a.md", "text": "nul \u0000 here"}], 422),
        ([{"source": "a.md", "text": "x" * 1_000_001}], 422),
        ([{"source": "a#1.md", "text": "hash in source"}], 422),
        ([], 422),
    ],
)
def test_ingest_bad_documents_write_nothing(
    client: TestClient, documents: list[dict[str, str]], status: int
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = client.post("/ingest", json={"documents": documents}, headers=auth)
    assert response.status_code == status
    assert client.get("/stats", headers=auth).json()["chunks"] == 4


def test_metrics_count_requests_and_refusals(client: TestClient) -> None:
    client.post("/ask", json={"question": "What is the best recipe for sourdough bread?"})
    client.post("/ask", json={})
    text = client.get("/metrics").text
    assert 'rag_requests_total{code="200",endpoint="/ask"} 1.0' in text
    assert 'rag_requests_total{code="422",endpoint="/ask"} 1.0' in text
    assert "rag_refusals_total 1.0" in text
    assert 'rag_request_seconds_count{endpoint="/ask"} 2.0' in text
