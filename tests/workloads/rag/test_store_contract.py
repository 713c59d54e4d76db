"""One behavioural contract, every vector store: what `RagService` relies on, whatever the cloud.

| store | stand-in | why |
|---|---|---|
| chroma | the real embedded Chroma | it is the local store |
| firestore | the real Firestore emulator (google-cloud-cli), real google-cloud-firestore client | `find_nearest` works on it |
| s3vectors | `FakeS3VectorsClient` (requests validated against botocore's model) | moto 5.2.5 has no QueryVectors |
| cosmos | `FakeCosmosContainer` | the Cosmos DB emulator needs Docker |

Vectors are small hand-made ones, so expected distances are exact: cosine distance = 1 - cosine.
"""

import math
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rag.chunking import Chunk
from rag.cosmos_store import CosmosStore
from rag.firestore_store import FirestoreStore
from rag.s3vectors_store import S3VectorsStore
from rag.store import ChromaStore, Hit, VectorStore
from tests.workloads.rag.fakes import FakeCosmosContainer, FakeS3VectorsClient

if TYPE_CHECKING:
    from google.cloud import firestore

DIMENSION = 4
STORES = ["chroma", "s3vectors", "firestore", "cosmos"]

GUIDE = "guides/gpu nodes.md"
"""A source with a slash and a space: Firestore and Cosmos ids may hold neither `/` nor `#`."""


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def chunks(source: str, count: int) -> list[Chunk]:
    return [Chunk(source=source, index=i, text=f"{source} passage {i}") for i in range(count)]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VectorStore:
    kind = request.param
    if kind == "chroma":
        return ChromaStore(tmp_path / "chroma", "contract", create=True)
    if kind == "s3vectors":
        return S3VectorsStore(
            "contract-vectors",
            "documents",
            client=FakeS3VectorsClient("contract-vectors", "documents", DIMENSION),
        )
    if kind == "firestore":
        client: firestore.Client = request.getfixturevalue("firestore_client")
        # A fresh collection per test: the emulator lives for the whole session.
        return FirestoreStore(f"chunks-{uuid.uuid4().hex}", database="rag-vectors", client=client)
    return CosmosStore(
        "https://contract.documents.azure.com:443/", "rag", "chunks", client=FakeCosmosContainer(DIMENSION)
    )


def ids(hits: list[Hit]) -> list[str]:
    return [f"{hit.source}#{hit.chunk}" for hit in hits]


def test_empty_store_answers_nothing(store: VectorStore) -> None:
    assert store.count() == 0
    assert store.query(unit(1, 0, 0, 0), 3) == []


def test_query_returns_the_k_nearest_in_order_with_cosine_distances(store: VectorStore) -> None:
    vectors = {
        "a.md#0": unit(1, 0, 0, 0),
        "a.md#1": unit(1, 1, 0, 0),
        f"{GUIDE}#0": unit(0, 1, 0, 0),
        f"{GUIDE}#1": unit(-1, 0, 0, 0),
    }
    batch = chunks("a.md", 2) + chunks(GUIDE, 2)
    store.upsert(batch, [vectors[chunk.chunk_id] for chunk in batch])

    hits = store.query(unit(1, 0.2, 0, 0), 3)

    assert ids(hits) == ["a.md#0", "a.md#1", f"{GUIDE}#0"]
    query = unit(1, 0.2, 0, 0)
    for hit in hits:
        expected = 1 - sum(q * v for q, v in zip(query, vectors[f"{hit.source}#{hit.chunk}"], strict=True))
        assert hit.distance == pytest.approx(expected, abs=1e-5)
    assert hits[0].text == "a.md passage 0"
    assert store.count() == 4
    assert len(store.query(query, 10)) == 4


def test_reingesting_the_same_document_is_idempotent(store: VectorStore) -> None:
    batch = chunks("a.md", 3)
    vectors = [unit(1, i, 0, 0) for i in range(3)]
    store.upsert(batch, vectors)
    first = store.query(unit(1, 0, 0, 0), 5)

    store.upsert(batch, vectors)

    assert store.count() == 3
    assert store.query(unit(1, 0, 0, 0), 5) == first


def test_reingesting_a_shorter_document_drops_its_stale_chunks_only(store: VectorStore) -> None:
    store.upsert(chunks("a.md", 3) + chunks(GUIDE, 2), [unit(1, i, 0, 0) for i in range(5)])

    store.upsert([Chunk(source="a.md", index=0, text="new a.md")], [unit(0, 0, 1, 0)])

    assert store.count() == 3
    hits = store.query(unit(0, 0, 1, 0), 10)
    assert sorted(ids(hits)) == ["a.md#0", f"{GUIDE}#0", f"{GUIDE}#1"]
    assert (hits[0].source, hits[0].text) == ("a.md", "new a.md")
    assert hits[0].distance == pytest.approx(0.0, abs=1e-5)


def test_delete_document_removes_its_chunks_only(store: VectorStore) -> None:
    store.upsert(chunks("a.md", 2) + chunks(GUIDE, 3), [unit(1, i, 0, 0) for i in range(5)])

    store.delete_document(GUIDE)
    store.delete_document("never-ingested.md")

    assert store.count() == 2
    assert sorted(ids(store.query(unit(1, 0, 0, 0), 10))) == ["a.md#0", "a.md#1"]


def test_upsert_refuses_mismatched_lengths(store: VectorStore) -> None:
    with pytest.raises(ValueError, match="2 chunks but 1 embeddings"):
        store.upsert(chunks("a.md", 2), [unit(1, 0, 0, 0)])
    assert store.count() == 0


def test_many_chunks_of_one_document_round_trip(store: VectorStore) -> None:
    # More chunks than one GetVectors call checks (100): stale detection has to page.
    many = chunks("long.md", 130)
    store.upsert(many, [unit(1, i / 130, 0, 0) for i in range(130)])
    store.upsert(many[:5], [unit(1, i / 130, 0, 0) for i in range(5)])

    assert store.count() == 5
    store.delete_document("long.md")
    assert store.count() == 0
