"""RAG fixtures: the model loads once per session; every test gets its own store on disk."""

from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.embedding import apply_offline_environment

apply_offline_environment()  # before anything imports huggingface_hub

from rag.embedding import Embedder, load_default_embedder  # noqa: E402
from rag.service import RagService, build_service  # noqa: E402
from rag.settings import RagSettings  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "rag_corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The shipped test corpus: four short documents of one chunk each."""
    return CORPUS


class MemoEmbedder:
    """The real model, remembering vectors: most tests re-ingest the same corpus into a fresh store."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._memo: dict[str, list[float]] = {}
        self.dimension = inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        missing = [text for text in dict.fromkeys(texts) if text not in self._memo]
        self._memo.update(zip(missing, self._inner.embed(missing), strict=True))
        return [self._memo[text] for text in texts]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The packaged MiniLM, loaded once per session (`hub rag` in tests shares the same instance)."""
    return MemoEmbedder(load_default_embedder())


@pytest.fixture
def settings(tmp_path: Path) -> RagSettings:
    """Defaults, with the store in this test's directory."""
    return RagSettings(store_path=tmp_path / "store")


@pytest.fixture
def service(settings: RagSettings, embedder: Embedder) -> RagService:
    """An empty store."""
    return build_service(settings, create_store=True, embedder=embedder)


@pytest.fixture
def ingested(service: RagService, corpus: Path) -> RagService:
    """A store holding the shipped corpus."""
    service.ingest([corpus])
    return service
