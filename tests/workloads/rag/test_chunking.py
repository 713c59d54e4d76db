"""Chunking and document validation: pure functions, no model."""

import itertools
from pathlib import Path

import pytest

from rag.chunking import (
    Chunk,
    Document,
    DocumentError,
    chunk_documents,
    collect_files,
    decode_document,
    load_documents,
    split_text,
    validate_text,
)


def test_short_text_is_one_chunk() -> None:
    assert split_text("One paragraph.\n\nAnother one.", chunk_size=200, overlap=20) == [
        "One paragraph.\n\nAnother one."
    ]


def test_chunks_respect_size_and_break_on_sentences() -> None:
    text = " ".join(f"Sentence number {i} says something." for i in range(40))
    chunks = split_text(text, chunk_size=120, overlap=40)
    assert len(chunks) > 5
    assert all(len(chunk) <= 120 for chunk in chunks)
    assert all(chunk.endswith(".") for chunk in chunks)


def test_consecutive_chunks_overlap_by_whole_sentences() -> None:
    text = " ".join(f"Fact {i} is here." for i in range(30))
    chunks = split_text(text, chunk_size=60, overlap=20)
    for previous, current in itertools.pairwise(chunks):
        first_sentence = current.split(". ")[0] + "."
        assert first_sentence in previous
    # nothing is lost: every sentence is in some chunk
    assert all(any(f"Fact {i} is here." in chunk for chunk in chunks) for i in range(30))


def test_zero_overlap_chunks_partition_the_text() -> None:
    text = " ".join(f"Fact {i} is here." for i in range(30))
    chunks = split_text(text, chunk_size=60, overlap=0)
    assert " ".join(chunks) == text


def test_paragraph_breaks_are_kept_inside_a_chunk() -> None:
    assert split_text("Title\n\n\n  Body   text\nwraps.", 100, 10) == ["Title\n\nBody text wraps."]


def test_a_word_longer_than_a_chunk_is_cut() -> None:
    chunks = split_text("x" * 250, chunk_size=100, overlap=10)
    assert chunks == ["x" * 100, "x" * 100, "x" * 50]


@pytest.mark.parametrize(("size", "overlap"), [(100, 100), (100, 150), (0, 0), (100, -1)])
def test_bad_sizes_are_rejected(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="overlap"):
        split_text("text", size, overlap)


def test_chunk_ids_are_source_and_index() -> None:
    chunks = chunk_documents([Document("a.md", "One. " * 100)], chunk_size=100, overlap=10)
    assert [c.chunk_id for c in chunks[:2]] == ["a.md#0", "a.md#1"]
    assert chunks[0] == Chunk("a.md", 0, chunks[0].text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "a.md: empty file"),
        (b"  \n\t\n", "a.md: empty file"),
        (b"text\x00more", "a.md: binary file (NUL byte at offset 4)"),
        (b"caf\xe9", "a.md: not UTF-8 text (invalid byte at offset 3)"),
        (b"x" * 11, "a.md: file too large (11 bytes; the limit is 10)"),
    ],
)
def test_bad_documents_get_one_line_errors(data: bytes, message: str) -> None:
    with pytest.raises(DocumentError) as caught:
        decode_document("a.md", data, max_bytes=10)
    assert str(caught.value) == message


def test_utf8_with_bom_decodes() -> None:
    assert decode_document("a.md", "\ufeffGrüße".encode(), 100).text == "Grüße"


def test_validate_text_rejects_nul() -> None:
    with pytest.raises(DocumentError, match="binary content"):
        validate_text("a.md", "a\x00b", 100)


def test_collect_files_skips_hidden_and_other_suffixes(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("b")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.md").write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in collect_files(tmp_path)] == ["b.md", "sub/a.txt"]


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no documents to ingest"):
        collect_files(tmp_path)


def test_load_documents_validates_every_file(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("fine")
    (tmp_path / "b.md").write_bytes(b"\x00")
    with pytest.raises(DocumentError, match=r"^b\.md: binary file"):
        load_documents([tmp_path], max_bytes=100)


def test_load_documents_missing_path(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="no such file or directory"):
        load_documents([tmp_path / "nope"], max_bytes=100)


def test_load_documents_oversize_is_checked_before_reading(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("y" * 101)
    with pytest.raises(DocumentError, match=r"big\.txt: file too large \(101 bytes; the limit is 100\)"):
        load_documents([tmp_path], max_bytes=100)
