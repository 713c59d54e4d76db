"""RAG fixtures: the model loads once per session; every test gets its own store on disk; the Firestore
emulator starts once per session, only for the tests that ask for it."""

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rag.embedding import apply_offline_environment

apply_offline_environment()  # before anything imports huggingface_hub

from rag.embedding import Embedder, load_default_embedder  # noqa: E402
from rag.service import RagService, build_service  # noqa: E402
from rag.settings import RagSettings  # noqa: E402

if TYPE_CHECKING:
    from google.cloud import firestore

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


FIRESTORE_EMULATOR_JAR = Path("platform/cloud-firestore-emulator/cloud-firestore-emulator.jar")
FIRESTORE_EMULATOR_MAIN = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[str]:
    """`host:port` of the Firestore emulator (google-cloud-cli's), started for this session on loopback.

    The emulator's jar is run by java directly, so the process this fixture starts is the emulator
    itself and is stopped by its own PID. Skips where java or the emulator component is missing.
    """
    gcloud = shutil.which("gcloud")
    java = shutil.which("java")
    jar = Path(gcloud).resolve().parents[1] / FIRESTORE_EMULATOR_JAR if gcloud else None
    if java is None or jar is None or not jar.is_file():
        pytest.skip("the Firestore emulator needs java and google-cloud-cli's cloud-firestore-emulator")
    host = f"127.0.0.1:{_free_port()}"
    port = host.rsplit(":", 1)[1]
    emulator = subprocess.Popen(
        [java, "-Duser.language=en", "-cp", str(jar), FIRESTORE_EMULATOR_MAIN, "start",
         "--host=127.0.0.1", f"--port={port}", "--database-mode=firestore-native"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}/", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if emulator.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Firestore emulator did not start on {host}")
            time.sleep(0.2)
        yield host
    finally:
        emulator.terminate()
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.kill()
            emulator.wait()


@pytest.fixture
def firestore_client(firestore_emulator: str, monkeypatch: pytest.MonkeyPatch) -> "firestore.Client":
    """A real google-cloud-firestore client on the emulator (a named database, as the component creates)."""
    from google.cloud import firestore  # noqa: PLC0415 - only the tests that use the emulator pay for it

    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator)
    return firestore.Client(project="demo-mlops-hub", database="rag-vectors")


def _wait_for(process: "subprocess.Popen[bytes]", url: str, name: str, ok: tuple[int, ...]) -> None:
    """Poll `url` until it answers one of `ok` (any HTTP answer when `ok` is empty)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:  # noqa: S310 - loopback http URLs built here
                if not ok or reply.status in ok:
                    return
        except urllib.error.HTTPError as err:
            if not ok or err.code in ok:
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{name} did not start at {url}")
        time.sleep(0.1)


def _stop(process: "subprocess.Popen[bytes]") -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


TOOLS = Path(__file__).resolve().parents[3] / ".tools"
"""Where `make emulators` installs the storage emulators."""


def _tool(name: str, directory: Path) -> str | None:
    candidate = directory / name
    return str(candidate) if candidate.exists() else shutil.which(name)


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """`http://127.0.0.1:PORT` of gcp-storage-emulator (PyPI), started in memory for this session.

    Installed by `make emulators` into .tools/ (it is a test stand-in, not a dependency of the project), else
    found on PATH. Skips where it is missing.
    """
    executable = _tool("gcp-storage-emulator", TOOLS / "gcs" / "bin")
    if executable is None:
        pytest.skip("gcp-storage-emulator is not on PATH")
    port = _free_port()
    emulator = subprocess.Popen(
        [executable, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(emulator, f"http://127.0.0.1:{port}/storage/v1/b", "gcp-storage-emulator", ())
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(emulator)


AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's documented well-known development account and key."""


@pytest.fixture(scope="session")
def azurite() -> Iterator[tuple[str, str]]:
    """(blob endpoint, queue endpoint) of Azurite (npm `azurite@3.35`), started for this session.

    From .tools/ (`make emulators`) or PATH, like gcp-storage-emulator; telemetry off, in-memory, loopback only. Skips where missing.
    """
    executable = _tool("azurite", TOOLS / "azurite" / "node_modules" / ".bin")
    if executable is None:
        pytest.skip("azurite is not on PATH")
    blob_port, queue_port, table_port = _free_port(), _free_port(), _free_port()
    server = subprocess.Popen(
        [executable, "--silent", "--disableTelemetry", "--inMemoryPersistence", "--skipApiVersionCheck",
         "--blobHost", "127.0.0.1", "--blobPort", str(blob_port),
         "--queueHost", "127.0.0.1", "--queuePort", str(queue_port),
         "--tableHost", "127.0.0.1", "--tablePort", str(table_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        blob = f"http://127.0.0.1:{blob_port}/{AZURITE_ACCOUNT}"
        queue = f"http://127.0.0.1:{queue_port}/{AZURITE_ACCOUNT}"
        _wait_for(server, blob, "Azurite blob", ())
        _wait_for(server, queue, "Azurite queue", ())
        yield blob, queue
    finally:
        _stop(server)
