"""Azure ingest worker: `python -m rag.queue_worker`, AzureServerlessRag's ingest Container App.

The component routes the documents container's `BlobCreated`/`BlobDeleted` events through an Event Grid
system topic into a storage queue (the app has no ingress for Event Grid to push to, and the queue keeps
events while the app is at zero replicas); KEDA starts the app while the queue holds messages. This worker
drains the queue: each message's blob events are synced (`rag.object_events.sync_object`) and logged on
one line. A message is deleted once synced, or at once when retrying cannot help (a bad document, a
message that is not a blob event: logged as an error). After a store or storage failure it stays, to be
received again when its visibility timeout ends; one received `MAX_DEQUEUE` times is logged and dropped.
"""

import logging
import signal
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from rag.logs import configure_logging
from rag.object_events import ObjectReader, blob_events, is_permanent, one_line, sync_events
from rag.service import RagService, build_service
from rag.settings import RagSettings, SettingsError, load_settings

logger = logging.getLogger("rag")

VISIBILITY_TIMEOUT_S = 600
"""How long a received message stays hidden: longer than embedding the largest accepted document."""
MAX_DEQUEUE = 5
"""Receives after which a message that keeps failing is dropped (logged as an error)."""
BATCH = 16
"""Messages received per request (the most a storage queue returns)."""
IDLE_WAIT_S = 5.0
"""Pause between polls of an empty queue."""


class StorageQueue(Protocol):
    """The calls the worker makes on an `azure.storage.queue.QueueClient`."""

    def receive_messages(self, **kwargs: Any) -> Iterable[Any]: ...
    def delete_message(self, message: Any, pop_receipt: str | None = None, **kwargs: Any) -> None: ...


def handle(service: RagService, reader: ObjectReader, queue: StorageQueue, message: Any) -> bool:
    """Sync one message's blob events; True when the message was deleted (done with)."""
    failure: Exception | None = None
    try:
        events = blob_events(message.content)
    except ValueError as err:
        failure = err
        logger.error("message not synced", extra={"message_id": message.id, "error": one_line(err)})
    else:
        failures = sync_events(service, reader, events, service.settings.documents_container)
        failure = failures[0] if failures else None
    if failure is not None and not is_permanent(failure):
        if int(message.dequeue_count or 0) < MAX_DEQUEUE:
            return False  # received again after the visibility timeout
        logger.error(
            "message dropped",
            extra={
                "message_id": message.id,
                "dequeue_count": message.dequeue_count,
                "error": one_line(failure),
            },
        )
    queue.delete_message(message)
    return True


def drain(service: RagService, reader: ObjectReader, queue: StorageQueue) -> int:
    """Handle messages until a receive returns none; how many were received."""
    received = 0
    while True:
        batch = list(
            queue.receive_messages(
                messages_per_page=BATCH, visibility_timeout=VISIBILITY_TIMEOUT_S, max_messages=BATCH
            )
        )
        if not batch:
            return received
        received += len(batch)
        for message in batch:
            handle(service, reader, queue, message)


def run(service: RagService, reader: ObjectReader, queue: StorageQueue, stop: threading.Event) -> None:
    """Drain the queue, then poll it every `IDLE_WAIT_S` seconds, until `stop` is set."""
    while not stop.is_set():
        try:
            received = drain(service, reader, queue)
        except Exception as err:  # noqa: BLE001 - a queue outage must not end the replica; it is logged
            logger.error("queue not reachable", extra={"error": one_line(err)})
            received = 0
        if not received:
            stop.wait(IDLE_WAIT_S)


def _clients(settings: RagSettings) -> tuple[ObjectReader, StorageQueue]:
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415
    from azure.storage.blob import ContainerClient  # noqa: PLC0415
    from azure.storage.queue import QueueClient  # noqa: PLC0415

    from rag.object_readers import BlobReader  # noqa: PLC0415

    if settings.documents_account is None or settings.ingest_queue is None:
        raise SettingsError(
            "invalid RAG settings: the ingest worker needs DOCUMENTS_ACCOUNT and INGEST_QUEUE"
        )
    # AZURE_CLIENT_ID (set by the component) selects the app's user-assigned managed identity.
    credential = DefaultAzureCredential()
    account = settings.documents_account
    container = ContainerClient(
        f"https://{account}.blob.core.windows.net", settings.documents_container, credential=credential
    )
    queue = QueueClient(
        f"https://{account}.queue.core.windows.net", settings.ingest_queue, credential=credential
    )
    return BlobReader(container), queue


def main() -> None:
    """Run the worker until SIGTERM (Container Apps stops a replica with it)."""
    configure_logging()
    try:
        settings = load_settings()
        reader, queue = _clients(settings)
    except SettingsError as err:
        logger.error("not started", extra={"error": str(err)})
        raise SystemExit(2) from None
    service = build_service(settings, create_store=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logger.info(
        "worker ready", extra={"queue": settings.ingest_queue, "container": settings.documents_container}
    )
    run(service, reader, queue, stop)


if __name__ == "__main__":
    main()
