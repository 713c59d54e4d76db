"""Serving benchmark: `mlflow models serve` against `python -m serving`, side by side in one run.

What happens, all on 127.0.0.1 under a temporary directory:

1. A scikit-learn `GradientBoostingClassifier` (`--trees`, `--depth`) is trained on
   `lifecycle.synthetic` data, logged to a local MLflow sqlite store, registered and given the alias
   `champion` (tag `flavor=sklearn`).
2. Both servers start with one worker each, pinned to the same CPU when there are two or more
   (the load generator gets another one): `mlflow models serve -m models:/<name>@champion
   --env-manager local -w 1`, and `python -m serving` with everything on: the registry and its
   reload poll, API keys, per-row rate limits (set high enough not to throttle), validation,
   extraction detection, capture, Prometheus metrics (no OTLP endpoint: tracing is off, as when no
   collector is configured).
3. Both are checked to answer the same scores for the same rows, then each cell (rows per request x
   concurrent connections) is loaded for `--duration` seconds, MLflow then serving, with a fixed body
   and HTTP/1.1 keep-alive: `wrk` (closed loop, one thread, Lua `done()` percentiles) when installed,
   else a lean asyncio generator in its own process. A calibration cell against a trivial ASGI app on
   the same uvicorn stack shows the generator's own ceiling.

Run it (about 2 minutes with the defaults):
    .venv/bin/python -m scripts.benchmarks.serving_bench --duration 10 --markdown
"""

import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
MODEL_NAME = "fraud-detector"
API_KEY = "bench-key"
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "OTEL_SDK_DISABLED": "true"}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
{extra_headers}
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format('{{"requests": %d, "duration_us": %d, "errors": %d, "p50_us": %d, "p99_us": %d}}\\n',
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99)))
end
"""

# The fallback generator: N keep-alive connections, each sending the fixed request and reading the
# whole response (Content-Length) before the next, for `duration` seconds; latencies per request.
PY_GENERATOR = """
import asyncio, json, sys, time
try:
    import uvloop
    uvloop.install()
except ImportError:
    pass
host, port, path, duration, concurrency = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
spec = json.loads(sys.stdin.read())
body = spec["body"].encode()
head = (f"POST {path} HTTP/1.1\\r\\nHost: {host}:{port}\\r\\nContent-Type: application/json\\r\\n"
        + "".join(f"{k}: {v}\\r\\n" for k, v in spec["headers"].items())
        + f"Content-Length: {len(body)}\\r\\n\\r\\n").encode()
request = head + body
latencies, errors = [], [0]

async def client(stop_at):
    reader, writer = await asyncio.open_connection(host, port)
    perf = time.perf_counter
    while True:
        started = perf()
        if started >= stop_at:
            break
        writer.write(request)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\\r\\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
            elif line.lower().startswith(b"transfer-encoding:"):
                raise SystemExit("the generator reads Content-Length bodies only, got " + line.decode())
        await reader.readexactly(length)
        latencies.append(perf() - started)
        if not status_line.startswith(b"HTTP/1.1 2"):
            errors[0] += 1
    writer.close()

async def main():
    start = time.perf_counter()
    await asyncio.gather(*(client(start + duration) for _ in range(concurrency)))
    return time.perf_counter() - start

elapsed = asyncio.run(main())
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0
print(json.dumps({"requests": len(latencies), "duration_us": int(elapsed * 1e6), "errors": errors[0],
                  "p50_us": int(pick(0.50) * 1e6), "p99_us": int(pick(0.99) * 1e6)}))
"""

TRIVIAL_APP = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")]})
    await send({"type": "http.response.body", "body": b'{"ok":true}'})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools", access_log=False, log_level="warning")
"""


@dataclass(frozen=True)
class Cell:
    """One measurement: a server at a batch size and concurrency."""

    server: str
    rows: int
    concurrency: int
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def environment(**extra: str) -> dict[str, str]:
    """This process's environment, telemetry off, plus `extra`."""
    env = {**os.environ, **QUIET}
    # Only the URIs passed here: a caller's MLflow settings (a test session's store) must not leak in.
    for inherited in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        env.pop(inherited, None)
    env.update(extra)
    # `mlflow models serve` execs `uvicorn` by name: the venv's bin must come first on PATH.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    return env


def pinned(argv: Sequence[str], cpu: int | None) -> list[str]:
    """`argv` under `taskset -c cpu` when pinning is possible."""
    if cpu is None or shutil.which("taskset") is None:
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


def train_and_register(root: Path, trees: int, depth: int, seed: int) -> tuple[str, str]:
    """Train, log, register and alias the model; returns (tracking URI, model description)."""
    import mlflow  # noqa: PLC0415 - heavy, and only the parent process needs it
    import mlflow.sklearn  # noqa: PLC0415
    from sklearn.ensemble import GradientBoostingClassifier  # noqa: PLC0415

    from lifecycle.features import FEATURE_NAMES, LABEL  # noqa: PLC0415
    from lifecycle.synthetic import generate  # noqa: PLC0415

    uri = f"sqlite:///{root / 'mlflow.db'}"
    # MLflow's URIs are process-wide (and mirrored into the environment), and so are the quiet variables
    # (OTEL_SDK_DISABLED would switch tracing off for whatever else runs in this process, tests included):
    # set them for the training only, and put everything back after.
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", *QUIET)}
    os.environ.update(QUIET)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment = mlflow.create_experiment(
            "serving-bench", artifact_location=(root / "artifacts").as_uri()
        )
        frame = generate(20_000, seed=seed)
        model = GradientBoostingClassifier(n_estimators=trees, max_depth=depth, random_state=seed)
        model.fit(frame[list(FEATURE_NAMES)].to_numpy(), frame[LABEL].to_numpy())
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=MODEL_NAME,
                pip_requirements=["scikit-learn", "numpy"],
                serialization_format="cloudpickle",
            )
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        version = str(info.registered_model_version)
        client.set_model_version_tag(MODEL_NAME, version, "flavor", "sklearn")
        client.set_registered_model_alias(MODEL_NAME, "champion", version)
    finally:
        # None hands resolution back to the variables restored below (the API is typed str only).
        mlflow.set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # type: ignore[arg-type]
        mlflow.set_registry_uri(saved["MLFLOW_REGISTRY_URI"])  # type: ignore[arg-type]
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return uri, f"scikit-learn GradientBoostingClassifier, {trees} trees of depth {depth}, 8 features"


@contextlib.contextmanager
def server(
    argv: list[str], env: dict[str, str], ready_url: str, log: Path, timeout: float = 120.0
) -> Iterator[int]:
    """Start a server process, wait until `ready_url` answers 200, stop it by its PID afterwards."""
    with log.open("w") as output:
        process = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=output, stderr=output, start_new_session=True
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{argv[-1]} exited early: {log.read_text()[-1500:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ready_url} not ready after {timeout:.0f} s: {log.read_text()[-1500:]}")
            time.sleep(0.2)
        yield process.pid
    finally:
        # Our own process group (start_new_session): the server and any workers it forked.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def load(
    generator: str,
    url: str,
    body: str,
    headers: dict[str, str],
    concurrency: int,
    duration: float,
    cpu: int | None,
    work: Path,
) -> dict[str, Any]:
    """Run one load cell; returns requests, duration_us, errors, p50_us, p99_us."""
    if generator == "wrk":
        extra = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
        script = work / f"wrk-{hashlib.sha256((body + extra).encode()).hexdigest()[:12]}.lua"
        script.write_text(WRK_SCRIPT.format(body=json.dumps(body), extra_headers=extra))
        argv = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{max(1, round(duration))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        result = subprocess.run(
            pinned(argv, cpu), capture_output=True, text=True, check=True, timeout=duration + 60
        )
        line = [text for text in result.stdout.splitlines() if text.startswith('{"requests"')][-1]
        parsed: dict[str, Any] = json.loads(line)
        return parsed
    address = httpx.URL(url)
    argv = [
        sys.executable,
        "-c",
        PY_GENERATOR,
        str(address.host),
        str(address.port),
        address.path,
        str(duration),
        str(concurrency),
    ]
    result = subprocess.run(
        pinned(argv, cpu),
        input=json.dumps({"body": body, "headers": headers}),
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    )
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    return parsed


def to_cell(name: str, rows: int, concurrency: int, raw: dict[str, Any]) -> Cell:
    """A generator's result as a Cell."""
    return Cell(
        server=name,
        rows=rows,
        concurrency=concurrency,
        requests=int(raw["requests"]),
        seconds=raw["duration_us"] / 1e6,
        errors=int(raw["errors"]),
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
    )


def bodies(rows: int, seed: int) -> tuple[str, str, list[list[float]]]:
    """The fixed request bodies (MLflow's `dataframe_split`, ours `instances`) of `rows` real rows."""
    from lifecycle.features import FEATURE_NAMES  # noqa: PLC0415
    from lifecycle.synthetic import generate  # noqa: PLC0415

    data = generate(rows, seed=seed + 1)[list(FEATURE_NAMES)].to_numpy().round(4).tolist()
    mlflow_body = json.dumps({"dataframe_split": {"columns": list(FEATURE_NAMES), "data": data}})
    return mlflow_body, json.dumps({"instances": data}), data


def check_same_scores(mlflow_url: str, serving_url: str, seed: int) -> None:
    """Both servers give the same labels for the same rows (MLflow's sklearn pyfunc answers
    `predict`, the argmax of the probabilities we threshold at 0.5)."""
    mlflow_body, serving_body, _ = bodies(8, seed)
    ours = httpx.post(serving_url, content=serving_body, headers=_serving_headers(), timeout=10).json()
    theirs = httpx.post(
        mlflow_url, content=mlflow_body, headers={"Content-Type": "application/json"}, timeout=10
    )
    theirs.raise_for_status()
    labels = [int(value) for value in theirs.json()["predictions"]]
    if labels != [p["label"] for p in ours["predictions"]]:
        raise RuntimeError(f"the servers disagree: mlflow {labels} vs serving {ours['predictions']}")


def _serving_headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "X-API-Key": API_KEY}


def machine_description() -> str:
    """CPUs, load average, versions: context for every figure."""
    import mlflow  # noqa: PLC0415
    import sklearn  # noqa: PLC0415

    load1, load5, load15 = os.getloadavg()
    return (
        f"machine: {os.cpu_count()} CPUs, load average {load1:.2f}, {load5:.2f}, {load15:.2f}; "
        f"Python {platform.python_version()}; mlflow {mlflow.__version__}, scikit-learn {sklearn.__version__}"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train, start both servers, measure every cell; returns the report."""
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "python"
    cpus = os.cpu_count() or 1
    server_cpu, load_cpu = (1, 0) if (cpus >= 2 and not args.no_pin) else (None, None)
    rows_list = [int(value) for value in args.rows.split(",")]
    concurrency_list = [int(value) for value in args.concurrency.split(",")]
    report: dict[str, Any] = {"machine_before": machine_description(), "generator": generator, "cells": []}
    with tempfile.TemporaryDirectory(prefix="serving-bench-") as directory:
        root = Path(directory)
        uri, described = train_and_register(root, args.trees, args.depth, args.seed)
        report["model"] = described
        keys = root / "keys.txt"
        keys.write_text(f"bench:{hashlib.sha256(API_KEY.encode()).hexdigest()}\n")
        mlflow_port, serving_port, trivial_port = free_port(), free_port(), free_port()
        mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
        mlflow_argv = [mlflow_cli, "models", "serve", "-m", f"models:/{MODEL_NAME}@champion", "--env-manager", "local",
                       "-h", "127.0.0.1", "-p", str(mlflow_port), "-w", "1"]  # fmt: skip
        serving_env = environment(
            MLFLOW_TRACKING_URI=uri,
            SERVING_MODEL_NAME=MODEL_NAME,
            SERVING_API_KEYS_FILE=str(keys),
            SERVING_HOST="127.0.0.1",
            SERVING_PORT=str(serving_port),
            SERVING_CAPTURE_DIR=str(root / "capture"),
            SERVING_EVENTS_PATH=str(root / "events.jsonl"),
            SERVING_RATE_PER_S="10000000",
            SERVING_BURST="10000000",
            SERVING_LOG_LEVEL="WARNING",
        )
        mlflow_url = f"http://127.0.0.1:{mlflow_port}"
        serving_url = f"http://127.0.0.1:{serving_port}"
        with (
            server(
                pinned(mlflow_argv, server_cpu),
                environment(MLFLOW_TRACKING_URI=uri),
                f"{mlflow_url}/ping",
                root / "mlflow.log",
            ),
            server(
                pinned([sys.executable, "-m", "serving"], server_cpu),
                serving_env,
                f"{serving_url}/readyz",
                root / "serving.log",
            ),
        ):
            check_same_scores(f"{mlflow_url}/invocations", f"{serving_url}/predict", args.seed)
            with server(
                pinned([sys.executable, "-c", TRIVIAL_APP, str(trivial_port)], server_cpu),
                environment(),
                f"http://127.0.0.1:{trivial_port}/",
                root / "trivial.log",
            ):
                raw = load(
                    generator,
                    f"http://127.0.0.1:{trivial_port}/",
                    "{}",
                    {},
                    max(concurrency_list),
                    args.duration,
                    load_cpu,
                    root,
                )
                report["calibration"] = asdict(to_cell("trivial ASGI app", 0, max(concurrency_list), raw)) | {
                    "rps": to_cell("", 0, 0, raw).rps
                }
            for rows in rows_list:
                mlflow_body, serving_body, _ = bodies(rows, args.seed)
                for concurrency in concurrency_list:
                    for name, url, body, headers in (
                        ("mlflow", f"{mlflow_url}/invocations", mlflow_body, {}),
                        ("serving", f"{serving_url}/predict", serving_body, {"X-API-Key": API_KEY}),
                    ):
                        raw = load(generator, url, body, headers, concurrency, args.duration, load_cpu, root)
                        cell = to_cell(name, rows, concurrency, raw)
                        report["cells"].append(asdict(cell) | {"rps": cell.rps})
                        print(f"{name:8} rows={rows:<3} c={concurrency:<3} {cell.rps:9.1f} req/s  "
                              f"p50 {cell.p50_ms:7.2f} ms  p99 {cell.p99_ms:7.2f} ms  errors {cell.errors}",
                              file=sys.stderr, flush=True)  # fmt: skip
        report["machine_after"] = machine_description()
    return report


def render(report: dict[str, Any]) -> str:
    """The report as a markdown table, one line per cell pair."""
    cells = {(c["server"], c["rows"], c["concurrency"]): c for c in report["cells"]}
    pairs = sorted({(rows, concurrency) for _, rows, concurrency in cells})
    lines = [
        report["machine_before"],
        f"model: {report['model']}; load generator: {report['generator']}",
        f"generator ceiling (trivial ASGI app, uvloop + httptools, {report['calibration']['concurrency']} connections): "
        f"{report['calibration']['rps']:,.0f} req/s",
        "",
        "| rows/request | concurrency | MLflow req/s | MLflow p50 ms | MLflow p99 ms | serving req/s | serving p50 ms "
        "| serving p99 ms | throughput ratio | errors (MLflow/serving) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rows, concurrency in pairs:
        theirs, ours = cells.get(("mlflow", rows, concurrency)), cells.get(("serving", rows, concurrency))
        if theirs is None or ours is None:
            continue
        ratio = ours["rps"] / theirs["rps"] if theirs["rps"] else float("inf")
        lines.append(
            f"| {rows} | {concurrency} | {theirs['rps']:,.0f} | {theirs['p50_ms']:.2f} | {theirs['p99_ms']:.2f} "
            f"| {ours['rps']:,.0f} | {ours['p50_ms']:.2f} | {ours['p99_ms']:.2f} | {ratio:.1f}x "
            f"| {theirs['errors']}/{ours['errors']} |"
        )
    lines += ["", report.get("machine_after", "")]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=textwrap.dedent(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per cell")
    parser.add_argument("--rows", default="1,32", help="rows per request, comma-separated")
    parser.add_argument("--concurrency", default="1,8,32", help="concurrent connections, comma-separated")
    parser.add_argument("--trees", type=int, default=50)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers and generator to CPUs")
    parser.add_argument("--markdown", action="store_true", help="print the markdown table")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    report = run(args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(render(report) if args.markdown else json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
