"""The cloud stores' exact requests, their error lines, and how settings select them.

The behaviour every store shares is in test_store_contract.py; here: what each store sends (index
names, keys, queries, partition keys, k, metadata), how results map into `Hit`, and that a cloud SDK is
imported only by the store that uses it. Stand-ins: moto's server for S3 Vectors' storage calls, the
Firestore emulator, and the fakes in fakes.py where no server answers (see their docstrings).
"""

import json
import math
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from rag import cosmos_store, s3vectors_store
from rag.chunking import Chunk
from rag.cosmos_store import COUNT_QUERY, NEAREST_QUERY, STALE_QUERY, CosmosStore
from rag.embedding import Embedder
from rag.firestore_store import DISTANCE_FIELD, FirestoreStore, document_id
from rag.lambda_handler import make_handler
from rag.s3vectors_store import S3VectorsStore
from rag.service import build_service, open_store
from rag.settings import SettingsError, VectorStoreKind, load_settings
from rag.store import ChromaStore, Hit, StoreError
from tests.workloads.rag.fakes import FakeCosmosContainer, FakeS3VectorsClient, cosmos_error

if TYPE_CHECKING:
    from google.cloud import firestore

REPO_ROOT = Path(__file__).resolve().parents[3]
BUCKET = "rag-vectors"
INDEX = "documents"
ENDPOINT = "https://ragdocs.documents.azure.com:443/"

AWS_ENV = {"RAG_VECTOR_STORE": "s3vectors", "VECTOR_BUCKET": BUCKET, "VECTOR_INDEX": INDEX}
"""What AwsServerlessRag passes its functions (components/rag/aws_serverless_rag.py)."""
GCP_ENV = {
    "RAG_VECTOR_STORE": "firestore",
    "FIRESTORE_DATABASE": "rag-vectors",
    "FIRESTORE_COLLECTION": "chunks",
    "EMBEDDING_FIELD": "embedding",
}
"""What GcpServerlessRag passes its services."""
AZURE_ENV = {
    "RAG_VECTOR_STORE": "cosmos",
    "COSMOS_ENDPOINT": ENDPOINT,
    "COSMOS_DATABASE": "rag",
    "COSMOS_CONTAINER": "chunks",
    "AZURE_CLIENT_ID": "00000000-0000-0000-0000-000000000000",
}
"""What AzureServerlessRag passes its apps."""
STORE_VARIABLES = sorted({*AWS_ENV, *GCP_ENV, *AZURE_ENV} - {"AZURE_CLIENT_ID"})


def near(value: float, tolerance: float = 1e-6) -> float:
    """`pytest.approx`, typed as the float it equals: `Hit` equality compares its fields."""
    return cast(float, pytest.approx(value, abs=tolerance))


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


@pytest.fixture(autouse=True)
def _clean_store_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STORE_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# --- settings select the store -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "kind", "store_type", "address"),
    [
        (AWS_ENV, VectorStoreKind.S3VECTORS, S3VectorsStore, (BUCKET, INDEX)),
        (GCP_ENV, VectorStoreKind.FIRESTORE, FirestoreStore, ("rag-vectors", "chunks", "embedding")),
        (
            AZURE_ENV,
            VectorStoreKind.COSMOS,
            CosmosStore,
            ("https://ragdocs.documents.azure.com/", "rag", "chunks"),
        ),
    ],
)
def test_component_environment_selects_its_store(
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    kind: VectorStoreKind,
    store_type: type,
    address: tuple[str, ...],
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    settings = load_settings()
    store = open_store(settings, create=False)

    assert settings.vector_store is kind
    assert isinstance(store, store_type)
    assert {
        VectorStoreKind.S3VECTORS: (settings.vector_bucket, settings.vector_index),
        VectorStoreKind.FIRESTORE: (
            settings.firestore_database,
            settings.firestore_collection,
            settings.embedding_field,
        ),
        VectorStoreKind.COSMOS: (
            str(settings.cosmos_endpoint),
            settings.cosmos_database,
            settings.cosmos_container,
        ),
    }[kind] == address


def test_chroma_is_the_default(tmp_path: Path) -> None:
    settings = load_settings(store_path=tmp_path / "store")
    assert settings.vector_store is VectorStoreKind.CHROMA
    assert isinstance(open_store(settings, create=True), ChromaStore)


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"RAG_VECTOR_STORE": "s3vectors", "VECTOR_INDEX": INDEX},
            "invalid RAG settings: RAG_VECTOR_STORE=s3vectors needs VECTOR_BUCKET to be set",
        ),
        (
            {"RAG_VECTOR_STORE": "firestore"},
            "invalid RAG settings: RAG_VECTOR_STORE=firestore needs FIRESTORE_COLLECTION to be set",
        ),
        (
            {"RAG_VECTOR_STORE": "cosmos", "COSMOS_DATABASE": "rag"},
            "invalid RAG settings: RAG_VECTOR_STORE=cosmos needs COSMOS_ENDPOINT, COSMOS_CONTAINER to be set",
        ),
        (
            {"RAG_VECTOR_STORE": "pinecone"},
            "invalid RAG settings: RAG_VECTOR_STORE: Input should be 'chroma', 's3vectors', 'firestore' or 'cosmos'",
        ),
        (
            {**AWS_ENV, "VECTOR_BUCKET": "Rag_Vectors"},
            "invalid RAG settings: VECTOR_BUCKET: String should match pattern '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$'",
        ),
        (
            {**AZURE_ENV, "COSMOS_ENDPOINT": "http://ragdocs.documents.azure.com/"},
            "invalid RAG settings: COSMOS_ENDPOINT http://ragdocs.documents.azure.com/ must be an https URL",
        ),
        (
            {"RAG_TOP_K": "0"},
            "invalid RAG settings: RAG_TOP_K: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_settings_fail_with_one_line(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], message: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError) as raised:
        load_settings()

    assert str(raised.value) == message


def test_an_unused_cloud_sdk_is_never_imported() -> None:
    """Start-up imports of the HTTP app and the Lambda adapter, and a cloud store until its first call."""
    probe = """
import json, sys
import rag.app, rag.lambda_handler
from rag.service import open_store
from rag.settings import load_settings
before = sorted({m.split(".")[0] + ("." + m.split(".")[1] if m.startswith(("google.", "azure.")) and "." in m else "")
                 for m in sys.modules if m.startswith(("boto3", "botocore", "google.cloud", "google.api_core", "azure"))})
store = open_store(load_settings(), create=False)
after = sorted({m.split(".")[0] + ("." + m.split(".")[1] if m.startswith(("google.", "azure.")) and "." in m else "")
                for m in sys.modules if m.startswith(("boto3", "botocore", "google.cloud", "google.api_core", "azure"))})
print(json.dumps([before, after, type(store).__name__]))
"""
    environment = {
        **{k: v for k, v in os.environ.items() if k not in STORE_VARIABLES},
        **AZURE_ENV,
        "PYTHONPATH": str(REPO_ROOT / "workloads" / "rag"),
    }
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
        cwd=REPO_ROOT,
    )
    before, after, store = json.loads(result.stdout.strip().splitlines()[-1])
    assert (before, after, store) == ([], [], "CosmosStore")


# --- S3 Vectors --------------------------------------------------------------------------------------


@pytest.fixture
def s3_fake() -> FakeS3VectorsClient:
    return FakeS3VectorsClient(BUCKET, INDEX, dimension=4)


def test_s3vectors_requests(s3_fake: FakeS3VectorsClient) -> None:
    store = S3VectorsStore(BUCKET, INDEX, client=s3_fake)
    store.upsert(
        [Chunk("docs/a.md", 0, "first"), Chunk("docs/a.md", 1, "second")],
        [unit(1, 0, 0, 0), unit(0, 1, 0, 0)],
    )
    hits = store.query(unit(1, 0, 0, 0), 2)

    target = {"vectorBucketName": BUCKET, "indexName": INDEX}
    assert s3_fake.calls == [
        (
            "PutVectors",
            {
                **target,
                "vectors": [
                    {
                        "key": "docs/a.md#0",
                        "data": {"float32": [1.0, 0.0, 0.0, 0.0]},
                        "metadata": {"source": "docs/a.md", "chunk": 0, "text": "first"},
                    },
                    {
                        "key": "docs/a.md#1",
                        "data": {"float32": [0.0, 1.0, 0.0, 0.0]},
                        "metadata": {"source": "docs/a.md", "chunk": 1, "text": "second"},
                    },
                ],
            },
        ),
        (
            "GetVectors",
            {
                **target,
                "keys": [f"docs/a.md#{i}" for i in range(2, 102)],
                "returnData": False,
                "returnMetadata": False,
            },
        ),
        (
            "QueryVectors",
            {
                **target,
                "topK": 2,
                "queryVector": {"float32": [1.0, 0.0, 0.0, 0.0]},
                "returnMetadata": True,
                "returnDistance": True,
            },
        ),
    ]
    assert hits == [
        Hit(source="docs/a.md", chunk=0, text="first", distance=near(0.0)),
        Hit(source="docs/a.md", chunk=1, text="second", distance=near(1.0)),
    ]


def test_s3vectors_batches_puts_and_pages_counts(s3_fake: FakeS3VectorsClient) -> None:
    store = S3VectorsStore(BUCKET, INDEX, client=s3_fake)
    many = [Chunk("big.md", i, f"passage {i}") for i in range(1201)]

    store.upsert(many, [unit(1, i, 0, 0) for i in range(1201)])
    total = store.count()

    operations = [operation for operation, _ in s3_fake.calls]
    puts = [params for operation, params in s3_fake.calls if operation == "PutVectors"]
    assert [len(params["vectors"]) for params in puts] == [500, 500, 201]
    lists = [params for operation, params in s3_fake.calls if operation == "ListVectors"]
    assert total == 1201
    assert [params.get("nextToken") for params in lists] == [None, "1000"]
    assert {params["maxResults"] for params in lists} == {1000}
    assert operations.count("DeleteVectors") == 0


def test_s3vectors_deletes_stale_keys_it_found(s3_fake: FakeS3VectorsClient) -> None:
    store = S3VectorsStore(BUCKET, INDEX, client=s3_fake)
    store.upsert([Chunk("a.md", i, "t") for i in range(3)], [unit(1, i, 0, 0) for i in range(3)])
    s3_fake.calls.clear()

    store.upsert([Chunk("a.md", 0, "t")], [unit(1, 0, 0, 0)])

    assert [(operation, params.get("keys")) for operation, params in s3_fake.calls[1:]] == [
        ("GetVectors", [f"a.md#{i}" for i in range(1, 101)]),
        ("DeleteVectors", ["a.md#1", "a.md#2"]),
    ]


def test_s3vectors_errors_are_one_line(s3_fake: FakeS3VectorsClient) -> None:
    s3_fake.fail_with["QueryVectors"] = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "User is not\nauthorized"}}, "QueryVectors"
    )
    store = S3VectorsStore(BUCKET, INDEX, client=s3_fake)

    with pytest.raises(StoreError) as raised:
        store.query(unit(1, 0, 0, 0), 3)

    assert str(raised.value) == (
        f"S3 Vectors QueryVectors on index {INDEX} of vector bucket {BUCKET} failed: "
        "AccessDeniedException: User is not authorized"
    )
    with pytest.raises(StoreError, match="NotFoundException"):
        S3VectorsStore(BUCKET, "other-index", client=s3_fake).count()


def test_s3vectors_wrong_dimension_is_a_store_error(s3_fake: FakeS3VectorsClient) -> None:
    with pytest.raises(StoreError, match="ValidationException: Invalid vector dimension: expected 4, got 3"):
        S3VectorsStore(BUCKET, INDEX, client=s3_fake).upsert([Chunk("a.md", 0, "t")], [[1.0, 0.0, 0.0]])


def test_s3vectors_foreign_vectors_are_reported(s3_fake: FakeS3VectorsClient) -> None:
    s3_fake.vectors["other"] = {"data": unit(1, 0, 0, 0), "metadata": {"title": "not ours"}}

    with pytest.raises(StoreError, match="holds vector 'other' without source/chunk/text metadata"):
        S3VectorsStore(BUCKET, INDEX, client=s3_fake).query(unit(1, 0, 0, 0), 1)


@pytest.fixture
def moto_s3vectors(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 s3vectors client on moto's server (127.0.0.1), with the bucket and index created."""
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("s3vectors", endpoint_url=f"http://{host}:{port}", region_name="eu-west-1")
        client.create_vector_bucket(vectorBucketName=BUCKET)
        client.create_index(
            vectorBucketName=BUCKET, indexName=INDEX, dataType="float32", dimension=4, distanceMetric="cosine"
        )
        yield client
    finally:
        server.stop()


def test_s3vectors_storage_calls_on_moto(moto_s3vectors: Any) -> None:
    """Upsert, stale deletion, delete-by-document and count through real boto3 requests (moto has no query)."""
    store = S3VectorsStore(BUCKET, INDEX, client=moto_s3vectors)
    store.upsert(
        [Chunk("a.md", i, f"a{i}") for i in range(3)] + [Chunk("docs/b.md", 0, "b0")],
        [unit(1, i, 0, 0) for i in range(4)],
    )
    assert store.count() == 4

    store.upsert([Chunk("a.md", 0, "a0 again")], [unit(0, 0, 1, 0)])
    listed = moto_s3vectors.list_vectors(vectorBucketName=BUCKET, indexName=INDEX, returnMetadata=True)
    assert sorted(v["key"] for v in listed["vectors"]) == ["a.md#0", "docs/b.md#0"]
    assert {v["key"]: v["metadata"] for v in listed["vectors"]}["a.md#0"] == {
        "source": "a.md",
        "chunk": 0,
        "text": "a0 again",
    }

    store.delete_document("docs/b.md")
    assert store.count() == 1


# --- Cosmos DB --------------------------------------------------------------------------------------


@pytest.fixture
def cosmos_fake() -> FakeCosmosContainer:
    return FakeCosmosContainer(dimension=4)


def test_cosmos_requests(cosmos_fake: FakeCosmosContainer) -> None:
    store = CosmosStore(ENDPOINT, "rag", "chunks", client=cosmos_fake)
    store.upsert([Chunk("docs/a.md", 0, "first")], [unit(1, 0, 0, 0)])
    hits = store.query(unit(1, 1, 0, 0), 3)
    total = store.count()

    assert cosmos_fake.calls == [
        (
            "upsert_item",
            {
                "body": {
                    "id": "0",
                    "documentId": "docs/a.md",
                    "chunk": 0,
                    "text": "first",
                    "embedding": [1.0, 0.0, 0.0, 0.0],
                }
            },
        ),
        (
            "query_items",
            {
                "query": STALE_QUERY,
                "parameters": [{"name": "@first", "value": 1}],
                "partition_key": "docs/a.md",
                "enable_cross_partition_query": None,
            },
        ),
        (
            "query_items",
            {
                "query": NEAREST_QUERY,
                "parameters": [{"name": "@k", "value": 3}, {"name": "@embedding", "value": unit(1, 1, 0, 0)}],
                "partition_key": None,
                "enable_cross_partition_query": True,
            },
        ),
        (
            "query_items",
            {
                "query": COUNT_QUERY,
                "parameters": None,
                "partition_key": None,
                "enable_cross_partition_query": True,
            },
        ),
    ]
    assert hits == [Hit("docs/a.md", 0, "first", near(1 - math.sqrt(0.5)))]
    assert total == 1


def test_cosmos_deletes_stale_items_inside_the_document_partition(cosmos_fake: FakeCosmosContainer) -> None:
    store = CosmosStore(ENDPOINT, "rag", "chunks", client=cosmos_fake)
    store.upsert([Chunk("a.md", i, "t") for i in range(3)], [unit(1, i, 0, 0) for i in range(3)])
    cosmos_fake.calls.clear()

    store.delete_document("a.md")

    assert cosmos_fake.calls == [
        (
            "query_items",
            {
                "query": STALE_QUERY,
                "parameters": [{"name": "@first", "value": 0}],
                "partition_key": "a.md",
                "enable_cross_partition_query": None,
            },
        ),
        ("delete_item", {"item": "0", "partition_key": "a.md"}),
        ("delete_item", {"item": "1", "partition_key": "a.md"}),
        ("delete_item", {"item": "2", "partition_key": "a.md"}),
    ]


def test_cosmos_errors_are_one_line(cosmos_fake: FakeCosmosContainer) -> None:
    cosmos_fake.fail_with["query_items"] = cosmos_error(
        403,
        "Request blocked by Auth ragdocs :\nThe given request [POST /dbs/rag/colls/chunks/docs] cannot be authorized",
    )
    store = CosmosStore(ENDPOINT, "rag", "chunks", client=cosmos_fake)

    with pytest.raises(StoreError) as raised:
        store.query(unit(1, 0, 0, 0), 2)

    assert str(raised.value) == (
        f"Cosmos DB vector query on container chunks of database rag at {ENDPOINT} failed (403): "
        "Request blocked by Auth ragdocs : The given request [POST /dbs/rag/colls/chunks/docs] cannot be authorized"
    )


# --- Firestore (emulator) ---------------------------------------------------------------------------


def test_firestore_documents_and_query(firestore_client: "firestore.Client") -> None:
    from google.cloud.firestore_v1.vector import Vector  # noqa: PLC0415

    collection = f"chunks-{uuid.uuid4().hex}"
    store = FirestoreStore(collection, database="rag-vectors", embedding_field="vec", client=firestore_client)
    store.upsert(
        [Chunk("docs/a.md", 0, "first"), Chunk("docs/a.md", 1, "second")],
        [unit(1, 0, 0, 0), unit(0, 1, 0, 0)],
    )

    stored = {
        snapshot.id: snapshot.to_dict() or {} for snapshot in firestore_client.collection(collection).stream()
    }
    assert stored == {
        document_id("docs/a.md#0"): {
            "source": "docs/a.md",
            "chunk": 0,
            "text": "first",
            "vec": Vector(unit(1, 0, 0, 0)),
        },
        document_id("docs/a.md#1"): {
            "source": "docs/a.md",
            "chunk": 1,
            "text": "second",
            "vec": Vector(unit(0, 1, 0, 0)),
        },
    }
    assert store.query(unit(0, 1, 0, 0), 1) == [Hit("docs/a.md", 1, "second", near(0.0))]
    assert DISTANCE_FIELD not in {key for fields in stored.values() for key in fields}


def test_firestore_foreign_documents_are_reported(firestore_client: "firestore.Client") -> None:
    from google.cloud.firestore_v1.vector import Vector  # noqa: PLC0415

    collection = f"chunks-{uuid.uuid4().hex}"
    firestore_client.collection(collection).document("other").set({"embedding": Vector(unit(1, 0, 0, 0))})

    with pytest.raises(StoreError, match=f"Firestore document other in {collection} lacks source/chunk/text"):
        FirestoreStore(collection, database="rag-vectors", client=firestore_client).query(unit(1, 0, 0, 0), 1)


# --- the service on a cloud store ---------------------------------------------------------------------


def test_lambda_answers_from_s3vectors(
    monkeypatch: pytest.MonkeyPatch, embedder: Embedder, corpus: Path
) -> None:
    """The Lambda path as deployed: settings from the component's environment, the store they select."""
    fake = FakeS3VectorsClient(BUCKET, INDEX, dimension=embedder.dimension)
    monkeypatch.setattr(s3vectors_store, "_default_client", lambda: fake)
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    service = build_service(load_settings(), create_store=False, embedder=embedder)
    assert service.ingest([corpus]).total_chunks == 4

    handler = make_handler(lambda: service)
    response = handler(
        {
            "rawPath": "/ask",
            "requestContext": {"http": {"method": "POST", "path": "/ask"}},
            "body": json.dumps({"question": "Which taint do GPU nodes carry?"}),
        },
        None,
    )

    body = json.loads(response["body"])
    assert response["statusCode"] == 200
    assert body["citations"][0]["label"] == "[1] gpu-node-pools.md#0"
    assert "NoSchedule" in body["text"]


def test_service_on_cosmos_refuses_off_topic_questions(
    monkeypatch: pytest.MonkeyPatch, embedder: Embedder, corpus: Path
) -> None:
    fake = FakeCosmosContainer(dimension=embedder.dimension)
    monkeypatch.setattr(cosmos_store, "_default_container", lambda *_: fake)
    for name, value in AZURE_ENV.items():
        monkeypatch.setenv(name, value)
    service = build_service(load_settings(), create_store=True, embedder=embedder)
    service.ingest([corpus])

    assert service.ask("What is the best recipe for sourdough bread?").refused
    answer = service.ask("Which taint do GPU nodes carry?")
    assert answer.citations[0].label == "[1] gpu-node-pools.md#0"
