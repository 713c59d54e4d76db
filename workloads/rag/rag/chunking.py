"""Pure document validation and chunking: no model, no store.

Validation is all-or-nothing: a batch is checked whole before anything is written, so a bad file never
leaves a half-indexed store behind.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".rst"})
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WHITESPACE = re.compile(r"\s+")


class DocumentError(ValueError):
    """A document that cannot be ingested; the message is one line naming the file and the reason."""


@dataclass(frozen=True)
class Document:
    """One decoded text document."""

    source: str
    """Where it came from (a path relative to the ingested directory, or a caller-chosen name)."""
    text: str


@dataclass(frozen=True)
class Chunk:
    """One passage of a document, the unit that is embedded, stored and cited."""

    source: str
    index: int
    text: str

    @property
    def chunk_id(self) -> str:
        """Stable id: re-ingesting a document overwrites its chunks instead of duplicating them."""
        return f"{self.source}#{self.index}"


def decode_document(source: str, data: bytes, max_bytes: int) -> Document:
    """Validate raw bytes and decode them as UTF-8 text.

    Raises:
        DocumentError: the file is oversize, empty, binary (a NUL byte) or not valid UTF-8.
    """
    if len(data) > max_bytes:
        raise DocumentError(f"{source}: file too large ({len(data)} bytes; the limit is {max_bytes})")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DocumentError(f"{source}: binary file (NUL byte at offset {nul})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DocumentError(f"{source}: not UTF-8 text (invalid byte at offset {err.start})") from None
    if not text.strip():
        raise DocumentError(f"{source}: empty file")
    return Document(source=source, text=text)


def validate_text(source: str, text: str, max_bytes: int) -> Document:
    """Apply `decode_document`'s checks to text that arrived already decoded (an API body)."""
    if "\x00" in text:
        raise DocumentError(f"{source}: binary content (NUL character at offset {text.index(chr(0))})")
    return decode_document(source, text.encode("utf-8"), max_bytes)


def collect_files(directory: Path) -> list[Path]:
    """Text files under `directory` (recursive, hidden entries skipped), in a stable order.

    Raises:
        DocumentError: `directory` is not a directory or holds no text file.
    """
    if not directory.is_dir():
        raise DocumentError(f"{directory}: not a directory")
    files = sorted(
        path
        for path in directory.rglob("*")
        if path.is_file()
        and path.suffix.lower() in TEXT_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )
    if not files:
        wanted = ", ".join(sorted(TEXT_SUFFIXES))
        raise DocumentError(f"{directory}: no documents to ingest (looked for {wanted})")
    return files


def load_documents(paths: Sequence[Path], max_bytes: int) -> list[Document]:
    """Read and validate files and directories, all of them before returning any.

    A directory contributes its text files with sources relative to it; a file keeps its name.

    Raises:
        DocumentError: the first bad file (sorted order), or a missing path.
    """
    named: list[tuple[str, Path]] = []
    for path in paths:
        if path.is_dir():
            named.extend((file.relative_to(path).as_posix(), file) for file in collect_files(path))
        elif path.is_file():
            named.append((path.name, path))
        else:
            raise DocumentError(f"{path}: no such file or directory")
    documents = []
    for source, file in named:
        size = file.stat().st_size
        if size > max_bytes:  # checked before reading so a huge file is never loaded into memory
            raise DocumentError(f"{source}: file too large ({size} bytes; the limit is {max_bytes})")
        documents.append(decode_document(source, file.read_bytes(), max_bytes))
    seen: set[str] = set()
    for document in documents:
        if document.source in seen:
            raise DocumentError(f"{document.source}: two documents share this source name")
        seen.add(document.source)
    return documents


def _units(text: str, chunk_size: int) -> list[tuple[str, bool]]:
    """Pieces no longer than `chunk_size`: paragraphs, else sentences, else word runs.

    Each piece carries whether it starts a paragraph, so chunks keep their paragraph breaks.
    """
    units: list[tuple[str, bool]] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        flat = _WHITESPACE.sub(" ", paragraph).strip()
        if not flat:
            continue
        pieces = [flat] if len(flat) <= chunk_size else _SENTENCE_END.split(flat)
        first = True
        for piece in pieces:
            for part in _hard_split(piece, chunk_size):
                units.append((part, first))
                first = False
    return units


def _hard_split(text: str, chunk_size: int) -> list[str]:
    """Split an over-long sentence at spaces, or mid-word when a single word is longer than a chunk."""
    parts: list[str] = []
    current = ""
    for raw_word in text.split(" "):
        word = raw_word
        while len(word) > chunk_size:
            if current:
                parts.append(current)
                current = ""
            parts.append(word[:chunk_size])
            word = word[chunk_size:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= chunk_size:
            current = candidate
        else:
            parts.append(current)
            current = word
    if current:
        parts.append(current)
    return parts


def _joined_length(units: Sequence[tuple[str, bool]]) -> int:
    return sum(len(text) for text, _ in units) + sum(2 if starts else 1 for _, starts in units[1:])


def _join(units: Sequence[tuple[str, bool]]) -> str:
    out = units[0][0]
    for text, starts_paragraph in units[1:]:
        out += ("\n\n" if starts_paragraph else " ") + text
    return out


def split_text(text: str, chunk_size: int, overlap: int) -> list[str]:
    """Split text into chunks of at most `chunk_size` characters on paragraph/sentence boundaries.

    Consecutive chunks share whole trailing units (sentences or paragraphs) of at most `overlap`
    characters, so a fact cut at a boundary is still whole in one chunk.

    Raises:
        ValueError: `overlap` is not smaller than `chunk_size`, or `chunk_size` is not positive.
    """
    if chunk_size <= 0 or not 0 <= overlap < chunk_size:
        raise ValueError(f"need 0 <= overlap ({overlap}) < chunk_size ({chunk_size})")
    units = _units(text, chunk_size)
    chunks: list[str] = []
    start = 0
    while start < len(units):
        end = start + 1
        while end < len(units) and _joined_length(units[start : end + 1]) <= chunk_size:
            end += 1
        chunks.append(_join(units[start:end]))
        if end == len(units):
            break
        next_start = end
        while next_start - 1 > start and _joined_length(units[next_start - 1 : end]) <= overlap:
            next_start -= 1
        # The carried context must leave room for the next new unit, or the loop would repeat itself.
        while next_start < end and _joined_length(units[next_start : end + 1]) > chunk_size:
            next_start += 1
        start = next_start
    return chunks


def chunk_documents(documents: Iterable[Document], chunk_size: int, overlap: int) -> list[Chunk]:
    """Chunks of every document, indexed from 0 per document."""
    return [
        Chunk(source=document.source, index=index, text=text)
        for document in documents
        for index, text in enumerate(split_text(document.text, chunk_size, overlap))
    ]
