"""`FirestoreStore`: chunks as documents of a Firestore collection with vector search (the GCP store).

One document per chunk, id `sha256(source#index)` (document ids may not contain `/`, which sources do),
fields `source`, `chunk`, `text` and the vector field the collection's vector index covers. Stale and
deleted chunks are found with an equality filter on `source` only: a single-field index Firestore keeps
by default, where `source == x AND chunk >= n` would need a composite index the infrastructure lacks.
"""

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, cast

from rag.chunking import Chunk
from rag.store import Hit, StoreError, check_batch, chunks_per_source

if TYPE_CHECKING:
    from google.cloud.firestore import Client, CollectionReference
    from google.cloud.firestore_v1.vector_query import VectorQuery

WRITE_BATCH = 500
"""Most writes one Firestore batch commits."""
DISTANCE_FIELD = "vector_distance"
"""Result-only field the query's cosine distance is returned in (never stored)."""


def document_id(chunk_id: str) -> str:
    """The Firestore document id of a chunk: stable, and free of the `/` that paths contain."""
    return hashlib.sha256(chunk_id.encode("utf-8")).hexdigest()


class FirestoreStore:
    """A Firestore collection with a flat vector index on `embedding_field` (cosine distance)."""

    def __init__(
        self,
        collection: str,
        *,
        database: str = "(default)",
        embedding_field: str = "embedding",
        client: "Client | None" = None,
    ) -> None:
        """Address the collection; the client is built on first use unless `client` is given.

        The project comes from the environment (Cloud Run's metadata server, ADC, or
        `GOOGLE_CLOUD_PROJECT`); `FIRESTORE_EMULATOR_HOST` points the client at an emulator.
        """
        self._collection_id = collection
        self._database = database
        self._field = embedding_field
        self._given_client = client

    @property
    def _client(self) -> "Client":
        if self._given_client is None:
            from google.cloud import firestore  # noqa: PLC0415 - only when this store is selected

            self._given_client = firestore.Client(database=self._database)
        return self._given_client

    @property
    def _collection(self) -> "CollectionReference":
        return self._client.collection(self._collection_id)

    @contextmanager
    def _call(self, operation: str) -> Iterator[None]:
        from google.api_core.exceptions import GoogleAPIError  # noqa: PLC0415
        from google.auth.exceptions import GoogleAuthError  # noqa: PLC0415

        try:
            yield
        except (GoogleAPIError, GoogleAuthError) as err:
            raise StoreError(
                f"Firestore {operation} on collection {self._collection_id} of database {self._database} "
                f"failed: {' '.join(str(err).split())}"
            ) from None

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        """Write chunks by id, then delete each document's chunks left over from a longer version."""
        from google.cloud.firestore_v1.vector import Vector  # noqa: PLC0415

        check_batch(chunks, embeddings)
        collection = self._collection
        with self._call("write"):
            for start in range(0, len(chunks), WRITE_BATCH):
                batch = self._client.batch()
                for chunk, embedding in zip(
                    chunks[start : start + WRITE_BATCH], embeddings[start : start + WRITE_BATCH], strict=True
                ):
                    batch.set(
                        collection.document(document_id(chunk.chunk_id)),
                        {
                            "source": chunk.source,
                            "chunk": chunk.index,
                            "text": chunk.text,
                            self._field: Vector([float(value) for value in embedding]),
                        },
                    )
                batch.commit()
        for source, count in chunks_per_source(chunks).items():
            self._delete_from(source, count)

    def delete_document(self, source: str) -> None:
        """Remove every chunk of one document."""
        self._delete_from(source, 0)

    def _delete_from(self, source: str, first: int) -> None:
        from google.cloud.firestore import FieldFilter  # noqa: PLC0415

        collection = self._collection
        with self._call("delete"):
            same_source = collection.where(filter=FieldFilter("source", "==", source)).select(["chunk"])
            stale = [
                snapshot.reference
                for snapshot in same_source.stream()
                if int((snapshot.to_dict() or {}).get("chunk", first)) >= first
            ]
            for start in range(0, len(stale), WRITE_BATCH):
                batch = self._client.batch()
                for reference in stale[start : start + WRITE_BATCH]:
                    batch.delete(reference)
                batch.commit()

    def query(self, embedding: Sequence[float], k: int) -> list[Hit]:
        """The `k` nearest chunks, nearest first (`find_nearest`, cosine distance)."""
        from google.cloud.firestore_v1.base_vector_query import DistanceMeasure  # noqa: PLC0415
        from google.cloud.firestore_v1.vector import Vector  # noqa: PLC0415

        # The projection skips the stored vectors; it must name the distance field to return it.
        # Cast: the SDK annotates Query.find_nearest as returning the VectorQuery class, not an instance.
        nearest = cast(
            "VectorQuery",
            self._collection.select(["source", "chunk", "text", DISTANCE_FIELD]).find_nearest(
                vector_field=self._field,
                query_vector=Vector([float(value) for value in embedding]),
                distance_measure=DistanceMeasure.COSINE,
                limit=k,
                distance_result_field=DISTANCE_FIELD,
            ),
        )
        with self._call("find_nearest"):
            snapshots = nearest.get()
        hits = []
        for snapshot in snapshots:
            fields = snapshot.to_dict() or {}
            try:
                hits.append(
                    Hit(
                        source=str(fields["source"]),
                        chunk=int(fields["chunk"]),
                        text=str(fields["text"]),
                        distance=float(fields[DISTANCE_FIELD]),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise StoreError(
                    f"Firestore document {snapshot.id} in {self._collection_id} lacks source/chunk/text; "
                    "it was not written by this workload"
                ) from None
        return sorted(hits, key=lambda hit: hit.distance)

    def count(self) -> int:
        """Number of stored chunks (a COUNT aggregation: one read per 1,000 documents)."""
        with self._call("count"):
            [[result]] = self._collection.count().get()  # type: ignore[no-untyped-call]  # unannotated in the SDK
        return int(result.value)
