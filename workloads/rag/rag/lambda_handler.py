"""AWS Lambda adapter: an API Gateway HTTP API (payload v2) event in, a JSON response out.

The service is built on the first invocation and kept for the life of the execution environment.
Routes: `POST /ask`, `GET /healthz`. Ingestion runs elsewhere (`hub rag ingest` or the container).
"""

import base64
import binascii
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from rag.answer import LlmError
from rag.logs import configure_logging
from rag.schemas import AnswerBody, AskRequest
from rag.service import QuestionError, RagService, build_service
from rag.settings import load_settings

LambdaResponse = dict[str, Any]


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


def make_handler(
    service_factory: Callable[[], RagService],
) -> Callable[[Mapping[str, Any], object], LambdaResponse]:
    """A Lambda handler over the service that `service_factory` builds once, on first use."""
    get_service = functools.cache(service_factory)

    def handler(event: Mapping[str, Any], context: object) -> LambdaResponse:
        http = event.get("requestContext", {}).get("http", {})
        method = str(http.get("method", "")).upper()
        path = str(event.get("rawPath") or http.get("path") or "")
        if path == "/healthz":
            return (
                _response(200, {"status": "ok"})
                if method == "GET"
                else _response(405, {"detail": "method not allowed"})
            )
        if path != "/ask":
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


def _default_factory() -> RagService:
    configure_logging()
    return build_service(load_settings(), create_store=False)


handler = make_handler(_default_factory)
