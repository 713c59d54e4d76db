"""`RagService`: ingest documents and answer questions; the one core every adapter calls."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.answer import Answer, Answerer, ExtractiveAnswerer, HttpLlmAnswerer
from rag.chunking import Document, DocumentError, chunk_documents, load_documents, validate_text
from rag.embedding import Embedder, load_default_embedder
from rag.settings import RagSettings, VectorStoreKind
from rag.store import ChromaStore, VectorStore

logger = logging.getLogger("rag")


class QuestionError(ValueError):
    """A question that cannot be asked (empty or too long)."""


@dataclass(frozen=True)
class IngestResult:
    """What an ingestion wrote."""

    documents: int
    chunks: int
    total_chunks: int | None
    """Chunks in the store afterwards; None when not counted (counting is a billed scan on cloud stores)."""


class RagService:
    """Ingestion and grounded answering over one vector store."""

    def __init__(
        self, settings: RagSettings, embedder: Embedder, store: VectorStore, answerer: Answerer
    ) -> None:
        self.settings = settings
        self._embedder = embedder
        self._store = store
        self._answerer = answerer

    @property
    def store(self) -> VectorStore:
        """The vector store answers come from."""
        return self._store

    def ingest(self, paths: Sequence[Path]) -> IngestResult:
        """Ingest files and directories; every file is validated before anything is written.

        Raises:
            DocumentError: a path is missing or a file is empty, binary or oversize (nothing written).
        """
        return self.ingest_documents(load_documents(paths, self.settings.max_file_bytes))

    def ingest_texts(self, texts: Sequence[tuple[str, str]]) -> IngestResult:
        """Ingest `(source, text)` pairs (an API body), validated as files are.

        Raises:
            DocumentError: a text is empty, binary, oversize or a source repeats (nothing written).
        """
        documents = [validate_text(source, text, self.settings.max_file_bytes) for source, text in texts]
        if len({document.source for document in documents}) != len(documents):
            raise DocumentError("two documents share a source name")
        return self.ingest_documents(documents)

    def ingest_documents(self, documents: Sequence[Document], *, count_total: bool = True) -> IngestResult:
        """Chunk, embed and store already validated documents.

        `count_total=False` skips counting the store afterwards: object-event ingestion runs once per
        uploaded file, and on S3 Vectors, Firestore and Cosmos DB a count is a billed scan of the index.
        """
        chunks = chunk_documents(documents, self.settings.chunk_size, self.settings.chunk_overlap)
        # Embed everything before the first write: a model failure then leaves the store untouched.
        embeddings = self._embedder.embed([chunk.text for chunk in chunks])
        self._store.upsert(chunks, embeddings)
        result = IngestResult(
            documents=len(documents),
            chunks=len(chunks),
            total_chunks=self._store.count() if count_total else None,
        )
        logger.info(
            "ingested",
            extra={
                "documents": result.documents,
                "chunks": result.chunks,
                **({"total_chunks": result.total_chunks} if count_total else {}),
            },
        )
        return result

    def delete_document(self, source: str) -> None:
        """Remove every chunk of one document (nothing happens when it has none)."""
        self._store.delete_document(source)
        logger.info("deleted", extra={"source": source})

    def ask(self, question: str) -> Answer:
        """Answer from the store, citing passages, or refuse when none is grounded.

        Raises:
            QuestionError: the question is blank or longer than `max_question_chars`.
        """
        text = " ".join(question.split())
        if not text:
            raise QuestionError("the question is empty")
        if len(text) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(text)} characters; the limit is {self.settings.max_question_chars}"
            )
        [embedding] = self._embedder.embed([text])
        hits = self._store.query(embedding, self.settings.top_k)
        return self._answerer.answer(text, hits)


def build_answerer(settings: RagSettings) -> Answerer:
    """The generator-backed answerer when an endpoint is configured, else the extractive one."""
    if settings.llm_endpoint is not None:
        return HttpLlmAnswerer(str(settings.llm_endpoint), settings.max_distance, settings.llm_timeout_s)
    return ExtractiveAnswerer(settings.max_distance)


def open_store(settings: RagSettings, *, create: bool) -> VectorStore:
    """The vector store `settings.vector_store` selects; a cloud store's SDK is imported only here.

    `create` applies to the local Chroma store only: cloud stores belong to the infrastructure
    (components/rag) and are never created by the workload.

    Raises:
        StoreError: `create` is false and there is no Chroma store at `settings.store_path`.
    """
    match settings.vector_store:
        case VectorStoreKind.CHROMA:
            return ChromaStore(settings.store_path, settings.collection, create=create)
        case VectorStoreKind.S3VECTORS:
            from rag.s3vectors_store import S3VectorsStore  # noqa: PLC0415 - cold start: only when selected

            # The settings validator guarantees the per-store values; the asserts narrow the types.
            assert settings.vector_bucket is not None and settings.vector_index is not None
            return S3VectorsStore(settings.vector_bucket, settings.vector_index)
        case VectorStoreKind.FIRESTORE:
            from rag.firestore_store import FirestoreStore  # noqa: PLC0415

            assert settings.firestore_collection is not None
            return FirestoreStore(
                settings.firestore_collection,
                database=settings.firestore_database,
                embedding_field=settings.embedding_field,
            )
        case VectorStoreKind.COSMOS:
            from rag.cosmos_store import CosmosStore  # noqa: PLC0415

            assert settings.cosmos_database is not None and settings.cosmos_container is not None
            return CosmosStore(
                str(settings.cosmos_endpoint), settings.cosmos_database, settings.cosmos_container
            )


def describe_store(settings: RagSettings) -> str:
    """Where `settings` put the chunks, in words, for an operator's messages."""
    match settings.vector_store:
        case VectorStoreKind.CHROMA:
            return str(settings.store_path)
        case VectorStoreKind.S3VECTORS:
            return f"S3 Vectors index {settings.vector_index} of vector bucket {settings.vector_bucket}"
        case VectorStoreKind.FIRESTORE:
            return f"Firestore collection {settings.firestore_collection} of database {settings.firestore_database}"
        case VectorStoreKind.COSMOS:
            return (
                f"Cosmos DB container {settings.cosmos_container} of database {settings.cosmos_database} "
                f"at {settings.cosmos_endpoint}"
            )


def build_service(
    settings: RagSettings, *, create_store: bool, embedder: Embedder | None = None
) -> RagService:
    """A service on the store `settings.vector_store` selects (see `open_store`) and the shared model.

    Raises:
        StoreError: `create_store` is false and there is no Chroma store at the path.
    """
    return RagService(
        settings,
        embedder if embedder is not None else load_default_embedder(),
        open_store(settings, create=create_store),
        build_answerer(settings),
    )
