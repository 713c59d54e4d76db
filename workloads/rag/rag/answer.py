"""Compose an answer from retrieved passages, cite them, and refuse when nothing is close enough."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx

from rag.store import Hit

REFUSAL = (
    "I can't answer that from the indexed documents: no passage is close enough to the question. "
    "Rephrase it, or ingest the documents that cover it."
)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    (
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how", "i",
        "in", "is", "it", "its", "of", "on", "or", "should", "that", "the", "this", "to", "what", "when",
        "where", "which", "who", "why", "will", "with", "you", "your",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Citation:
    """A passage an answer rests on."""

    number: int
    source: str
    chunk: int
    distance: float

    @property
    def label(self) -> str:
        """`[1] source#chunk`, as printed under an answer."""
        return f"[{self.number}] {self.source}#{self.chunk}"


@dataclass(frozen=True)
class Answer:
    """The answer text, its citations (numbered as in the text) and whether it is a refusal."""

    text: str
    citations: tuple[Citation, ...]
    refused: bool


class Answerer(Protocol):
    """Turns a question and its retrieved passages into an `Answer`."""

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer from `hits` only (nearest first)."""
        ...


def grounded(hits: Sequence[Hit], max_distance: float, limit: int, margin: float = 0.15) -> list[Hit]:
    """The nearest distinct passages within the grounding threshold, at most `limit` of them.

    A passage further than `margin` behind the best one is dropped even under the threshold: with
    short corpora the runner-up is often a different topic that only shares vocabulary.
    """
    chosen: list[Hit] = []
    seen: set[tuple[str, int]] = set()
    ordered = sorted(hits, key=lambda h: h.distance)
    cutoff = min(max_distance, ordered[0].distance + margin) if ordered else max_distance
    for hit in ordered:
        if hit.distance > cutoff or (hit.source, hit.chunk) in seen:
            continue
        seen.add((hit.source, hit.chunk))
        chosen.append(hit)
        if len(chosen) == limit:
            break
    return chosen


def refusal() -> Answer:
    """The answer given when no passage is grounded enough."""
    return Answer(text=REFUSAL, citations=(), refused=True)


def _citations(hits: Sequence[Hit]) -> tuple[Citation, ...]:
    return tuple(
        Citation(number=number, source=hit.source, chunk=hit.chunk, distance=round(hit.distance, 4))
        for number, hit in enumerate(hits, start=1)
    )


def _terms(text: str) -> set[str]:
    # A five-letter prefix is a crude stem: "waivers"/"waiver", "acknowledged"/"acknowledge".
    return {word[:5] for word in _WORD.findall(text.lower()) if word not in _STOPWORDS}


def _best_sentences(passage: str, question_terms: set[str], limit: int) -> str:
    """The passage's sentences that share most words with the question, kept in their order."""
    sentences = [
        " ".join(sentence.split())
        for paragraph in _PARAGRAPH_BREAK.split(passage)
        for sentence in _SENTENCE_END.split(paragraph.strip().lstrip("#").strip())
        if sentence.strip()
    ]

    def rank(i: int) -> tuple[int, bool, int]:
        # Titles (no closing punctuation) lose ties to real sentences.
        overlap = len(_terms(sentences[i]) & question_terms)
        return (-overlap, not sentences[i].endswith((".", "!", "?", ":")), i)

    scored = sorted(range(len(sentences)), key=rank)[:limit]
    return " ".join(sentences[i] for i in sorted(scored))


class ExtractiveAnswerer:
    """Quotes the most relevant sentences of the best grounded passages; no generator needed."""

    def __init__(self, max_distance: float, max_passages: int = 3, sentences_per_passage: int = 2) -> None:
        self._max_distance = max_distance
        self._max_passages = max_passages
        self._sentences = sentences_per_passage

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer from `hits` only, or refuse when none is within the grounding threshold."""
        chosen = grounded(hits, self._max_distance, self._max_passages)
        if not chosen:
            return refusal()
        terms = _terms(question)
        citations = _citations(chosen)
        lines = [
            f"{_best_sentences(hit.text, terms, self._sentences)} [{citation.number}]"
            for hit, citation in zip(chosen, citations, strict=True)
        ]
        sources = "\n".join(citation.label for citation in citations)
        return Answer(text="\n".join(lines) + "\n\nSources:\n" + sources, citations=citations, refused=False)


class LlmError(RuntimeError):
    """The generator could not be reached or answered something unusable."""


class HttpLlmAnswerer:
    """Asks a generator behind a small JSON API, with the grounded passages as its only context.

    The request is `{"question", "passages": [{"number", "source", "chunk", "text"}]}`; the reply must
    be `{"text": "..."}` citing passages as `[n]`. The grounding refusal happens here, before any call:
    the generator never sees a question without context.
    """

    def __init__(
        self, endpoint: str, max_distance: float, timeout_s: float = 15.0, max_passages: int = 4
    ) -> None:
        self._endpoint = endpoint
        self._max_distance = max_distance
        self._timeout_s = timeout_s
        self._max_passages = max_passages

    def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer through the generator, or refuse without calling it.

        Raises:
            LlmError: the call failed or the reply had no text.
        """
        chosen = grounded(hits, self._max_distance, self._max_passages)
        if not chosen:
            return refusal()
        citations = _citations(chosen)
        body = {
            "question": question,
            "passages": [
                {"number": c.number, "source": c.source, "chunk": c.chunk, "text": hit.text}
                for hit, c in zip(chosen, citations, strict=True)
            ],
        }
        try:
            response = httpx.post(self._endpoint, json=body, timeout=self._timeout_s)
            response.raise_for_status()
            reply = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise LlmError(f"generator at {self._endpoint} failed: {err}") from None
        text = reply.get("text") if isinstance(reply, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise LlmError(f"generator at {self._endpoint} returned no text")
        sources = "\n".join(citation.label for citation in citations)
        return Answer(text=f"{text.strip()}\n\nSources:\n{sources}", citations=citations, refused=False)
