"""Ingestion → retrieval → cited answer on the shipped corpus; refusals; all-or-nothing ingestion."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.chunking import DocumentError
from rag.embedding import Embedder
from rag.service import QuestionError, RagService, build_service
from rag.settings import RagSettings
from rag.store import StoreError


def test_ingest_reports_documents_and_chunks(service: RagService, corpus: Path) -> None:
    result = service.ingest([corpus])
    assert (result.documents, result.chunks, result.total_chunks) == (4, 4, 4)


@pytest.mark.parametrize(
    ("question", "source", "quoted"),
    [
        (
            "How long are inference request logs with personal data kept?",
            "data-retention.md",
            "deleted after thirty days",
        ),
        (
            "Who takes over if the primary on-call responder has not acknowledged a page?",
            "on-call.txt",
            "the secondary responder takes over",
        ),
        ("Which taint do GPU nodes carry?", "gpu-node-pools.md", "nvidia.com/gpu=present:NoSchedule"),
    ],
)
def test_answers_cite_the_right_document(
    ingested: RagService, question: str, source: str, quoted: str
) -> None:
    answer = ingested.ask(question)
    assert not answer.refused
    assert answer.citations[0].source == source
    assert answer.citations[0].label == f"[1] {source}#0"
    assert quoted in answer.text
    assert f"Sources:\n[1] {source}#0" in answer.text
    assert all(c.distance <= ingested.settings.max_distance for c in answer.citations)


@pytest.mark.parametrize(
    "question", ["What is the best recipe for sourdough bread?", "Who won the football world cup in 1998?"]
)
def test_off_topic_questions_are_refused(ingested: RagService, question: str) -> None:
    answer = ingested.ask(question)
    assert answer.refused
    assert answer.citations == ()
    assert answer.text.startswith("I can't answer that from the indexed documents")


def test_empty_store_refuses(service: RagService) -> None:
    assert service.ask("How long are logs kept?").refused


@pytest.mark.parametrize(("question", "message"), [("   ", "empty"), ("x" * 2001, "limit is 2000")])
def test_bad_questions(ingested: RagService, question: str, message: str) -> None:
    with pytest.raises(QuestionError, match=message):
        ingested.ask(question)


def _corpus_with(corpus: Path, tmp_path: Path, name: str, data: bytes) -> Path:
    directory = tmp_path / "docs"
    directory.mkdir()
    for file in corpus.iterdir():
        (directory / file.name).write_bytes(file.read_bytes())
    (directory / name).write_bytes(data)
    return directory


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.md", b"", "empty.md: empty file"),
        ("blob.txt", b"PK\x03\x04\x00\x00binary", "blob.txt: binary file (NUL byte at offset 4)"),
        ("latin1.txt", b"caf\xe9 au lait", "latin1.txt: not UTF-8 text"),
        ("huge.md", b"big " * 300_000, "huge.md: file too large (1200000 bytes; the limit is 1000000)"),
    ],
)
def test_a_bad_file_fails_the_whole_batch(
    ingested: RagService, corpus: Path, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    before = ingested.store.count()
    # a good new document sorts before the bad one: it must not be written either
    directory = _corpus_with(corpus, tmp_path, name, data)
    (directory / "a-new-document.md").write_text("A new fact about nothing in particular.")
    with pytest.raises(DocumentError) as caught:
        ingested.ingest([directory])
    assert str(caught.value).startswith(message)
    assert ingested.store.count() == before


def test_bad_api_text_fails_the_whole_batch(ingested: RagService) -> None:
    before = ingested.store.count()
    with pytest.raises(DocumentError, match=r"b\.md: empty file"):
        ingested.ingest_texts([("a.md", "Good text."), ("b.md", " ")])
    with pytest.raises(DocumentError, match="share a source name"):
        ingested.ingest_texts([("a.md", "One."), ("a.md", "Two.")])
    assert ingested.store.count() == before


def test_reingesting_a_shorter_document_drops_its_stale_chunks(
    settings: RagSettings, embedder: Embedder
) -> None:
    service = build_service(
        settings.model_copy(update={"chunk_size": 100, "chunk_overlap": 0}),
        create_store=True,
        embedder=embedder,
    )
    long_text = " ".join(f"Sentence {i} talks about topic {i}." for i in range(30))
    assert service.ingest_texts([("doc.md", long_text)]).chunks > 3
    result = service.ingest_texts([("doc.md", "Now it is one short sentence.")])
    assert (result.chunks, result.total_chunks) == (1, 1)


def test_reingesting_the_same_corpus_is_idempotent(ingested: RagService, corpus: Path) -> None:
    assert ingested.ingest([corpus]).total_chunks == 4


def test_store_persists_across_service_instances(ingested: RagService, embedder: Embedder) -> None:
    reopened = build_service(ingested.settings, create_store=False, embedder=embedder)
    assert reopened.store.count() == 4
    assert not reopened.ask("How long can a policy waiver last?").refused


def test_missing_store_is_an_error(settings: RagSettings, embedder: Embedder) -> None:
    with pytest.raises(StoreError, match="no RAG store at"):
        build_service(settings, create_store=False, embedder=embedder)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "7")
    monkeypatch.setenv("RAG_MAX_DISTANCE", "0.5")
    monkeypatch.setenv("RAG_STORE_PATH", "/data/rag")
    settings = RagSettings()
    assert (settings.top_k, settings.max_distance, settings.store_path) == (7, 0.5, Path("/data/rag"))


def test_settings_reject_overlap_not_below_size() -> None:
    with pytest.raises(ValidationError, match="chunk_overlap"):
        RagSettings(chunk_size=200, chunk_overlap=200)


def test_missing_collection_is_an_error(ingested: RagService, embedder: Embedder) -> None:
    other = ingested.settings.model_copy(update={"collection": "another-collection"})
    with pytest.raises(StoreError, match="no collection 'another-collection'"):
        build_service(other, create_store=False, embedder=embedder)
