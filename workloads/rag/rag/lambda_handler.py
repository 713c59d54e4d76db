"""AWS Lambda adapter for both functions of AwsServerlessRag, told apart by the event's shape.

- Query function: an API Gateway HTTP API (payload v2) event in, a JSON response out. Routes: `POST /query`
  (the component's route; `POST /ask` is the same, as in the container), `GET /healthz`.
- Ingest function: S3 event notifications (`{"Records": [...]}`, ObjectCreated:* and ObjectRemoved:*),
  invoked asynchronously by the documents bucket, or the same notifications as SQS message bodies if a
  queue is put in between. Each object is synced (`rag.object_events.sync_object`) and logged on one line.
  Direct invocation: any failed object fails the invocation, so Lambda retries it and finally hands the
  event to the function's dead-letter queue (syncing is idempotent, so retried objects are harmless).
  SQS: only the failed messages are returned (`batchItemFailures`), to be redelivered.

The service is built on the first invocation and kept for the life of the execution environment.
"""

import base64
import binascii
import functools
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from rag.answer import LlmError
from rag.logs import configure_logging
from rag.object_events import ObjectReader, one_line, s3_events, sync_events
from rag.schemas import AnswerBody, AskRequest
from rag.service import QuestionError, RagService, build_service
from rag.settings import load_settings

logger = logging.getLogger("rag")

LambdaResponse = dict[str, Any]
QUERY_PATHS = frozenset({"/query", "/ask"})


class IngestFailedError(RuntimeError):
    """Some objects of a directly invoked S3 notification were not synced (raised so Lambda retries)."""


def _response(status: int, body: object) -> LambdaResponse:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _body(event: Mapping[str, Any]) -> str:
    raw = event.get("body") or ""
    if not isinstance(raw, str):
        raise ValueError("body is not a string")
    if event.get("isBase64Encoded"):
        return base64.b64decode(raw, validate=True).decode("utf-8")
    return raw


def _ingest(event: Mapping[str, Any], service: RagService, reader: ObjectReader) -> LambdaResponse:
    expected = service.settings.documents_bucket
    records = event.get("Records") or []
    if records and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:sqs" for r in records):
        failed = []
        for record in records:
            try:
                events = s3_events(json.loads(record.get("body") or "{}"))
            # Not JSON or not an S3 notification: reported failed, so it ends in the dead-letter queue.
            except ValueError as err:
                logger.error(
                    "message not synced",
                    extra={"message_id": record.get("messageId"), "error": one_line(err)},
                )
                failed.append({"itemIdentifier": str(record.get("messageId", ""))})
                continue
            if sync_events(service, reader, events, expected):
                failed.append({"itemIdentifier": str(record.get("messageId", ""))})
        return {"batchItemFailures": failed}
    failures = sync_events(service, reader, s3_events(event), expected)
    if failures:
        raise IngestFailedError(
            f"{len(failures)} of {len(records)} objects not synced; first: {one_line(failures[0])}"
        )
    return {"synced": len(records)}


def make_handler(
    service_factory: Callable[[], RagService],
    reader_factory: Callable[[], ObjectReader] | None = None,
) -> Callable[[Mapping[str, Any], object], LambdaResponse]:
    """A Lambda handler over the service that `service_factory` builds once, on first use.

    `reader_factory` builds the S3 reader for object events, once, on the first event (default: boto3).
    """
    get_service = functools.cache(service_factory)
    get_reader = functools.cache(reader_factory or _default_reader)

    def handler(event: Mapping[str, Any], context: object) -> LambdaResponse:
        if "Records" in event:
            return _ingest(event, get_service(), get_reader())
        http = event.get("requestContext", {}).get("http", {})
        method = str(http.get("method", "")).upper()
        path = str(event.get("rawPath") or http.get("path") or "")
        if path == "/healthz":
            return (
                _response(200, {"status": "ok"})
                if method == "GET"
                else _response(405, {"detail": "method not allowed"})
            )
        if path not in QUERY_PATHS:
            return _response(404, {"detail": f"no route {path or '(none)'}"})
        if method != "POST":
            return _response(405, {"detail": "method not allowed"})
        try:
            request = AskRequest.model_validate_json(_body(event))
        except (ValueError, binascii.Error, UnicodeDecodeError) as err:
            if isinstance(err, ValidationError):
                detail = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in err.errors()]
                return _response(422, {"detail": detail})
            return _response(400, {"detail": f"bad request body: {err}"})
        try:
            answer = get_service().ask(request.question)
        except QuestionError as err:
            return _response(422, {"detail": str(err)})
        except LlmError as err:
            return _response(502, {"detail": str(err)})
        return _response(200, AnswerBody.of(answer).model_dump())

    return handler


def _default_reader() -> ObjectReader:
    from rag.object_readers import S3Reader  # noqa: PLC0415 - the query function never reads objects

    return S3Reader()


def _default_factory() -> RagService:
    configure_logging()
    return build_service(load_settings(), create_store=False)


handler = make_handler(_default_factory)
