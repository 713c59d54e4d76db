"""Documents landing in (and leaving) the documents bucket, through the adapter each component invokes.

- AWS: S3 event notifications (direct, and wrapped in SQS messages) into the Lambda handler; objects on
  moto's S3 server (started and stopped here, 127.0.0.1), vectors in `FakeS3VectorsClient`.
- GCP: Eventarc CloudEvents (binary mode) into `POST /` of the app; `GcsReader` on gcp-storage-emulator.
- Azure: Event Grid messages in a storage queue, drained by `rag.queue_worker`; Azurite end to end, and
  `FakeStorageQueue` for the retry rules.
The emulators are skipped where not installed; moto is a dev dependency and always runs.
"""

import base64
import json
import logging
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from rag import queue_worker
from rag.answer import ExtractiveAnswerer
from rag.app import create_app
from rag.chunking import DocumentError
from rag.embedding import Embedder
from rag.lambda_handler import IngestFailedError, make_handler
from rag.object_events import (
    EventError,
    ObjectEvent,
    SyncOutcome,
    blob_events,
    gcs_event,
    s3_events,
    sync_object,
)
from rag.object_readers import BlobReader, GcsReader, S3Reader
from rag.s3vectors_store import S3VectorsStore
from rag.service import RagService
from rag.settings import RagSettings
from tests.workloads.rag.conftest import AZURITE_ACCOUNT, AZURITE_KEY
from tests.workloads.rag.fakes import FakeS3VectorsClient, FakeStorageQueue, MemoryObjects

BUCKET = "rag-documents-123456789012-eu-west-1"
GCS_BUCKET = "proj-rag-documents"
CONTAINER = "documents"
GPU_QUESTION = "Which taint do GPU nodes carry?"


@pytest.fixture
def rag_log() -> Iterator[list[logging.LogRecord]]:
    """Records of the `rag` logger (which stops propagating once the JSON formatter is configured)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect()
    logger = logging.getLogger("rag")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _failures(records: list[logging.LogRecord]) -> list[str]:
    return [
        str(r.__dict__["error"])
        for r in records
        if r.getMessage() in {"object not synced", "message not synced"}
    ]


def _service(embedder: Embedder, store: Any, **settings: Any) -> RagService:
    rag_settings = RagSettings(**settings)
    return RagService(rag_settings, embedder, store, ExtractiveAnswerer(rag_settings.max_distance))


# --- parsing: the exact shapes the clouds deliver ----------------------------------------------------


def s3_record(event_name: str, key: str, bucket: str = BUCKET, size: int = 10) -> dict[str, Any]:
    """An S3 event notification record (event structure version 2.1), key encoded as S3 encodes it."""
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": "2026-11-28T12:00:00.000Z",
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "tf-s3-lambda-1",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": size, "sequencer": "0A1B"},
        },
    }


def test_s3_keys_are_decoded_as_s3_encodes_them() -> None:
    events = s3_events(
        {
            "Records": [
                s3_record("ObjectCreated:Put", "docs/GPU node pools.md"),
                s3_record("ObjectRemoved:DeleteMarkerCreated", "a+b & c%.md"),
            ]
        }
    )
    assert events == [
        ObjectEvent(BUCKET, "docs/GPU node pools.md", "ObjectCreated:Put"),
        ObjectEvent(BUCKET, "a+b & c%.md", "ObjectRemoved:DeleteMarkerCreated"),
    ]
    assert events[0].key != urllib.parse.quote_plus("docs/GPU node pools.md", safe="/")


def test_s3_test_event_holds_no_object_events() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    assert s3_events(test_event) == []


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**s3_record("ObjectCreated:Put", "a.md"), "eventSource": "aws:sns"}, "not an S3 object event"),
        (s3_record("ObjectRestore:Completed", "a.md"), "eventName 'ObjectRestore:Completed'"),
        ({**s3_record("ObjectCreated:Put", "a.md"), "s3": {}}, "without s3.bucket.name"),
    ],
)
def test_s3_records_that_are_not_object_events(record: dict[str, Any], message: str) -> None:
    with pytest.raises(EventError, match=message):
        s3_events({"Records": [record]})


def gcs_headers(
    event_type: str = "google.cloud.storage.object.v1.finalized", name: str = "a.md"
) -> dict[str, str]:
    """The binary-mode CloudEvent headers Eventarc sends for a Cloud Storage event."""
    return {
        "ce-id": "1234567890",
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{GCS_BUCKET}",
        "ce-specversion": "1.0",
        "ce-type": event_type,
        "ce-subject": f"objects/{name}",
        "ce-time": "2026-11-28T12:00:00.000Z",
        "content-type": "application/json",
    }


def gcs_body(name: str, size: int = 10, bucket: str = GCS_BUCKET) -> bytes:
    """StorageObjectData as Eventarc sends it (size and generation are strings)."""
    return json.dumps(
        {
            "kind": "storage#object",
            "bucket": bucket,
            "name": name,
            "generation": "1732795200000000",
            "metageneration": "1",
            "contentType": "text/markdown",
            "size": str(size),
        }
    ).encode()


def test_gcs_events() -> None:
    event = gcs_event(gcs_headers("google.cloud.storage.object.v1.archived"), gcs_body("docs/x y.md"))
    assert event == ObjectEvent(GCS_BUCKET, "docs/x y.md", "google.cloud.storage.object.v1.archived")
    with pytest.raises(EventError, match=r"ce-type 'google\.cloud\.pubsub\.topic\.v1\.messagePublished'"):
        gcs_event(gcs_headers("google.cloud.pubsub.topic.v1.messagePublished"), gcs_body("a.md"))
    with pytest.raises(EventError, match="without a JSON body naming bucket and name"):
        gcs_event(gcs_headers(), b'{"bucket": "b"}')


def blob_event(event_type: str, name: str, container: str = CONTAINER) -> dict[str, Any]:
    """An Event Grid (EventGridSchema) blob event from a storage account's system topic."""
    account = "ragragdocs"
    return {
        "topic": f"/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/{account}",
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "eventType": event_type,
        "eventTime": "2026-11-28T12:00:00.0000000Z",
        "id": str(uuid.uuid4()),
        "data": {
            "api": "PutBlob" if event_type.endswith("Created") else "DeleteBlob",
            "contentType": "text/markdown",
            "contentLength": 10,
            "blobType": "BlockBlob",
            "url": f"https://{account}.blob.core.windows.net/{container}/{urllib.parse.quote(name)}",
            "sequencer": "00000000000000000000000000000001",
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


def test_blob_events_plain_or_base64() -> None:
    created = blob_event("Microsoft.Storage.BlobCreated", "docs/x y.md")
    expected = [ObjectEvent(CONTAINER, "docs/x y.md", "Microsoft.Storage.BlobCreated")]
    assert blob_events(json.dumps(created)) == expected
    assert blob_events(base64.b64encode(json.dumps(created).encode()).decode()) == expected
    assert blob_events(json.dumps([created])) == expected
    with pytest.raises(EventError, match=r"eventType 'Microsoft\.EventGrid\.SubscriptionValidationEvent'"):
        blob_events(json.dumps({**created, "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent"}))
    with pytest.raises(EventError, match="not a blob subject"):
        blob_events(json.dumps({**created, "subject": "/blobServices/default/containers/documents"}))
    with pytest.raises(EventError, match="neither JSON nor Base64"):
        blob_events("{not json")


# --- syncing one object: the rules every cloud shares ----------------------------------------------


@pytest.fixture
def memory() -> MemoryObjects:
    return MemoryObjects()


@pytest.fixture
def local(tmp_path: Path, embedder: Embedder) -> RagService:
    from rag.store import ChromaStore  # noqa: PLC0415

    return _service(
        embedder, ChromaStore(tmp_path / "store", "docs", create=True), documents_bucket=GCS_BUCKET
    )


def test_sync_ingests_replaces_and_deletes(local: RagService, memory: MemoryObjects, corpus: Path) -> None:
    event = ObjectEvent(GCS_BUCKET, "ops/gpu.md", "any")
    memory.objects[(GCS_BUCKET, "ops/gpu.md")] = (corpus / "gpu-node-pools.md").read_bytes()

    assert sync_object(local, memory, event).outcome is SyncOutcome.INGESTED
    assert local.ask(GPU_QUESTION).citations[0].label == "[1] ops/gpu.md#0"

    del memory.objects[(GCS_BUCKET, "ops/gpu.md")]
    assert sync_object(local, memory, event).outcome is SyncOutcome.DELETED
    assert local.store.count() == 0
    # A late duplicate of the creation finds the object gone and deletes again (idempotent).
    assert sync_object(local, memory, event).outcome is SyncOutcome.DELETED


@pytest.mark.parametrize(
    ("key", "data", "message"),
    [
        ("big.md", b"y" * 1001, "big.md: file too large (1001 bytes; the limit is 1000)"),
        ("bin.txt", b"\x7fELF\x00", "bin.txt: binary file (NUL byte at offset 4)"),
        ("empty.md", b"", "empty.md: empty file"),
        ("latin1.md", "café".encode("latin-1"), "latin1.md: not UTF-8 text (invalid byte at offset 3)"),
        ("report.pdf", b"%PDF-1.7", "report.pdf: not a text document (ingested: .markdown, .md, .rst, .txt)"),
        ("a#1.md", b"text", "'a#1.md': a document name may not contain '#'"),
    ],
)
def test_bad_objects_are_refused_before_any_write(
    tmp_path: Path, embedder: Embedder, memory: MemoryObjects, key: str, data: bytes, message: str
) -> None:
    from rag.store import ChromaStore  # noqa: PLC0415

    service = _service(
        embedder,
        ChromaStore(tmp_path / "s", "docs", create=True),
        documents_bucket=GCS_BUCKET,
        max_file_bytes=1000,
    )
    memory.objects[(GCS_BUCKET, key)] = data
    with pytest.raises(DocumentError) as refused:
        sync_object(service, memory, ObjectEvent(GCS_BUCKET, key, "any"))
    assert str(refused.value).startswith(message)
    assert service.store.count() == 0
    # An oversize object is refused on its size alone: never downloaded.
    if key == "big.md":
        assert [call[0] for call in memory.calls] == ["size"]


def test_folder_markers_and_removed_non_documents_are_skipped(
    local: RagService, memory: MemoryObjects
) -> None:
    assert sync_object(local, memory, ObjectEvent(GCS_BUCKET, "docs/", "any")).outcome is SyncOutcome.SKIPPED
    assert sync_object(local, memory, ObjectEvent(GCS_BUCKET, "x.pdf", "any")).outcome is SyncOutcome.SKIPPED
    assert memory.calls == [("size", GCS_BUCKET, "x.pdf")]


# --- AWS: the ingest Lambda on moto's S3 --------------------------------------------------------------


class RecordingS3:
    """A real boto3 client (on moto), recording which calls the reader makes."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"head_object {kwargs['Key']}")
        result: dict[str, Any] = self.client.head_object(**kwargs)
        return result

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"get_object {kwargs['Key']}")
        result: dict[str, Any] = self.client.get_object(**kwargs)
        return result


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 S3 client on moto's server (127.0.0.1, started and stopped here), with the documents bucket
    versioned as the component makes it."""
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
        # moto's backends live in this process, shared by every server it starts: begin from nothing.
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=10).raise_for_status()
        client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="eu-west-1")
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client
    finally:
        server.stop()


@pytest.fixture
def vectors(embedder: Embedder) -> FakeS3VectorsClient:
    return FakeS3VectorsClient("rag-vectors", "documents", dimension=embedder.dimension)


@pytest.fixture
def aws(
    moto_s3: Any, vectors: FakeS3VectorsClient, embedder: Embedder
) -> tuple[Any, RecordingS3, RagService]:
    """The ingest Lambda's handler as deployed: settings as the component sets them."""
    service = _service(
        embedder,
        S3VectorsStore("rag-vectors", "documents", client=vectors),
        vector_store="s3vectors",
        vector_bucket="rag-vectors",
        vector_index="documents",
        documents_bucket=BUCKET,
        max_file_bytes=2000,
    )
    recording = RecordingS3(moto_s3)
    return make_handler(lambda: service, lambda: S3Reader(recording)), recording, service


def test_lambda_ingests_new_objects_and_removes_deleted_ones(
    aws: tuple[Any, RecordingS3, RagService], moto_s3: Any, vectors: FakeS3VectorsClient, corpus: Path
) -> None:
    handler, _, service = aws
    key = "runbooks/GPU node pools.md"
    moto_s3.put_object(Bucket=BUCKET, Key=key, Body=(corpus / "gpu-node-pools.md").read_bytes())

    assert handler({"Records": [s3_record("ObjectCreated:Put", key)]}, None) == {"synced": 1}
    assert sorted(vectors.vectors) == [f"{key}#0"]
    # Ingestion never counts the index: the component's ingest role has no s3vectors:ListVectors.
    assert {operation for operation, _ in vectors.calls} == {"PutVectors", "GetVectors"}
    assert service.ask(GPU_QUESTION).citations[0].label == f"[1] {key}#0"

    moto_s3.delete_object(Bucket=BUCKET, Key=key)  # versioned: a delete marker
    assert handler({"Records": [s3_record("ObjectRemoved:DeleteMarkerCreated", key)]}, None) == {"synced": 1}
    assert vectors.vectors == {}
    assert "ListVectors" not in {operation for operation, _ in vectors.calls}


def test_lambda_reports_bad_objects_and_still_syncs_the_good_ones(
    aws: tuple[Any, RecordingS3, RagService],
    moto_s3: Any,
    vectors: FakeS3VectorsClient,
    corpus: Path,
    rag_log: list[logging.LogRecord],
) -> None:
    handler, recording, _ = aws
    moto_s3.put_object(Bucket=BUCKET, Key="good.md", Body=(corpus / "on-call.txt").read_bytes())
    moto_s3.put_object(Bucket=BUCKET, Key="huge.md", Body=b"x" * 5000)
    moto_s3.put_object(Bucket=BUCKET, Key="blob.txt", Body=b"\x00\x01")
    event = {
        "Records": [
            s3_record("ObjectCreated:Put", "huge.md"),
            s3_record("ObjectCreated:Put", "blob.txt"),
            s3_record("ObjectCreated:Put", "good.md"),
        ]
    }

    # Raised, so Lambda retries the event and finally dead-letters it (the component's DLQ).
    with pytest.raises(
        IngestFailedError,
        match=r"^2 of 3 objects not synced; first: huge.md: file too large \(5000 bytes; the limit is 2000\)$",
    ):
        handler(event, None)
    assert sorted(vectors.vectors) == ["good.md#0"]
    assert _failures(rag_log) == [
        "huge.md: file too large (5000 bytes; the limit is 2000)",
        "blob.txt: binary file (NUL byte at offset 0)",
    ]
    assert "get_object huge.md" not in recording.calls  # refused on its ContentLength


def test_lambda_refuses_events_of_another_bucket(aws: tuple[Any, RecordingS3, RagService]) -> None:
    handler, recording, _ = aws
    with pytest.raises(IngestFailedError, match="refused: the documents bucket is rag-documents"):
        handler({"Records": [s3_record("ObjectCreated:Put", "a.md", bucket="elsewhere")]}, None)
    assert recording.calls == []


def test_lambda_without_documents_bucket_refuses_object_events(
    embedder: Embedder, vectors: FakeS3VectorsClient, memory: MemoryObjects
) -> None:
    """The query function gets no DOCUMENTS_BUCKET: an object event sent to it changes nothing."""
    service = _service(embedder, S3VectorsStore("rag-vectors", "documents", client=vectors))
    handler = make_handler(lambda: service, lambda: memory)
    with pytest.raises(IngestFailedError, match="no documents bucket configured"):
        handler({"Records": [s3_record("ObjectCreated:Put", "a.md")]}, None)
    assert memory.calls == []


def test_lambda_behind_sqs_returns_the_failed_messages(
    aws: tuple[Any, RecordingS3, RagService], moto_s3: Any, vectors: FakeS3VectorsClient, corpus: Path
) -> None:
    handler, _, _ = aws
    moto_s3.put_object(Bucket=BUCKET, Key="good.md", Body=(corpus / "on-call.txt").read_bytes())
    moto_s3.put_object(Bucket=BUCKET, Key="empty.md", Body=b"")

    def message(message_id: str, body: str) -> dict[str, Any]:
        return {
            "messageId": message_id,
            "receiptHandle": "AQEB",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:rag-ingest",
            "awsRegion": "eu-west-1",
        }

    response = handler(
        {
            "Records": [
                message("m-good", json.dumps({"Records": [s3_record("ObjectCreated:Put", "good.md")]})),
                message("m-empty", json.dumps({"Records": [s3_record("ObjectCreated:Put", "empty.md")]})),
                message("m-test", json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})),
                message("m-junk", "not json"),
            ]
        },
        None,
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-empty"}, {"itemIdentifier": "m-junk"}]}
    assert sorted(vectors.vectors) == ["good.md#0"]


def test_query_function_answers_on_the_component_route(
    aws: tuple[Any, RecordingS3, RagService], moto_s3: Any, corpus: Path
) -> None:
    handler, _, _ = aws
    moto_s3.put_object(Bucket=BUCKET, Key="gpu.md", Body=(corpus / "gpu-node-pools.md").read_bytes())
    handler({"Records": [s3_record("ObjectCreated:Put", "gpu.md")]}, None)
    response = handler(
        {
            "rawPath": "/query",  # AwsServerlessRag's QUERY_ROUTE
            "requestContext": {"http": {"method": "POST", "path": "/query"}},
            "body": json.dumps({"question": GPU_QUESTION}),
        },
        None,
    )
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["citations"][0]["label"] == "[1] gpu.md#0"


# --- GCP: Eventarc into the ingest service ---------------------------------------------------------


@pytest.fixture
def gcp_client(local: RagService, memory: MemoryObjects) -> Iterator[TestClient]:
    with TestClient(create_app(lambda: local, lambda: memory)) as client:
        yield client


def test_eventarc_events_sync_objects(
    gcp_client: TestClient, memory: MemoryObjects, local: RagService, corpus: Path
) -> None:
    name = "ops/gpu node pools.md"
    memory.objects[(GCS_BUCKET, name)] = (corpus / "gpu-node-pools.md").read_bytes()
    created = gcp_client.post("/", headers=gcs_headers(name=name), content=gcs_body(name))
    assert created.status_code == 200
    assert created.json() == {"outcome": "synced", "source": name}
    assert local.ask(GPU_QUESTION).citations[0].label == f"[1] {name}#0"

    del memory.objects[(GCS_BUCKET, name)]
    archived = gcp_client.post(
        "/", headers=gcs_headers("google.cloud.storage.object.v1.archived", name), content=gcs_body(name)
    )
    assert archived.status_code == 200
    assert local.store.count() == 0


def test_eventarc_bad_document_is_acknowledged_and_logged(
    gcp_client: TestClient, memory: MemoryObjects, local: RagService, rag_log: list[logging.LogRecord]
) -> None:
    memory.objects[(GCS_BUCKET, "z.md")] = b"\x00"
    response = gcp_client.post("/", headers=gcs_headers(name="z.md"), content=gcs_body("z.md"))
    # 200: a non-2xx answer would make Eventarc redeliver a file that can never be ingested.
    assert response.status_code == 200
    assert response.json() == {
        "outcome": "rejected",
        "source": "z.md",
        "error": "z.md: binary file (NUL byte at offset 0)",
    }
    assert _failures(rag_log) == ["z.md: binary file (NUL byte at offset 0)"]
    assert local.store.count() == 0


def test_eventarc_storage_failure_is_retried(gcp_client: TestClient, memory: MemoryObjects) -> None:
    memory.fail_with = ConnectionError("storage.googleapis.com unreachable")
    response = gcp_client.post("/", headers=gcs_headers(), content=gcs_body("a.md"))
    assert response.status_code == 503  # Eventarc retries with backoff
    assert response.json() == {"detail": "ConnectionError: storage.googleapis.com unreachable"}


def test_eventarc_route_refuses_what_is_not_its_bucket_event(
    gcp_client: TestClient, memory: MemoryObjects
) -> None:
    other = gcp_client.post("/", headers=gcs_headers(), content=gcs_body("a.md", bucket="other"))
    assert other.json()["outcome"] == "rejected"
    assert "the documents bucket is proj-rag-documents" in other.json()["error"]
    malformed = gcp_client.post("/", headers=gcs_headers("google.cloud.audit.log.v1.written"), content=b"{}")
    assert malformed.status_code == 422
    assert memory.calls == []


def test_query_service_has_no_event_route(ingested: RagService) -> None:
    """The query service gets no DOCUMENTS_BUCKET (the component sets it on ingest only)."""
    with TestClient(create_app(lambda: ingested)) as client:
        response = client.post("/", headers=gcs_headers(), content=gcs_body("a.md"))
    assert response.status_code == 404


def _gcs_upload(endpoint: str, bucket: str, name: str, data: bytes) -> None:
    reply = requests.post(
        f"{endpoint}/upload/storage/v1/b/{bucket}/o",
        params={"uploadType": "media", "name": name},
        data=data,
        timeout=10,
    )
    reply.raise_for_status()


def test_gcs_reader_on_the_emulator(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    requests.post(
        f"{gcs_emulator}/storage/v1/b", params={"project": "demo"}, json={"name": bucket}, timeout=10
    ).raise_for_status()
    name = "docs/a b+c#.md"
    _gcs_upload(gcs_emulator, bucket, name, b"hello world")
    reader = GcsReader()  # the emulator through STORAGE_EMULATOR_HOST, as google-cloud-storage does

    assert reader.size(bucket, name) == 11
    assert reader.read(bucket, name, 1000) == b"hello world"
    assert reader.read(bucket, name, 5) == b"hello"
    assert reader.size(bucket, "missing.md") is None


# --- Azure: the queue worker -------------------------------------------------------------------------


@pytest.fixture
def azure_local(tmp_path: Path, embedder: Embedder) -> RagService:
    from rag.store import ChromaStore  # noqa: PLC0415

    return _service(
        embedder,
        ChromaStore(tmp_path / "store", "docs", create=True),
        documents_account="ragragdocs",
        ingest_queue="ingest",
    )


def test_worker_deletes_synced_and_bad_messages_and_retries_failures(
    azure_local: RagService, memory: MemoryObjects, corpus: Path, rag_log: list[logging.LogRecord]
) -> None:
    queue = FakeStorageQueue()
    memory.objects[(CONTAINER, "gpu.md")] = (corpus / "gpu-node-pools.md").read_bytes()
    memory.objects[(CONTAINER, "bad.md")] = b""
    queue.send(
        "m1",
        base64.b64encode(json.dumps(blob_event("Microsoft.Storage.BlobCreated", "gpu.md")).encode()).decode(),
    )
    queue.send("m2", json.dumps(blob_event("Microsoft.Storage.BlobCreated", "bad.md")))
    queue.send("m3", json.dumps(blob_event("Microsoft.Storage.BlobCreated", "x.md", container="other")))

    assert queue_worker.drain(azure_local, memory, queue) == 3
    assert queue.deleted == ["m1", "m2", "m3"]  # synced, bad document, not our container
    assert azure_local.ask(GPU_QUESTION).citations[0].label == "[1] gpu.md#0"
    assert _failures(rag_log) == [
        "bad.md: empty file",
        "object event for other/x.md refused: the documents bucket is documents",
    ]

    # A storage failure keeps the message for another try, up to MAX_DEQUEUE receives.
    memory.fail_with = ConnectionError("blob endpoint unreachable")
    queue.send("m4", json.dumps(blob_event("Microsoft.Storage.BlobDeleted", "gpu.md")))
    for _ in range(queue_worker.MAX_DEQUEUE - 1):
        queue_worker.drain(azure_local, memory, queue)
        assert [m.id for m in queue.messages] == ["m4"]
        queue.expire_visibility()
    queue_worker.drain(azure_local, memory, queue)
    assert queue.messages == []
    assert rag_log[-1].getMessage() == "message dropped"


def test_worker_end_to_end_on_azurite(
    azurite: tuple[str, str], azure_local: RagService, corpus: Path
) -> None:
    from azure.storage.blob import BlobServiceClient  # noqa: PLC0415
    from azure.storage.queue import QueueClient  # noqa: PLC0415

    blob_endpoint, queue_endpoint = azurite
    credential = {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    container = BlobServiceClient(blob_endpoint, credential=credential).get_container_client(
        f"docs{uuid.uuid4().hex[:8]}"
    )
    container.create_container()
    queue = QueueClient(queue_endpoint, f"ingest{uuid.uuid4().hex[:8]}", credential=credential)
    queue.create_queue()
    service = RagService(
        azure_local.settings.model_copy(update={"documents_container": container.container_name}),
        azure_local._embedder,
        azure_local.store,
        azure_local._answerer,
    )
    name = "runbooks/gpu pools.md"
    container.upload_blob(name, (corpus / "gpu-node-pools.md").read_bytes())
    # Event Grid writes each event to the queue Base64-encoded.
    for event_type in ("Microsoft.Storage.BlobCreated",):
        message = json.dumps(blob_event(event_type, name, container=container.container_name))
        queue.send_message(base64.b64encode(message.encode()).decode())

    assert queue_worker.drain(service, BlobReader(container), queue) == 1
    assert service.ask(GPU_QUESTION).citations[0].label == f"[1] {name}#0"
    assert list(queue.receive_messages()) == []

    container.delete_blob(name)
    queue.send_message(
        json.dumps(blob_event("Microsoft.Storage.BlobDeleted", name, container=container.container_name))
    )
    assert queue_worker.drain(service, BlobReader(container), queue) == 1
    assert service.store.count() == 0
    assert BlobReader(container).size(container.container_name, "missing.md") is None
