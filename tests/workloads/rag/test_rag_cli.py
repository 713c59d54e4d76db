"""`hub rag ingest` and `hub rag ask` through typer's CliRunner."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.embedding import Embedder
from scripts.hub.rag_cli import rag_app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    """Run in an empty directory (the default store is relative); `embedder` loads the model first."""
    monkeypatch.chdir(tmp_path)


def _error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return lines[0]


def test_ingest_then_ask_with_the_default_store(corpus: Path, tmp_path: Path) -> None:
    ingested = runner.invoke(rag_app, ["ingest", str(corpus)])
    assert ingested.exit_code == 0, ingested.output
    assert "Ingested 4 documents as 4 chunks into .mlops-hub/rag (4 chunks stored)." in ingested.output
    assert (tmp_path / ".mlops-hub" / "rag").is_dir()
    asked = runner.invoke(rag_app, ["ask", "Which taint do GPU nodes carry?"])
    assert asked.exit_code == 0, asked.output
    assert "nvidia.com/gpu=present:NoSchedule" in asked.output
    assert "Sources:\n[1] gpu-node-pools.md#0" in asked.output


def test_ask_json_and_refusal(corpus: Path, tmp_path: Path) -> None:
    store = tmp_path / "elsewhere"
    assert runner.invoke(rag_app, ["ingest", str(corpus), "--store", str(store)]).exit_code == 0
    result = runner.invoke(
        rag_app, ["ask", "What is the best recipe for sourdough bread?", "--store", str(store), "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["refused"] is True and body["citations"] == []
    cited = json.loads(
        runner.invoke(
            rag_app, ["ask", "How long can a policy waiver last?", "--store", str(store), "--json"]
        ).output
    )
    assert cited["citations"][0] == {
        "number": 1,
        "source": "policy-waivers.md",
        "chunk": 0,
        "distance": cited["citations"][0]["distance"],
    }


def test_ask_without_a_store(tmp_path: Path) -> None:
    result = runner.invoke(rag_app, ["ask", "Anything?"])
    assert result.exit_code == 2
    assert _error_line(result.output) == (
        "error: no RAG store at .mlops-hub/rag; run `hub rag ingest DIR --store .mlops-hub/rag` first"
    )
    assert not (tmp_path / ".mlops-hub").exists()


def test_ask_empty_question(corpus: Path) -> None:
    assert runner.invoke(rag_app, ["ingest", str(corpus)]).exit_code == 0
    result = runner.invoke(rag_app, ["ask", "  "])
    assert result.exit_code == 2
    assert _error_line(result.output) == "error: the question is empty"


def test_ingest_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    result = runner.invoke(rag_app, ["ingest", "docs"])
    assert result.exit_code == 2
    assert _error_line(result.output).startswith("error: docs: no documents to ingest")
    assert not (tmp_path / ".mlops-hub").exists()


def test_ingest_missing_directory() -> None:
    result = runner.invoke(rag_app, ["ingest", "nope"])
    assert result.exit_code == 2
    assert _error_line(result.output) == "error: nope: no such file or directory"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("z.bin.txt", b"\x7fELF\x00\x01", "error: z.bin.txt: binary file (NUL byte at offset 4)"),
        ("z.md", b"", "error: z.md: empty file"),
        ("z.md", b"y" * 1_000_001, "error: z.md: file too large (1000001 bytes; the limit is 1000000)"),
    ],
)
def test_bad_file_leaves_the_store_unchanged(
    corpus: Path, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    assert runner.invoke(rag_app, ["ingest", str(corpus)]).exit_code == 0
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Backups run nightly at 02:00 UTC.")
    (docs / name).write_bytes(data)
    result = runner.invoke(rag_app, ["ingest", str(docs)])
    assert result.exit_code == 2
    assert _error_line(result.output) == message
    from rag.store import ChromaStore  # noqa: PLC0415

    assert ChromaStore(tmp_path / ".mlops-hub" / "rag", "mlops-hub-docs", create=False).count() == 4


def test_help_lists_both_commands() -> None:
    result = runner.invoke(rag_app, ["--help"])
    assert result.exit_code == 0
    assert "ingest" in result.output and "ask" in result.output


@pytest.mark.parametrize("command", [["ingest", "docs"], ["ask", "Anything?"]])
def test_invalid_settings_are_one_line(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.setenv("RAG_CHUNK_SIZE", "50")
    monkeypatch.setenv("RAG_VECTOR_STORE", "s3vectors")
    result = runner.invoke(rag_app, command)
    assert result.exit_code == 2
    assert _error_line(result.output) == (
        "error: invalid RAG settings: RAG_CHUNK_SIZE: Input should be greater than or equal to 100"
    )


def test_ingest_into_a_cloud_store_names_it(
    monkeypatch: pytest.MonkeyPatch, corpus: Path, tmp_path: Path, embedder: Embedder
) -> None:
    from rag import s3vectors_store  # noqa: PLC0415
    from tests.workloads.rag.fakes import FakeS3VectorsClient  # noqa: PLC0415

    fake = FakeS3VectorsClient("rag-vectors", "documents", dimension=embedder.dimension)
    monkeypatch.setattr(s3vectors_store, "_default_client", lambda: fake)
    for name, value in {
        "RAG_VECTOR_STORE": "s3vectors",
        "VECTOR_BUCKET": "rag-vectors",
        "VECTOR_INDEX": "documents",
    }.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(rag_app, ["ingest", str(corpus)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "Ingested 4 documents as 4 chunks into S3 Vectors index documents of vector bucket rag-vectors "
        "(4 chunks stored)."
    )
    assert not (tmp_path / ".mlops-hub").exists()  # no local store was made
