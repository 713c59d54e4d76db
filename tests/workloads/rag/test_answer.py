"""Answer composition, citations and the grounding refusal; the generator path against a fake server."""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from rag.answer import REFUSAL, ExtractiveAnswerer, HttpLlmAnswerer, LlmError, grounded
from rag.store import Hit

WAIVERS = Hit(
    "policy-waivers.md",
    0,
    "# Policy waivers\n\nA waiver names the policy and an expiry. A waiver can never be longer than ninety days.",
    0.2,
)
RETENTION = Hit("data-retention.md", 2, "Request logs are deleted after thirty days.", 0.3)
FAR = Hit("on-call.txt", 0, "The rotation changes every Monday.", 0.9)


def test_grounded_keeps_close_distinct_passages_nearest_first() -> None:
    assert grounded([FAR, RETENTION, WAIVERS, WAIVERS], max_distance=0.6, limit=3) == [WAIVERS, RETENTION]


def test_grounded_drops_passages_far_behind_the_best() -> None:
    runner_up = Hit("x.md", 0, "text", 0.45)
    assert grounded([WAIVERS, runner_up], max_distance=0.6, limit=3, margin=0.15) == [WAIVERS]


def test_extractive_answer_quotes_and_cites() -> None:
    answer = ExtractiveAnswerer(max_distance=0.6).answer(
        "How long can a waiver be?", [WAIVERS, RETENTION, FAR]
    )
    assert not answer.refused
    assert [c.label for c in answer.citations] == ["[1] policy-waivers.md#0", "[2] data-retention.md#2"]
    assert answer.text == (
        "A waiver names the policy and an expiry. A waiver can never be longer than ninety days. [1]\n"
        "Request logs are deleted after thirty days. [2]\n\n"
        "Sources:\n[1] policy-waivers.md#0\n[2] data-retention.md#2"
    )


def test_extractive_answer_picks_the_most_relevant_sentences() -> None:
    hit = Hit("a.md", 0, "Alpha is first. Beta is second. Gamma deletes logs. Delta is last.", 0.1)
    answer = ExtractiveAnswerer(0.6, sentences_per_passage=1).answer("When are logs deleted?", [hit])
    assert answer.text.startswith("Gamma deletes logs. [1]")


def test_refusal_when_nothing_is_within_the_threshold() -> None:
    answer = ExtractiveAnswerer(max_distance=0.6).answer("Anything?", [FAR])
    assert answer.refused and answer.citations == () and answer.text == REFUSAL
    assert ExtractiveAnswerer(max_distance=0.6).answer("Anything?", []).refused


class _Generator(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    reply: ClassVar[bytes] = b""

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).requests.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(type(self).reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def generator() -> Iterator[str]:
    """A fake generator on 127.0.0.1, stopped after the test."""
    _Generator.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Generator)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/generate"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_generator_gets_only_grounded_passages(generator: str) -> None:
    _Generator.reply = json.dumps({"text": "Ninety days at most [1]."}).encode()
    answer = HttpLlmAnswerer(generator, max_distance=0.6).answer("How long can a waiver be?", [WAIVERS, FAR])
    assert answer.text == "Ninety days at most [1].\n\nSources:\n[1] policy-waivers.md#0"
    assert [c.label for c in answer.citations] == ["[1] policy-waivers.md#0"]
    [sent] = _Generator.requests
    assert sent == {
        "question": "How long can a waiver be?",
        "passages": [{"number": 1, "source": "policy-waivers.md", "chunk": 0, "text": WAIVERS.text}],
    }


def test_generator_is_not_called_without_grounding(generator: str) -> None:
    assert HttpLlmAnswerer(generator, max_distance=0.6).answer("Anything?", [FAR]).refused
    assert _Generator.requests == []


def test_generator_reply_without_text_is_an_error(generator: str) -> None:
    _Generator.reply = b'{"nope": 1}'
    with pytest.raises(LlmError, match="returned no text"):
        HttpLlmAnswerer(generator, max_distance=0.6).answer("q", [WAIVERS])


def test_unreachable_generator_is_an_error() -> None:
    with pytest.raises(LlmError, match="failed"):
        HttpLlmAnswerer("http://127.0.0.1:9/generate", 0.6, timeout_s=1).answer("q", [WAIVERS])
