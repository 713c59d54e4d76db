"""`S3VectorsStore`: chunks in an Amazon S3 Vectors index (the AWS serverless RAG's store).

Vector keys are chunk ids (`source#index`); metadata holds `source`, `chunk` and `text`. S3 Vectors
deletes by key only (DeleteVectors takes no filter), so stale chunks are found by key: a document's
chunks are contiguous from 0, and GetVectors on the next keys tells which of them exist. That needs only
GetVectors and DeleteVectors, the actions the component grants the ingest role.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from rag.chunking import Chunk
from rag.store import Hit, StoreError, check_batch, chunks_per_source

PUT_BATCH = 500
"""Most vectors one PutVectors call accepts."""
KEY_BATCH = 100
"""Most keys one GetVectors call accepts."""
LIST_PAGE = 1000
"""Most keys one ListVectors page returns."""


class S3VectorsClient(Protocol):
    """The calls this store makes on a boto3 `s3vectors` client."""

    def put_vectors(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_vectors(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_vectors(self, **kwargs: Any) -> dict[str, Any]: ...
    def list_vectors(self, **kwargs: Any) -> dict[str, Any]: ...
    def query_vectors(self, **kwargs: Any) -> dict[str, Any]: ...


def _default_client() -> S3VectorsClient:
    # Region and credentials come from the environment, as Lambda sets them.
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - only when this store is selected

    client: S3VectorsClient = boto3.client("s3vectors")
    return client


class S3VectorsStore:
    """An S3 Vectors index (float32, cosine distance), created by the infrastructure, never by this store."""

    def __init__(self, bucket: str, index: str, client: S3VectorsClient | None = None) -> None:
        """Address the index; the boto3 client is built on first use unless `client` is given."""
        self._bucket = bucket
        self._index = index
        self._given_client = client

    @property
    def _client(self) -> S3VectorsClient:
        if self._given_client is None:
            self._given_client = _default_client()
        return self._given_client

    @property
    def _target(self) -> dict[str, str]:
        return {"vectorBucketName": self._bucket, "indexName": self._index}

    @contextmanager
    def _call(self, operation: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]  # noqa: PLC0415

        try:
            yield
        except ClientError as err:
            error = err.response.get("Error", {})
            raise StoreError(
                f"S3 Vectors {operation} on index {self._index} of vector bucket {self._bucket} failed: "
                f"{error.get('Code', '?')}: {' '.join(str(error.get('Message', err)).split())}"
            ) from None
        except BotoCoreError as err:
            raise StoreError(
                f"S3 Vectors {operation} on {self._bucket}/{self._index} failed: {err}"
            ) from None

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        """Write chunks by key, then delete each document's chunks left over from a longer version."""
        check_batch(chunks, embeddings)
        vectors = [
            {
                "key": chunk.chunk_id,
                "data": {"float32": [float(value) for value in embedding]},
                "metadata": {"source": chunk.source, "chunk": chunk.index, "text": chunk.text},
            }
            for chunk, embedding in zip(chunks, embeddings, strict=True)
        ]
        with self._call("PutVectors"):
            for start in range(0, len(vectors), PUT_BATCH):
                self._client.put_vectors(**self._target, vectors=vectors[start : start + PUT_BATCH])
        for source, count in chunks_per_source(chunks).items():
            self._delete_from(source, count)

    def delete_document(self, source: str) -> None:
        """Remove every chunk of one document."""
        self._delete_from(source, 0)

    def _delete_from(self, source: str, first: int) -> None:
        start = first
        while True:
            keys = [f"{source}#{index}" for index in range(start, start + KEY_BATCH)]
            with self._call("GetVectors"):
                found = self._client.get_vectors(
                    **self._target, keys=keys, returnData=False, returnMetadata=False
                )["vectors"]
            existing = {str(vector["key"]) for vector in found}
            if existing:
                with self._call("DeleteVectors"):
                    self._client.delete_vectors(**self._target, keys=[k for k in keys if k in existing])
            # Chunks are contiguous: once a key in this run is missing, nothing lies beyond it.
            if keys[-1] not in existing:
                return
            start += KEY_BATCH

    def query(self, embedding: Sequence[float], k: int) -> list[Hit]:
        """The `k` nearest chunks, nearest first (S3 Vectors returns cosine distances, ascending)."""
        with self._call("QueryVectors"):
            found = self._client.query_vectors(
                **self._target,
                topK=k,
                queryVector={"float32": [float(value) for value in embedding]},
                returnMetadata=True,
                returnDistance=True,
            )["vectors"]
        hits = []
        for vector in found:
            metadata = vector.get("metadata") or {}
            try:
                hits.append(
                    Hit(
                        source=str(metadata["source"]),
                        chunk=int(metadata["chunk"]),
                        text=str(metadata["text"]),
                        distance=float(vector["distance"]),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise StoreError(
                    f"S3 Vectors index {self._index} holds vector {vector.get('key')!r} without "
                    "source/chunk/text metadata; it was not written by this workload"
                ) from None
        return sorted(hits, key=lambda hit: hit.distance)

    def count(self) -> int:
        """Number of stored chunks (ListVectors pages: one call per 1,000 vectors)."""
        total = 0
        token: str | None = None
        while True:
            page = {"nextToken": token} if token else {}
            with self._call("ListVectors"):
                response = self._client.list_vectors(
                    **self._target, maxResults=LIST_PAGE, returnData=False, returnMetadata=False, **page
                )
            total += len(response.get("vectors", []))
            token = response.get("nextToken")
            if not token:
                return total
