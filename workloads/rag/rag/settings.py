"""Typed settings of the RAG workload, read from `RAG_*` environment variables."""

from pathlib import Path

from pydantic import Field, HttpUrl, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class RagSettings(BaseSettings):
    """Every knob of the workload; the defaults suit the packaged MiniLM model."""

    model_config = SettingsConfigDict(env_prefix="RAG_", frozen=True, extra="ignore")

    store_path: Path = Path(".mlops-hub/rag")
    """Directory of the embedded (persistent) Chroma store."""
    collection: str = Field(
        default="mlops-hub-docs", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$"
    )
    """Chroma collection name (Chroma allows 3-512 characters of [a-zA-Z0-9._-])."""
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
