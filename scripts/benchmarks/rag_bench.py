"""RAG benchmark: ingestion throughput, query latency and the query handler's cold start, locally.

What is measured, on a corpus generated deterministically (seeded word lists, English-like sentences,
about ten chunks per document) into a temporary embedded Chroma store:

- ingestion: the steps of `RagService.ingest` (read + validate + chunk, embed, upsert) of the whole
  directory, timed one by one with the model already loaded, as chunks/s;
- query latency: `RagService.ask` (embed the question, query the store, compose the cited answer) for
  `--queries` generated questions after two warm-up questions, p50 and p99 (nearest rank), and the
  store query alone;
- cold start: a fresh `python` process per run, from spawn to exit, that imports `rag.lambda_handler`
  and answers one API Gateway v2 event through `handler` (model load and store open included), with
  the in-process split (import, first answer) it reports.

The machine line (CPUs, load average before and after, versions) is printed first: other work on the
machine skews every figure, and embedding is CPU-bound.

Run it (PYTHONPATH must reach workloads/rag until pyproject does):
    PYTHONPATH=workloads/rag .venv/bin/python -m scripts.benchmarks.rag_bench --chunks 2000
"""

import argparse
import importlib.metadata
import json
import math
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag.chunking import chunk_documents, load_documents
from rag.embedding import apply_offline_environment, load_default_embedder
from rag.service import build_service
from rag.settings import RagSettings

SUBJECTS = (
    "the training cluster", "the GPU node pool", "the policy gate", "the model registry", "the feature store",
    "the serving endpoint", "the data pipeline", "the on-call rotation", "the audit log", "the cost report",
)  # fmt: skip
VERBS = (
    "scales", "records", "rejects", "promotes", "retains", "encrypts", "replicates", "schedules", "reports",
    "validates",
)  # fmt: skip
OBJECTS = (
    "every nightly batch", "spot instances", "expired waivers", "champion models", "personal data",
    "inference requests", "checkpoint files", "incident pages", "tagged resources", "budget alerts",
)  # fmt: skip
QUALIFIERS = (
    "within fifteen minutes", "for thirty days", "in every region", "before each release", "after review",
    "on weekdays only", "when the queue is idle", "with customer-managed keys", "through the gateway",
    "at the end of each month",
)  # fmt: skip
CHUNKS_PER_DOCUMENT = 10

COLD_START = """
import json, sys, time
t0 = time.perf_counter()
from rag.lambda_handler import handler
t1 = time.perf_counter()
event = {"rawPath": "/ask", "requestContext": {"http": {"method": "POST"}},
         "body": json.dumps({"question": sys.argv[1]})}
response = handler(event, None)
t2 = time.perf_counter()
assert response["statusCode"] == 200, response
print(json.dumps({"import_s": t1 - t0, "first_answer_s": t2 - t1}))
"""


def _sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(QUALIFIERS)}."


def generate_corpus(directory: Path, chunks: int, chunk_size: int, seed: int) -> int:
    """Write documents of about `CHUNKS_PER_DOCUMENT` chunks each; returns the number of documents."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible corpus, not a secret
    documents = max(1, math.ceil(chunks / CHUNKS_PER_DOCUMENT))
    for number in range(documents):
        paragraphs: list[str] = []
        length = 0
        while length < chunk_size * CHUNKS_PER_DOCUMENT * 0.8:
            paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
            paragraphs.append(paragraph)
            length += len(paragraph) + 2
        (directory / f"doc-{number:05d}.md").write_text(
            f"# Document {number}\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8"
        )
    return documents


def _questions(count: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)  # noqa: S311 - reproducible questions, not a secret
    return [
        f"How does {rng.choice(SUBJECTS)} handle {rng.choice(OBJECTS)} {rng.choice(QUALIFIERS)}?"
        for _ in range(count)
    ]


def _nearest_rank(values: list[float], percentile: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percentile / 100 * len(ordered)) - 1)]


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def machine_line() -> str:
    """CPUs, load average and the versions that decide the figures."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("torch", "sentence-transformers", "chromadb")
    )
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load}, Python {platform.python_version()}, "
        f"{versions}"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chunks", type=int, default=2000, help="Approximate corpus size in chunks.")
    parser.add_argument("--chunk-size", type=int, default=800, help="RAG_CHUNK_SIZE for the run.")
    parser.add_argument("--queries", type=int, default=200, help="Timed questions.")
    parser.add_argument("--cold-runs", type=int, default=3, help="Fresh processes for the cold start.")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    apply_offline_environment()
    command = "PYTHONPATH=workloads/rag .venv/bin/python -m scripts.benchmarks.rag_bench " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    before = machine_line()

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as scratch:
        root = Path(scratch)
        corpus = root / "corpus"
        corpus.mkdir()
        documents = generate_corpus(corpus, args.chunks, args.chunk_size, args.seed)
        settings = RagSettings(store_path=root / "store", chunk_size=args.chunk_size)
        started = time.perf_counter()
        embedder = load_default_embedder()
        model_load_s = time.perf_counter() - started
        service = build_service(settings, create_store=True, embedder=embedder)

        # The steps of `RagService.ingest`, timed one by one (same functions, same order, same store).
        started = time.perf_counter()
        loaded = load_documents([corpus], settings.max_file_bytes)
        chunks = chunk_documents(loaded, settings.chunk_size, settings.chunk_overlap)
        prepare_s = time.perf_counter() - started
        started = time.perf_counter()
        vectors = embedder.embed([chunk.text for chunk in chunks])
        embed_s = time.perf_counter() - started
        started = time.perf_counter()
        service.store.upsert(chunks, vectors)
        upsert_s = time.perf_counter() - started
        ingest_s = prepare_s + embed_s + upsert_s
        chunk_count = service.store.count()

        questions = _questions(args.queries, args.seed)
        for question in questions[:2]:
            service.ask(question)
        ask_ms: list[float] = []
        refused = 0
        for question in questions:
            started = time.perf_counter()
            answer = service.ask(question)
            ask_ms.append((time.perf_counter() - started) * 1000)
            refused += answer.refused
        [query_vector] = embedder.embed([questions[0]])
        query_ms: list[float] = []
        for _ in range(args.queries):
            started = time.perf_counter()
            service.store.query(query_vector, settings.top_k)
            query_ms.append((time.perf_counter() - started) * 1000)

        environment = {
            **os.environ,
            "RAG_STORE_PATH": str(settings.store_path),
            "RAG_CHUNK_SIZE": str(args.chunk_size),
            "PYTHONPATH": os.pathsep.join(
                [
                    str(Path(__file__).resolve().parents[2] / "workloads" / "rag"),
                    os.environ.get("PYTHONPATH", ""),
                ]
            ),
        }
        cold_s: list[float] = []
        splits: list[dict[str, float]] = []
        for _ in range(args.cold_runs):
            started = time.perf_counter()
            completed = subprocess.run(
                [sys.executable, "-c", COLD_START, questions[0]],
                env=environment,
                capture_output=True,
                text=True,
                check=True,
            )
            cold_s.append(time.perf_counter() - started)
            splits.append(json.loads(completed.stdout.strip().splitlines()[-1]))

    after = machine_line()
    rows = [
        ("corpus", f"{documents} documents, {chunk_count} chunks of ≤ {args.chunk_size} characters"),
        ("model load (in process, once)", f"{model_load_s:.2f} s"),
        ("ingest, all steps", f"{ingest_s:.1f} s = {chunk_count / ingest_s:.1f} chunks/s"),
        ("↳ read + validate + chunk", f"{prepare_s:.2f} s = {len(chunks) / prepare_s:,.0f} chunks/s"),
        ("↳ embed (MiniLM, CPU)", f"{embed_s:.1f} s = {len(chunks) / embed_s:.1f} chunks/s"),
        ("↳ upsert (Chroma, persistent)", f"{upsert_s:.2f} s = {len(chunks) / upsert_s:,.0f} chunks/s"),
        (
            f"ask, {args.queries} questions (embed + query + answer)",
            f"p50 {statistics.median(ask_ms):.1f} ms, p99 {_nearest_rank(ask_ms, 99):.1f} ms "
            f"({refused} refused)",
        ),
        (
            f"store query alone (top {settings.top_k})",
            f"p50 {statistics.median(query_ms):.2f} ms, p99 {_nearest_rank(query_ms, 99):.2f} ms",
        ),
        (
            f"cold start, fresh process → first answer ({args.cold_runs} runs)",
            f"median {statistics.median(cold_s):.1f} s (min {min(cold_s):.1f}, max {max(cold_s):.1f}); "
            f"in process: import {statistics.median(s['import_s'] for s in splits):.2f} s, "
            f"first answer {statistics.median(s['first_answer_s'] for s in splits):.2f} s",
        ),
    ]
    print(f"`{command}`\n")
    print(f"Machine before: {before}  \nMachine after: {after}\n")
    print("| measurement | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
