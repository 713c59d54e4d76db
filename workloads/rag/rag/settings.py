"""Typed settings of the RAG workload, read from environment variables.

Workload knobs are `RAG_*`. The cloud stores' coordinates use the names the ServerlessRag components
(components/rag) already pass to the functions and containers: `VECTOR_BUCKET`/`VECTOR_INDEX` (AWS),
`FIRESTORE_DATABASE`/`FIRESTORE_COLLECTION`/`EMBEDDING_FIELD` (GCP) and
`COSMOS_ENDPOINT`/`COSMOS_DATABASE`/`COSMOS_CONTAINER` (Azure). The ingest functions and services also get
where documents land: `DOCUMENTS_BUCKET` (AWS, GCP) or `DOCUMENTS_ACCOUNT`/`DOCUMENTS_CONTAINER`/`INGEST_QUEUE`
(Azure); without them, object events are refused (the query side never ingests).
"""

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, HttpUrl, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "RAG_"


class VectorStoreKind(StrEnum):
    """Which vector store the workload reads and writes (`RAG_VECTOR_STORE`)."""

    CHROMA = "chroma"
    """The embedded, persistent Chroma store under `RAG_STORE_PATH` (local default)."""
    S3VECTORS = "s3vectors"
    """An Amazon S3 Vectors index (`VECTOR_BUCKET`, `VECTOR_INDEX`)."""
    FIRESTORE = "firestore"
    """A Firestore collection with vector search (`FIRESTORE_DATABASE`, `FIRESTORE_COLLECTION`)."""
    COSMOS = "cosmos"
    """A Cosmos DB for NoSQL container with vector search (`COSMOS_ENDPOINT`, `COSMOS_DATABASE`, `COSMOS_CONTAINER`)."""


class SettingsError(ValueError):
    """Settings that cannot run the workload; the message is one line naming the variables."""


class RagSettings(BaseSettings):
    """Every knob of the workload; the defaults suit the packaged MiniLM model and the local Chroma store."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", validate_by_name=True
    )

    vector_store: VectorStoreKind = VectorStoreKind.CHROMA
    """The store behind the service; each cloud store needs its own settings below."""
    store_path: Path = Path(".mlops-hub/rag")
    """Directory of the embedded (persistent) Chroma store."""
    collection: str = Field(
        default="mlops-hub-docs", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$"
    )
    """Chroma collection name (Chroma allows 3-512 characters of [a-zA-Z0-9._-])."""
    vector_bucket: str | None = Field(
        default=None, validation_alias="VECTOR_BUCKET", pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"
    )
    """S3 Vectors: the vector bucket (3-63 lower-case letters, digits, hyphens)."""
    vector_index: str | None = Field(
        default=None, validation_alias="VECTOR_INDEX", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
    )
    """S3 Vectors: the index in the vector bucket (3-63 lower-case letters, digits, hyphens, dots)."""
    firestore_database: str = Field(
        default="(default)",
        validation_alias="FIRESTORE_DATABASE",
        pattern=r"^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$",
    )
    """Firestore: the database id; the project comes from the environment (metadata server, ADC)."""
    firestore_collection: str | None = Field(
        default=None, validation_alias="FIRESTORE_COLLECTION", pattern=r"^[^/]{1,1500}$"
    )
    """Firestore: the top-level collection holding one document per chunk."""
    embedding_field: str = Field(
        default="embedding", validation_alias="EMBEDDING_FIELD", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,1499}$"
    )
    """Firestore: the vector field the collection's vector index covers."""
    cosmos_endpoint: HttpUrl | None = Field(default=None, validation_alias="COSMOS_ENDPOINT")
    """Cosmos DB: the account's document endpoint (`https://<account>.documents.azure.com:443/`)."""
    cosmos_database: str | None = Field(
        default=None, validation_alias="COSMOS_DATABASE", pattern=r"^[^/\\#?]{1,255}$"
    )
    """Cosmos DB: the database id."""
    cosmos_container: str | None = Field(
        default=None, validation_alias="COSMOS_CONTAINER", pattern=r"^[^/\\#?]{1,255}$"
    )
    """Cosmos DB: the container id (partition key `/documentId`, vector path `/embedding`)."""
    documents_bucket: str | None = Field(
        default=None, validation_alias="DOCUMENTS_BUCKET", pattern=r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$"
    )
    """AWS, GCP: the documents bucket whose object events the ingest function or service accepts."""
    documents_account: str | None = Field(
        default=None, validation_alias="DOCUMENTS_ACCOUNT", pattern=r"^[a-z0-9]{3,24}$"
    )
    """Azure: the storage account holding the documents container and the ingest queue."""
    documents_container: str = Field(
        default="documents", validation_alias="DOCUMENTS_CONTAINER", pattern=r"^[a-z0-9](?:-?[a-z0-9]){2,62}$"
    )
    """Azure: the blob container whose blob events are ingested."""
    ingest_queue: str | None = Field(
        default=None, validation_alias="INGEST_QUEUE", pattern=r"^[a-z0-9](?:-?[a-z0-9]){2,62}$"
    )
    """Azure: the storage queue Event Grid delivers the documents container's blob events to."""
    chunk_size: int = Field(default=800, ge=100, le=8000)
    """Largest chunk in characters; MiniLM reads 256 word pieces (~1,000 characters) and cuts the rest."""
    chunk_overlap: int = Field(default=120, ge=0)
    """Characters of trailing context repeated at the start of the next chunk."""
    max_distance: float = Field(default=0.6, gt=0.0, le=2.0)
    """Grounding threshold: the largest cosine distance a passage may have and still be cited."""
    top_k: int = Field(default=4, ge=1, le=50)
    """Passages retrieved per question."""
    max_file_bytes: int = Field(default=1_000_000, ge=1)
    """Largest document accepted for ingestion."""
    max_question_chars: int = Field(default=2000, ge=1)
    """Longest question accepted."""
    llm_endpoint: HttpUrl | None = None
    """Optional generator behind a small JSON API; without it answers are extractive."""
    llm_timeout_s: float = Field(default=15.0, gt=0.0)
    """Timeout of one call to the generator."""
    admin_token: SecretStr | None = None
    """Bearer token for POST /ingest; without it the endpoint is disabled."""

    @model_validator(mode="after")
    def _overlap_below_size(self) -> "RagSettings":
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size})"
            )
        return self

    @model_validator(mode="after")
    def _store_settings_present(self) -> "RagSettings":
        required: dict[VectorStoreKind, dict[str, object]] = {
            VectorStoreKind.S3VECTORS: {
                "VECTOR_BUCKET": self.vector_bucket,
                "VECTOR_INDEX": self.vector_index,
            },
            VectorStoreKind.FIRESTORE: {"FIRESTORE_COLLECTION": self.firestore_collection},
            VectorStoreKind.COSMOS: {
                "COSMOS_ENDPOINT": self.cosmos_endpoint,
                "COSMOS_DATABASE": self.cosmos_database,
                "COSMOS_CONTAINER": self.cosmos_container,
            },
        }
        missing = [name for name, value in required.get(self.vector_store, {}).items() if value is None]
        if missing:
            raise ValueError(
                f"{ENV_PREFIX}VECTOR_STORE={self.vector_store.value} needs {', '.join(missing)} to be set"
            )
        if self.vector_store is VectorStoreKind.COSMOS and str(self.cosmos_endpoint).startswith("http:"):
            raise ValueError(f"COSMOS_ENDPOINT {self.cosmos_endpoint} must be an https URL")
        return self


def _variable(location: tuple[int | str, ...]) -> str:
    """The environment variable an error location names (aliased fields are already variable names)."""
    if not location:
        return ""
    head = str(location[0])
    return head if head.isupper() else f"{ENV_PREFIX}{head.upper()}"


def load_settings(**overrides: Any) -> RagSettings:
    """Read the settings from the environment (keyword arguments win), failing with one line.

    Raises:
        SettingsError: a value is invalid or a selected store lacks its settings.
    """
    try:
        return RagSettings(**overrides)
    except ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            message = str(error["msg"]).removeprefix("Value error, ")
            variable = _variable(error["loc"])
            problems.append(f"{variable}: {message}" if variable else message)
        raise SettingsError(f"invalid RAG settings: {'; '.join(problems)}") from None
