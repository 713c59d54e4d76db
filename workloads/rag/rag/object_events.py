"""Ingestion driven by the documents bucket: an object event in, the index made to match that object.

Each cloud tells the ingest side "something happened to object X" in its own shape (parsed here into
`ObjectEvent`): an S3 event notification record, an Eventarc CloudEvent for Cloud Storage, an Event Grid
blob event. `sync_object` then never trusts the event's kind or size: it looks the object up *now*.
Present: its current content is size-checked before download, validated, chunked and embedded like any
other document, then written. Absent: the document's chunks are deleted. Deliveries can come late, twice
or out of order (all three clouds deliver at least once, unordered); reconciling with the object as it
is makes every delivery idempotent, and the last one always leaves the index matching the bucket.
"""

import json
import logging
import posixpath
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from rag.chunking import TEXT_SUFFIXES, DocumentError, decode_document
from rag.service import RagService
from rag.store import StoreError

logger = logging.getLogger("rag")

S3_CREATED_PREFIX = "ObjectCreated:"
S3_REMOVED_PREFIX = "ObjectRemoved:"
GCS_EVENT_TYPES = frozenset(
    {
        "google.cloud.storage.object.v1.finalized",
        "google.cloud.storage.object.v1.archived",
        "google.cloud.storage.object.v1.deleted",
    }
)
"""Cloud Storage events GcpServerlessRag's Eventarc triggers deliver (archived: a versioned bucket's
live object became noncurrent, i.e. was deleted or overwritten)."""
BLOB_EVENT_TYPES = frozenset({"Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted"})
BLOB_SUBJECT_MARK = "/blobs/"


class EventError(ValueError):
    """A delivery that is not an object event of the documents bucket; the message is one line."""


@dataclass(frozen=True)
class ObjectEvent:
    """One object of the documents bucket that changed."""

    bucket: str
    """The bucket (S3, Cloud Storage) or blob container (Azure) holding it."""
    key: str
    """The object key or blob name, decoded; it becomes the document's source name."""
    kind: str
    """The cloud's name for what happened, for logs only (`sync_object` looks the object up itself)."""


class ObjectReader(Protocol):
    """Reads objects of one cloud's storage; each cloud's implementation is in `rag.object_readers`."""

    def size(self, bucket: str, key: str) -> int | None:
        """Bytes of the object as it is now; None when it does not exist."""
        ...

    def read(self, bucket: str, key: str, limit: int) -> bytes:
        """The object's content, at most `limit` bytes of it (a larger object is cut at `limit`)."""
        ...


class SyncOutcome(StrEnum):
    """What `sync_object` did."""

    INGESTED = "ingested"
    DELETED = "deleted"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class SyncResult:
    """The outcome for one object."""

    source: str
    outcome: SyncOutcome
    chunks: int = 0


def check_bucket(event: ObjectEvent, expected: str | None) -> None:
    """Raise unless the event is about the configured documents bucket.

    Raises:
        EventError: no documents bucket is configured (this process does not ingest), or another bucket.
    """
    if expected is None:
        raise EventError(
            f"object event for {event.bucket}/{event.key} refused: this process has no documents bucket "
            "configured (DOCUMENTS_BUCKET, or DOCUMENTS_ACCOUNT on Azure)"
        )
    if event.bucket != expected:
        raise EventError(
            f"object event for {event.bucket}/{event.key} refused: the documents bucket is {expected}"
        )


def _is_text(key: str) -> bool:
    return posixpath.splitext(key)[1].lower() in TEXT_SUFFIXES


def sync_object(service: RagService, reader: ObjectReader, event: ObjectEvent) -> SyncResult:
    """Make the index match one object: ingest its current content, or delete it when it is gone.

    Nothing is written unless the whole document is valid and embedded (the service's guarantee), so a
    bad file never leaves a half-indexed document; its previous chunks, if any, stay as they were.

    Raises:
        DocumentError: the object is not a text document, too large, empty, binary or not UTF-8.
        StoreError: the vector store failed.
        Exception: the storage SDK's own errors (permissions, network), for the adapter to retry.
    """
    source = event.key
    if source.endswith("/"):  # a "folder" placeholder made by consoles; never a document
        return SyncResult(source, SyncOutcome.SKIPPED)
    if "#" in source or source != source.strip():
        raise DocumentError(f"{source!r}: a document name may not contain '#' or start or end with a space")
    limit = service.settings.max_file_bytes
    size = reader.size(event.bucket, event.key)
    if size is None:
        if not _is_text(source):
            return SyncResult(source, SyncOutcome.SKIPPED)
        service.delete_document(source)
        return SyncResult(source, SyncOutcome.DELETED)
    if not _is_text(source):
        wanted = ", ".join(sorted(TEXT_SUFFIXES))
        raise DocumentError(f"{source}: not a text document (ingested: {wanted})")
    if size > limit:  # checked before the download: a huge object is never read into memory
        raise DocumentError(f"{source}: file too large ({size} bytes; the limit is {limit})")
    # One byte past the limit: an object replaced by a larger one since the size check still fails it.
    data = reader.read(event.bucket, event.key, limit + 1) if size else b""
    document = decode_document(source, data, limit)
    result = service.ingest_documents([document], count_total=False)
    return SyncResult(source, SyncOutcome.INGESTED, result.chunks)


def one_line(err: BaseException) -> str:
    """An error as one log line: its type (unless it is one of ours) and its message, whitespace folded."""
    message = " ".join(str(err).split())
    ours = isinstance(err, DocumentError | EventError | StoreError)
    return message if ours and message else f"{type(err).__name__}: {message}"


# --- AWS: S3 event notifications ----------------------------------------------------------------


def s3_events(notification: Mapping[str, Any]) -> list[ObjectEvent]:
    """The object events of one S3 event notification (`{"Records": [...]}`).

    S3 sends keys URL-encoded as in a form (`+` for a space). A notification without records, such as
    the `s3:TestEvent` S3 sends when a notification configuration is saved, holds no object events.

    Raises:
        EventError: a record is not an S3 object-created or object-removed record.
    """
    events = []
    for record in notification.get("Records") or []:
        name = str(record.get("eventName", "")) if isinstance(record, Mapping) else ""
        if record.get("eventSource") != "aws:s3" or not name.startswith(
            (S3_CREATED_PREFIX, S3_REMOVED_PREFIX)
        ):
            raise EventError(
                f"not an S3 object event: eventSource {record.get('eventSource')!r}, eventName {name!r}"
            )
        try:
            bucket = str(record["s3"]["bucket"]["name"])
            key = urllib.parse.unquote_plus(str(record["s3"]["object"]["key"]))
        except (KeyError, TypeError):
            raise EventError(f"S3 {name} record without s3.bucket.name and s3.object.key") from None
        events.append(ObjectEvent(bucket, key, name))
    return events


# --- GCP: Eventarc CloudEvents (binary content mode) -------------------------------------------


def gcs_event(headers: Mapping[str, str], body: bytes) -> ObjectEvent:
    """The object event of one Eventarc delivery: `ce-type` header, StorageObjectData JSON body.

    Raises:
        EventError: not a Cloud Storage object event, or a body without `bucket` and `name`.
    """
    event_type = headers.get("ce-type", "")
    if event_type not in GCS_EVENT_TYPES:
        raise EventError(f"not a Cloud Storage object event: ce-type {event_type!r}")
    try:
        data = json.loads(body)
        bucket, name = data["bucket"], data["name"]
    except (ValueError, KeyError, TypeError):
        raise EventError(f"{event_type} event without a JSON body naming bucket and name") from None
    if not isinstance(bucket, str) or not isinstance(name, str) or not bucket or not name:
        raise EventError(f"{event_type} event with an empty or non-string bucket or name")
    return ObjectEvent(bucket, name, event_type)


# --- Azure: Event Grid blob events, delivered to a storage queue --------------------------------


def blob_events(message: str | bytes) -> list[ObjectEvent]:
    """The blob events of one queue message Event Grid wrote (EventGridSchema: one event or a list).

    Event Grid writes the event JSON Base64-encoded; plain JSON is accepted too.

    Raises:
        EventError: not JSON (plain or Base64), or an event that is not a blob event with a blob subject.
    """
    import base64  # noqa: PLC0415
    import binascii  # noqa: PLC0415

    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    try:
        payload = json.loads(text)
    except ValueError:
        try:
            payload = json.loads(base64.b64decode(text, validate=True))
        except (ValueError, binascii.Error):
            raise EventError("queue message is neither JSON nor Base64-encoded JSON") from None
    events = []
    for entry in payload if isinstance(payload, list) else [payload]:
        event_type = entry.get("eventType") if isinstance(entry, Mapping) else None
        if event_type not in BLOB_EVENT_TYPES:
            raise EventError(f"not a blob event: eventType {event_type!r}")
        subject = str(entry.get("subject", ""))
        # `/blobServices/default/containers/<container>/blobs/<name>`; the name is not URL-encoded here.
        head, mark, name = subject.partition(BLOB_SUBJECT_MARK)
        container = head.rpartition("/containers/")[2]
        if not mark or not name or not container or "/containers/" not in head:
            raise EventError(f"{event_type} event with subject {subject!r}: not a blob subject")
        events.append(ObjectEvent(container, name, str(event_type)))
    return events


def is_permanent(err: BaseException) -> bool:
    """Whether retrying cannot help: a bad document or a delivery that is not ours (else: store, network)."""
    return isinstance(err, DocumentError | EventError)


def sync_events(
    service: RagService, reader: ObjectReader, events: Sequence[ObjectEvent], expected_bucket: str | None
) -> list[Exception]:
    """`sync_object` for each event, each logged on one line; the errors of those that failed, in order."""
    failures: list[Exception] = []
    for event in events:
        try:
            check_bucket(event, expected_bucket)
            result = sync_object(service, reader, event)
        except Exception as err:  # noqa: BLE001 - every failure is logged and reported for its object
            failures.append(err)
            logger.error(
                "object not synced",
                extra={"bucket": event.bucket, "key": event.key, "event": event.kind, "error": one_line(err)},
            )
            continue
        logger.info(
            f"object {result.outcome.value}",
            extra={"bucket": event.bucket, "key": event.key, "event": event.kind, "chunks": result.chunks},
        )
    return failures
