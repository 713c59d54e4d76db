"""The Lambda adapter with API Gateway HTTP API (payload v2) events."""

import base64
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from rag.lambda_handler import make_handler
from rag.service import RagService

Handler = Callable[[Mapping[str, Any], object], dict[str, Any]]


def _event(method: str, path: str, body: str | None = None, *, encoded: bool = False) -> dict[str, Any]:
    if body is not None and encoded:
        body = base64.b64encode(body.encode()).decode()
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path}},
        "body": body,
        "isBase64Encoded": encoded,
    }


@pytest.fixture
def handler(ingested: RagService) -> Handler:
    return make_handler(lambda: ingested)


def test_ask(handler: Handler) -> None:
    question = json.dumps({"question": "Which taint do GPU nodes carry?"})
    response = handler(_event("POST", "/ask", question), None)
    assert response["statusCode"] == 200
    assert response["headers"] == {"content-type": "application/json"}
    body = json.loads(response["body"])
    assert body["citations"][0]["label"] == "[1] gpu-node-pools.md#0"
    assert "NoSchedule" in body["text"]


def test_ask_base64_body(handler: Handler) -> None:
    question = json.dumps({"question": "What is the best recipe for sourdough bread?"})
    response = handler(_event("POST", "/ask", question, encoded=True), None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["refused"] is True


def test_service_is_built_once() -> None:
    built: list[int] = []

    def factory() -> RagService:
        built.append(1)
        raise AssertionError("unused")  # health checks never build the service

    handler = make_handler(factory)
    assert handler(_event("GET", "/healthz"), None)["statusCode"] == 200
    assert built == []


@pytest.mark.parametrize(
    ("event", "status"),
    [
        (_event("POST", "/ask", "{not json"), 422),
        (_event("POST", "/ask", None), 422),
        (_event("POST", "/ask", json.dumps({"question": ""})), 422),
        (_event("POST", "/ask", json.dumps({"question": "q", "x": 1})), 422),
        ({**_event("POST", "/ask", "abc"), "isBase64Encoded": True, "body": "***"}, 400),
        (_event("GET", "/ask"), 405),
        (_event("POST", "/nope", "{}"), 404),
        (_event("POST", "/healthz"), 405),
    ],
)
def test_client_mistakes_are_4xx(handler: Handler, event: dict[str, Any], status: int) -> None:
    response = handler(event, None)
    assert response["statusCode"] == status
    assert "detail" in json.loads(response["body"])
