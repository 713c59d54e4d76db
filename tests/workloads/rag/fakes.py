"""Fakes of the cloud SDK calls the RAG stores make, for the stores no real stand-in serves here.

Each fake implements only the client methods its store calls, records every request, and keeps the
service's documented behaviour that the store relies on; nothing else. They are fakes, not emulators:
what they accept was checked against the SDKs' own request models and documentation, not a service.
"""

import copy
import math
from collections.abc import Sequence
from typing import Any

import botocore.session  # type: ignore[import-untyped]
from azure.cosmos.exceptions import CosmosHttpResponseError, CosmosResourceNotFoundError
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from botocore.validate import validate_parameters  # type: ignore[import-untyped]

from rag.cosmos_store import COUNT_QUERY, NEAREST_QUERY, PARTITION_KEY_FIELD, STALE_QUERY


def cosine_similarity(left: Sequence[float], right: Sequence[float]) -> float:
    """Cosine of the angle between two vectors (1 = same direction)."""
    dot = sum(a * b for a, b in zip(left, right, strict=True))
    return dot / (math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right)))


def cosmos_error(status: int, message: str) -> CosmosHttpResponseError:
    """The error azure-cosmos raises for an HTTP status (404: its NotFound subclass)."""
    kind = CosmosResourceNotFoundError if status == 404 else CosmosHttpResponseError
    error: CosmosHttpResponseError = kind(status_code=status, message=message)  # type: ignore[no-untyped-call]
    return error


def _client_error(operation: str, code: str, message: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class FakeS3VectorsClient:
    """A fake of the five boto3 `s3vectors` calls `S3VectorsStore` makes; not S3 Vectors.

    Why a fake: moto 5.2.5 serves S3 Vectors' PutVectors, GetVectors, ListVectors and DeleteVectors
    (tests/workloads/rag/test_cloud_stores.py runs the store on it) but answers QueryVectors with 404.

    Every request is validated against botocore's own s3vectors service model (parameter names, types,
    list lengths: a request boto3 would refuse, this refuses) and recorded in `calls`. One index lives in
    memory; a vector of the wrong dimension is a ValidationException; QueryVectors ranks by cosine
    distance (1 - cosine similarity), nearest first, as S3 Vectors does for a cosine index; DeleteVectors
    of absent keys succeeds; ListVectors pages by `maxResults`/`nextToken`.
    """

    def __init__(self, bucket: str, index: str, dimension: int) -> None:
        self.bucket = bucket
        self.index = index
        self.dimension = dimension
        self.vectors: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: dict[str, ClientError] = {}
        """Operation name → the error its next calls raise."""
        self._model = botocore.session.get_session().get_service_model("s3vectors")

    def _request(self, operation: str, params: dict[str, Any]) -> None:
        validate_parameters(params, self._model.operation_model(operation).input_shape)
        self.calls.append((operation, copy.deepcopy(params)))
        if operation in self.fail_with:
            raise self.fail_with[operation]
        if (params["vectorBucketName"], params["indexName"]) != (self.bucket, self.index):
            raise _client_error(operation, "NotFoundException", "The specified index could not be found", 404)

    def _check_dimension(self, operation: str, vector: Sequence[float]) -> None:
        if len(vector) != self.dimension:
            raise _client_error(
                operation,
                "ValidationException",
                f"Invalid vector dimension: expected {self.dimension}, got {len(vector)}",
                400,
            )

    def put_vectors(self, **params: Any) -> dict[str, Any]:
        self._request("PutVectors", params)
        for vector in params["vectors"]:
            self._check_dimension("PutVectors", vector["data"]["float32"])
        for vector in params["vectors"]:
            self.vectors[vector["key"]] = {
                "data": list(vector["data"]["float32"]),
                "metadata": dict(vector.get("metadata", {})),
            }
        return {}

    def get_vectors(self, **params: Any) -> dict[str, Any]:
        self._request("GetVectors", params)
        found = []
        for key in params["keys"]:
            if key in self.vectors:
                entry: dict[str, Any] = {"key": key}
                if params.get("returnData"):
                    entry["data"] = {"float32": self.vectors[key]["data"]}
                if params.get("returnMetadata"):
                    entry["metadata"] = self.vectors[key]["metadata"]
                found.append(entry)
        return {"vectors": found}

    def delete_vectors(self, **params: Any) -> dict[str, Any]:
        self._request("DeleteVectors", params)
        for key in params["keys"]:
            self.vectors.pop(key, None)
        return {}

    def list_vectors(self, **params: Any) -> dict[str, Any]:
        self._request("ListVectors", params)
        keys = sorted(self.vectors)
        start = int(params.get("nextToken", "0"))
        end = start + params.get("maxResults", 500)
        response: dict[str, Any] = {"vectors": [{"key": key} for key in keys[start:end]]}
        if end < len(keys):
            response["nextToken"] = str(end)
        return response

    def query_vectors(self, **params: Any) -> dict[str, Any]:
        self._request("QueryVectors", params)
        query = params["queryVector"]["float32"]
        self._check_dimension("QueryVectors", query)
        ranked = sorted(
            (1.0 - cosine_similarity(query, entry["data"]), key) for key, entry in self.vectors.items()
        )[: params["topK"]]
        found = []
        for distance, key in ranked:
            entry: dict[str, Any] = {"key": key}
            if params.get("returnDistance"):
                entry["distance"] = distance
            if params.get("returnMetadata"):
                entry["metadata"] = self.vectors[key]["metadata"]
            found.append(entry)
        return {"vectors": found, "distanceMetric": "cosine"}


class FakeCosmosContainer:
    """A fake of the three `azure.cosmos.ContainerProxy` calls `CosmosStore` makes; not Cosmos DB.

    Why a fake: the Cosmos DB emulator needs Docker or Windows, neither of which is here.

    Items live in memory keyed by (partition key, id), the container's partition key being
    `/documentId` as in components/rag/azure_serverless_rag.py. `query_items` knows exactly the store's
    three queries (any other text raises, so a changed query must change this fake too) and
    implements them as Cosmos documents them: `VectorDistance` under a cosine policy is a similarity,
    `ORDER BY VectorDistance(...)` returns the most similar first, `TOP @k` limits; a query without a
    partition key needs `enable_cross_partition_query`. Item ids may not hold `/ \\ ? #`; deleting an
    absent item is a 404. Every call is recorded in `calls`.
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: dict[str, CosmosHttpResponseError] = {}
        """Method name → the error its next calls raise."""

    def _record(self, method: str, **arguments: Any) -> None:
        self.calls.append((method, copy.deepcopy(arguments)))
        if method in self.fail_with:
            raise self.fail_with[method]

    def upsert_item(self, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self._record("upsert_item", body=body, **kwargs)
        item_id = body.get("id")
        if not isinstance(item_id, str) or not item_id or any(c in item_id for c in "/\\?#"):
            raise cosmos_error(400, f"Id {item_id!r} is invalid")
        partition = body.get(PARTITION_KEY_FIELD)
        if not isinstance(partition, str):
            raise cosmos_error(400, "PartitionKey extracted from document is missing")
        self.items[(partition, item_id)] = copy.deepcopy(body)
        return copy.deepcopy(body)

    def query_items(
        self,
        query: str,
        parameters: list[dict[str, object]] | None = None,
        partition_key: str | None = None,
        enable_cross_partition_query: bool | None = None,
        **kwargs: Any,
    ) -> list[Any]:
        self._record(
            "query_items",
            query=query,
            parameters=parameters,
            partition_key=partition_key,
            enable_cross_partition_query=enable_cross_partition_query,
            **kwargs,
        )
        if partition_key is None and not enable_cross_partition_query:
            raise cosmos_error(400, "Cross partition query is required but disabled.")
        values = {str(p["name"]): p["value"] for p in parameters or []}
        items = [
            item for (partition, _), item in sorted(self.items.items()) if partition_key in (None, partition)
        ]
        if query == NEAREST_QUERY:
            embedding = values["@embedding"]
            assert isinstance(embedding, list)
            scored = sorted(
                (
                    {
                        PARTITION_KEY_FIELD: item[PARTITION_KEY_FIELD],
                        "chunk": item["chunk"],
                        "text": item["text"],
                        "similarity": cosine_similarity(embedding, item["embedding"]),
                    }
                    for item in items
                ),
                key=lambda row: -float(row["similarity"]),
            )
            top = values["@k"]
            assert isinstance(top, int)
            return scored[:top]
        if query == STALE_QUERY:
            first = values["@first"]
            assert isinstance(first, int)
            return [item["id"] for item in items if item["chunk"] >= first]
        if query == COUNT_QUERY:
            return [len(items)]
        raise AssertionError(f"FakeCosmosContainer does not know this query: {query}")

    def delete_item(self, item: str, partition_key: str, **kwargs: Any) -> None:
        self._record("delete_item", item=item, partition_key=partition_key, **kwargs)
        if self.items.pop((partition_key, item), None) is None:
            raise cosmos_error(404, "Entity with the specified id does not exist in the system.")


class MemoryObjects:
    """An in-memory `rag.object_events.ObjectReader`: objects by (bucket, key); not a cloud's storage.

    Used where the test is about the adapter (event shapes, responses, retries), not about reading a
    cloud's storage: the cloud readers themselves run on moto, gcp-storage-emulator and Azurite. Records
    every call in `calls`; `fail_with` makes the next calls raise.
    """

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.calls: list[tuple[str, str, str]] = []
        self.fail_with: Exception | None = None

    def size(self, bucket: str, key: str) -> int | None:
        self.calls.append(("size", bucket, key))
        if self.fail_with is not None:
            raise self.fail_with
        data = self.objects.get((bucket, key))
        return None if data is None else len(data)

    def read(self, bucket: str, key: str, limit: int) -> bytes:
        self.calls.append(("read", bucket, key))
        return self.objects[(bucket, key)][:limit]


class FakeQueueMessage:
    """The fields of an `azure.storage.queue.QueueMessage` the worker reads."""

    def __init__(self, message_id: str, content: str) -> None:
        self.id = message_id
        self.content = content
        self.dequeue_count = 0


class FakeStorageQueue:
    """A fake of the two `azure.storage.queue.QueueClient` calls the worker makes; not Queue Storage.

    Queue Storage semantics the worker relies on: a received message is hidden until its visibility
    timeout ends (here: until `expire_visibility()`), each receive increments `dequeue_count`, and
    `delete_message` removes it for good. Azurite runs the same worker in test_ingest_events.py.
    """

    def __init__(self) -> None:
        self.messages: list[FakeQueueMessage] = []
        self.hidden: set[str] = set()
        self.deleted: list[str] = []

    def send(self, message_id: str, content: str) -> None:
        self.messages.append(FakeQueueMessage(message_id, content))

    def receive_messages(self, **kwargs: Any) -> list[FakeQueueMessage]:
        limit = int(kwargs.get("max_messages") or 32)
        visible = [m for m in self.messages if m.id not in self.hidden][:limit]
        for message in visible:
            message.dequeue_count += 1
            self.hidden.add(message.id)
        return visible

    def delete_message(self, message: Any, pop_receipt: str | None = None, **kwargs: Any) -> None:
        self.messages = [m for m in self.messages if m.id != message.id]
        self.deleted.append(message.id)

    def expire_visibility(self) -> None:
        self.hidden.clear()
