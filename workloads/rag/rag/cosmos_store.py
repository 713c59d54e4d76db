"""`CosmosStore`: chunks as items of a Cosmos DB for NoSQL container with vector search (the Azure store).

The container is the one `AzureServerlessRag` declares: partition key `/documentId`, a float32 cosine
vector embedding policy and a diskANN index on `/embedding`. One item per chunk: id `str(index)` inside
the partition of its document (`documentId` = source), so a document's chunks are one partition and its
stale or deleted chunks are found without a cross-partition query. Local (key) auth is disabled on the
account: the client authenticates with Entra ID (`DefaultAzureCredential`, the managed identity named by
`AZURE_CLIENT_ID` in Container Apps).
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from rag.chunking import Chunk
from rag.store import Hit, StoreError, check_batch, chunks_per_source

PARTITION_KEY_FIELD = "documentId"
"""The container's partition key path, without its slash (components/rag/azure_serverless_rag.py)."""
EMBEDDING_FIELD = "embedding"
"""The container's vector embedding path, without its slash."""

NEAREST_QUERY = (
    "SELECT TOP @k c.documentId, c.chunk, c.text, VectorDistance(c.embedding, @embedding) AS similarity "
    "FROM c ORDER BY VectorDistance(c.embedding, @embedding)"
)
"""Nearest chunks first. With the cosine policy VectorDistance is a similarity (1 = same direction)."""
STALE_QUERY = "SELECT VALUE c.id FROM c WHERE c.chunk >= @first"
"""Ids of a document's chunks from `@first` on (run inside the document's partition)."""
COUNT_QUERY = "SELECT VALUE COUNT(1) FROM c"


class CosmosContainer(Protocol):
    """The calls this store makes on an `azure.cosmos.ContainerProxy`."""

    def upsert_item(self, body: dict[str, Any], **kwargs: Any) -> Mapping[str, Any]: ...
    def query_items(
        self,
        query: str,
        parameters: list[dict[str, object]] | None = None,
        partition_key: str | None = None,
        enable_cross_partition_query: bool | None = None,
        **kwargs: Any,
    ) -> Iterable[Any]: ...
    def delete_item(self, item: str, partition_key: str, **kwargs: Any) -> None: ...


def _default_container(endpoint: str, database: str, container: str) -> CosmosContainer:
    # Imported only when this store is selected: azure-identity and azure-cosmos cost a cold start.
    from azure.cosmos import CosmosClient  # noqa: PLC0415
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415

    client = CosmosClient(endpoint, credential=DefaultAzureCredential())
    proxy: CosmosContainer = client.get_database_client(database).get_container_client(container)
    return proxy


class CosmosStore:
    """A Cosmos DB container created by the infrastructure, never by this store."""

    def __init__(
        self, endpoint: str, database: str, container: str, client: CosmosContainer | None = None
    ) -> None:
        """Address the container; the SDK client is built on first use unless `client` is given."""
        self._endpoint = endpoint
        self._database = database
        self._container_id = container
        self._given_container = client

    @property
    def _container(self) -> CosmosContainer:
        if self._given_container is None:
            self._given_container = _default_container(self._endpoint, self._database, self._container_id)
        return self._given_container

    @contextmanager
    def _call(self, operation: str) -> Iterator[None]:
        from azure.core.exceptions import AzureError  # noqa: PLC0415

        try:
            yield
        except AzureError as err:  # HTTP errors, timeouts, and credentials that found no identity
            status = getattr(err, "status_code", None)
            detail = " ".join(str(getattr(err, "message", None) or err).split())
            detail = detail.removeprefix(f"Status code: {status}").strip()
            raise StoreError(
                f"Cosmos DB {operation} on container {self._container_id} of database {self._database} "
                f"at {self._endpoint} failed{f' ({status})' if status else ''}: {detail[:300]}"
            ) from None

    def upsert(self, chunks: Sequence[Chunk], embeddings: Sequence[Sequence[float]]) -> None:
        """Write chunks by (document, index), then delete each document's chunks beyond the new ones."""
        check_batch(chunks, embeddings)
        with self._call("upsert"):
            for chunk, embedding in zip(chunks, embeddings, strict=True):
                self._container.upsert_item(
                    {
                        "id": str(chunk.index),
                        PARTITION_KEY_FIELD: chunk.source,
                        "chunk": chunk.index,
                        "text": chunk.text,
                        EMBEDDING_FIELD: [float(value) for value in embedding],
                    }
                )
        for source, count in chunks_per_source(chunks).items():
            self._delete_from(source, count)

    def delete_document(self, source: str) -> None:
        """Remove every chunk of one document."""
        self._delete_from(source, 0)

    def _delete_from(self, source: str, first: int) -> None:
        with self._call("delete"):
            stale = list(
                self._container.query_items(
                    STALE_QUERY, parameters=[{"name": "@first", "value": first}], partition_key=source
                )
            )
            for item_id in stale:
                self._container.delete_item(str(item_id), partition_key=source)

    def query(self, embedding: Sequence[float], k: int) -> list[Hit]:
        """The `k` nearest chunks, nearest first, as cosine distances (1 - similarity)."""
        parameters: list[dict[str, object]] = [
            {"name": "@k", "value": k},
            {"name": "@embedding", "value": [float(value) for value in embedding]},
        ]
        with self._call("vector query"):
            items = list(
                self._container.query_items(
                    NEAREST_QUERY, parameters=parameters, enable_cross_partition_query=True
                )
            )
        hits = []
        for item in items:
            try:
                hits.append(
                    Hit(
                        source=str(item[PARTITION_KEY_FIELD]),
                        chunk=int(item["chunk"]),
                        text=str(item["text"]),
                        distance=1.0 - float(item["similarity"]),
                    )
                )
            except (KeyError, TypeError, ValueError):
                raise StoreError(
                    f"Cosmos DB container {self._container_id} holds an item without documentId/chunk/text/"
                    "embedding; it was not written by this workload"
                ) from None
        return sorted(hits, key=lambda hit: hit.distance)

    def count(self) -> int:
        """Number of stored chunks (a cross-partition COUNT)."""
        with self._call("count"):
            return sum(
                int(value)
                for value in self._container.query_items(COUNT_QUERY, enable_cross_partition_query=True)
            )
