"""`hub rag`: ingest a directory of documents into a RAG store and ask it questions.

The store is the local Chroma store under `--store` unless `RAG_VECTOR_STORE` selects a cloud store (then
`--store` is unused and the cloud store's own variables apply; see workloads/rag/rag/settings.py).

Registered in `scripts/hub/cli.py` as `app.add_typer(rag_app, name="rag")`. The workload (`rag`, under
workloads/rag) and its model are imported inside the commands, so `hub --help`, `hub preview` and
`hub gate` never pay for torch.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rag.service import RagService
    from rag.settings import RagSettings

EXIT_ERROR = 2
DEFAULT_STORE = Path(".mlops-hub/rag")

rag_app = typer.Typer(
    help="Retrieval-augmented answers over your own documents, with citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        help="Local (Chroma) store directory (default: .mlops-hub/rag under the current one); "
        "unused when RAG_VECTOR_STORE selects a cloud store.",
    ),
]


def _fail(message: str) -> typer.Exit:
    # Same contract as cli._fail (one line on stderr, exit 2); not imported from there because cli imports us.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(EXIT_ERROR)


def _require_workload() -> None:
    try:
        import rag.service  # noqa: F401, PLC0415
    except ImportError as err:
        raise _fail(
            f"the RAG workload is not installed ({err}); install workloads/rag/requirements.txt"
        ) from None


def _settings(store: Path) -> "RagSettings":
    from rag.settings import SettingsError, load_settings  # noqa: PLC0415

    try:
        return load_settings(store_path=store)
    except SettingsError as err:
        raise _fail(str(err)) from None


def _service(settings: "RagSettings", *, create: bool) -> "RagService":
    from rag.service import build_service  # noqa: PLC0415
    from rag.store import StoreError  # noqa: PLC0415

    try:
        return build_service(settings, create_store=create)
    except (StoreError, ValueError) as err:
        raise _fail(str(err)) from None


@rag_app.command()
def ingest(
    directory: Annotated[Path, typer.Argument(help="Directory of .md, .markdown, .txt and .rst documents.")],
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Validate every document under DIRECTORY, then chunk, embed and store them (all or nothing)."""
    _require_workload()
    from rag.chunking import DocumentError, load_documents  # noqa: PLC0415
    from rag.service import describe_store  # noqa: PLC0415
    from rag.store import StoreError  # noqa: PLC0415

    settings = _settings(store)
    try:
        # Validated before the store is opened: a bad directory never creates an empty store.
        documents = load_documents([directory], settings.max_file_bytes)
    except DocumentError as err:
        raise _fail(str(err)) from None
    try:
        result = _service(settings, create=True).ingest_documents(documents)
    except StoreError as err:
        raise _fail(str(err)) from None
    typer.echo(
        f"Ingested {result.documents} documents as {result.chunks} chunks into {describe_store(settings)} "
        f"({result.total_chunks} chunks stored)."
    )


@rag_app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    store: StoreOption = DEFAULT_STORE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer QUESTION from the store with cited passages, or refuse when none is close enough."""
    _require_workload()
    from rag.answer import LlmError  # noqa: PLC0415
    from rag.service import QuestionError  # noqa: PLC0415
    from rag.store import StoreError  # noqa: PLC0415

    service = _service(_settings(store), create=False)
    try:
        answer = service.ask(question)
    except (QuestionError, LlmError, StoreError) as err:
        raise _fail(str(err)) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "text": answer.text,
                    "refused": answer.refused,
                    "citations": [
                        {"number": c.number, "source": c.source, "chunk": c.chunk, "distance": c.distance}
                        for c in answer.citations
                    ],
                },
                indent=2,
            )
        )
    else:
        typer.echo(answer.text)
