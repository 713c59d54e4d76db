"""Vector stores behind one small Protocol; `ChromaStore` is the embedded, persistent one.

The cloud stores implement the same Protocol in their own modules (`rag.s3vectors_store`,
`rag.firestore_store`, `rag.cosmos_store`), imported only when selected: a cloud SDK costs a Lambda or
Cloud Run cold start its import time, so a process never imports one it does not use.

Every store keys a chunk by its source and index and keeps a document's chunks contiguous from 0: an
upsert writes chunks 0..n-1 of each document, then deletes that document's chunks from n on.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.chunking import Chunk

if TYPE_CHECKING:
    from chromadb.base_types import LiteralValue, LogicalOperator, Where, WhereOperator


class StoreError(RuntimeError):
    """The store is missing, unreadable or rejected a write; one line for the operator."""


@dataclass(frozen=True)
class Hit:
    """A retrieved passage and how far it is from the question (cosine distance, 0 = same direction)."""

    source: str
    chunk: int
    text: str
    distance: float


class VectorStore(Protocol):
    """What the service needs from any vector store."""

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        """Insert or overwrite chunks by id (`source#index`); a re-ingested document replaces its old chunks."""
        ...

    def query(self, embedding: Sequence[float], k: int) -> list[Hit]:
        """The `k` nearest chunks, nearest first."""
        ...

    def delete_document(self, source: str) -> None:
        """Remove every chunk of one document (nothing happens when it has none)."""
        ...

    def count(self) -> int:
        """Number of stored chunks."""
        ...


def check_batch(chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
    """Raise unless there is one embedding per chunk.

    Raises:
        ValueError: the lengths differ.
    """
    if len(chunks) != len(embeddings):
        raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")


def chunks_per_source(chunks: Sequence[Chunk]) -> dict[str, int]:
    """How many chunks each document has in a batch; its chunks from that number on are stale."""
    counts: dict[str, int] = {}
    for chunk in chunks:
        counts[chunk.source] = max(counts.get(chunk.source, 0), chunk.index + 1)
    return counts


class ChromaStore:
    """An embedded Chroma collection persisted under a directory, using cosine distance."""

    def __init__(self, path: Path, collection: str, *, create: bool) -> None:
        """Open (or with `create`, create) the store.

        Raises:
            StoreError: `create` is false and there is no store or no such collection at `path`.
        """
        # Imported here: chromadb's import costs about a second that `--help` and tests of pure code skip.
        import chromadb  # noqa: PLC0415
        from chromadb.config import Settings  # noqa: PLC0415
        from chromadb.errors import NotFoundError  # noqa: PLC0415

        if not create and not path.is_dir():
            raise StoreError(f"no RAG store at {path}; run `hub rag ingest DIR --store {path}` first")
        path.mkdir(parents=True, exist_ok=True)
        # Chroma caches one client per path string: a relative path would reach a store in another cwd.
        self._client = chromadb.PersistentClient(
            path=str(path.resolve()), settings=Settings(anonymized_telemetry=False, allow_reset=False)
        )
        try:
            if create:
                self._collection = self._client.get_or_create_collection(
                    collection, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
                )
            else:
                self._collection = self._client.get_collection(collection, embedding_function=None)
        except NotFoundError:
            raise StoreError(f"no collection {collection!r} in the RAG store at {path}") from None
        self._max_batch = self._client.get_max_batch_size()

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        """Insert or overwrite chunks, then drop chunks left over from a longer earlier version."""
        check_batch(chunks, embeddings)
        for start in range(0, len(chunks), self._max_batch):
            batch = chunks[start : start + self._max_batch]
            self._collection.upsert(
                ids=[chunk.chunk_id for chunk in batch],
                embeddings=np.asarray(embeddings[start : start + self._max_batch], dtype=np.float32),
                documents=[chunk.text for chunk in batch],
                metadatas=[{"source": chunk.source, "chunk": chunk.index} for chunk in batch],
            )
        for source, count in chunks_per_source(chunks).items():
            same_source: Where = {"source": source}
            from_count: dict[WhereOperator | LogicalOperator, LiteralValue] = {"$gte": count}
            later_chunk: Where = {"chunk": from_count}
            stale: Where = {"$and": [same_source, later_chunk]}
            self._collection.delete(where=stale)

    def delete_document(self, source: str) -> None:
        """Remove every chunk of one document."""
        same_source: Where = {"source": source}
        self._collection.delete(where=same_source)

    def query(self, embedding: Sequence[float], k: int) -> list[Hit]:
        """The `k` nearest chunks, nearest first."""
        if self._collection.count() == 0:
            return []
        result = self._collection.query(
            query_embeddings=np.asarray([embedding], dtype=np.float32),
            n_results=k,
            include=["documents", "metadatas", "distances"],
        )
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [
            Hit(
                source=str(metadata["source"]),
                chunk=int(str(metadata["chunk"])),
                text=document,
                distance=float(distance),
            )
            for document, metadata, distance in zip(documents, metadatas, distances, strict=True)
        ]

    def count(self) -> int:
        """Number of stored chunks."""
        return self._collection.count()
