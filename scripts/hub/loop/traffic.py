"""The loop's client: steady batched traffic, delayed labels, malformed probes, and the warehouse table.

The driver runs in a thread with its own `httpx.Client` (no proxies, loopback only), sends batches at
a fixed rate, posts each batch's ground truth to `/feedback` after a delay (labels arrive late in
real life), and appends every labelled row to the `Warehouse`: the training table the retrain reads,
like a warehouse table fed by the product.
"""

import contextlib
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

Generate = Callable[[int, int, float], pd.DataFrame]
"""`(rows, seed, drift) -> labelled frame`: lifecycle.synthetic.generate in the loop, a stub in tests."""


@dataclass(frozen=True)
class ResponseSample:
    """One `/predict` call as the client saw it."""

    time: float
    """Wall-clock time the request was sent (epoch seconds)."""
    latency_ms: float
    status: int
    """HTTP status, or 0 when no response came back (connection refused, timeout)."""
    rows: int
    model_version: str | None


@dataclass(frozen=True)
class ProbeResult:
    """One deliberately malformed request and the status it got."""

    name: str
    status: int
    """HTTP status, or 0 when no response came back."""
    detail: str = ""

    @property
    def server_error(self) -> bool:
        """A 5xx, or no answer at all: both count as the server failing a bad request."""
        return self.status >= 500 or self.status == 0


class Warehouse:
    """The latest labelled rows, at most `max_rows`, written atomically as the training table."""

    def __init__(self, path: Path, *, max_rows: int) -> None:
        """Nothing is written until `write()`."""
        self.path = path
        self.max_rows = max_rows
        self._frames: deque[pd.DataFrame] = deque()
        self._rows = 0
        self._lock = threading.Lock()
        self._dirty = False

    def reset(self, frame: pd.DataFrame) -> None:
        """Replace the table (the initial load, or the drifted table after drift is injected)."""
        with self._lock:
            self._frames = deque([frame.tail(self.max_rows).reset_index(drop=True)])
            self._rows = min(len(frame), self.max_rows)
            self._dirty = True

    def add(self, frame: pd.DataFrame) -> None:
        """Append labelled rows, dropping the oldest beyond `max_rows`."""
        with self._lock:
            self._frames.append(frame)
            self._rows += len(frame)
            while self._frames and self._rows - len(self._frames[0]) >= self.max_rows:
                self._rows -= len(self._frames.popleft())
            self._dirty = True

    def write(self) -> bool:
        """Write the table if it changed (temporary file then rename: a reader never sees half)."""
        with self._lock:
            if not self._dirty:
                return False
            table = pd.concat(list(self._frames), ignore_index=True).tail(self.max_rows)
            self._dirty = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.partial")
        table.to_parquet(partial, index=False)
        os.replace(partial, self.path)
        return True


@dataclass
class TrafficStats:
    """Counters the report shows next to the samples."""

    feedback_posts: int = 0
    feedback_rejected: int = 0
    labels_sent: int = 0
    transport_errors: int = 0
    last_error: str = ""


@dataclass
class _Pending:
    due: float
    labels: list[dict[str, Any]]
    rows: pd.DataFrame


class TrafficDriver:
    """Batched `/predict` traffic at a fixed rate plus delayed `/feedback`, in a background thread."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        generate: Generate,
        feature_names: Sequence[str],
        label_column: str,
        warehouse: Warehouse,
        rate_per_s: float,
        batch_rows: int,
        label_delay_s: float,
        seed: int,
        chunk_rows: int = 4000,
    ) -> None:
        """Traffic starts undrifted; `set_drift` switches the source of rows."""
        self.base_url = base_url
        self.api_key = api_key
        self.generate = generate
        self.feature_names = list(feature_names)
        self.label_column = label_column
        self.warehouse = warehouse
        self.rate_per_s = rate_per_s
        self.batch_rows = batch_rows
        self.label_delay_s = label_delay_s
        self.chunk_rows = chunk_rows
        self.samples: list[ResponseSample] = []
        self.stats = TrafficStats()
        self._seed = seed
        self._drift = 0.0
        self._source: pd.DataFrame = generate(chunk_rows, self._next_seed(), 0.0)
        self._cursor = 0
        self._pending: deque[_Pending] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-loop-traffic", daemon=True)

    def _next_seed(self) -> int:
        self._seed += 1
        return self._seed

    def start(self) -> None:
        """Start sending."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sending and wait for the thread (labels still pending are dropped)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def set_drift(self, drift: float) -> None:
        """From the next batch on, rows come from `generate(drift=drift)`."""
        fresh = self.generate(self.chunk_rows, self._next_seed(), drift)
        with self._lock:
            self._drift = drift
            self._source = fresh
            self._cursor = 0

    def versions_since(self, since: float) -> list[str]:
        """Model versions of successful responses sent at or after `since`, in order."""
        with self._lock:
            return [s.model_version for s in self.samples if s.time >= since and s.model_version is not None]

    def latest_version(self) -> str | None:
        """The model version of the latest successful response."""
        with self._lock:
            for sample in reversed(self.samples):
                if sample.model_version is not None:
                    return sample.model_version
        return None

    def count(self, *, since: float = 0.0, status: Callable[[int], bool] | None = None) -> int:
        """Responses sent at or after `since` (optionally only those whose status passes `status`)."""
        with self._lock:
            return sum(1 for s in self.samples if s.time >= since and (status is None or status(s.status)))

    def _next_rows(self) -> pd.DataFrame:
        with self._lock:
            if self._cursor + self.batch_rows > len(self._source):
                self._source = self.generate(self.chunk_rows, self._next_seed(), self._drift)
                self._cursor = 0
            rows = self._source.iloc[self._cursor : self._cursor + self.batch_rows]
            self._cursor += self.batch_rows
        return rows.reset_index(drop=True)

    def _run(self) -> None:
        interval = 1.0 / self.rate_per_s
        headers = {"X-API-Key": self.api_key}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=10.0, trust_env=False) as client:
            next_send = time.monotonic()
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_send:
                    self._send_batch(client)
                    # A slow server makes us fall behind: skip the missed slots instead of bursting.
                    next_send = max(next_send + interval, time.monotonic() - interval)
                self._post_due_labels(client)
                self._stop.wait(max(0.0, min(next_send - time.monotonic(), 0.05)))

    def _send_batch(self, client: httpx.Client) -> None:
        rows = self._next_rows()
        instances = rows[self.feature_names].to_numpy(dtype=float).tolist()
        sent = time.time()
        started = time.perf_counter()
        try:
            response = client.post("/predict", json={"instances": instances})
        except httpx.HTTPError as error:
            self._record(ResponseSample(sent, _elapsed_ms(started), 0, len(rows), None))
            self.stats.transport_errors += 1
            self.stats.last_error = f"{type(error).__name__}: {error}"
            return
        latency = _elapsed_ms(started)
        version: str | None = None
        if response.status_code == 200:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                body = response.json()
                version = str(body["model_version"])
                request_ids = [str(p["request_id"]) for p in body["predictions"]]
                labels = [
                    {"request_id": request_id, "label": int(label)}
                    for request_id, label in zip(request_ids, rows[self.label_column], strict=True)
                ]
                with self._lock:
                    self._pending.append(_Pending(time.monotonic() + self.label_delay_s, labels, rows))
        self._record(ResponseSample(sent, latency, response.status_code, len(rows), version))

    def _record(self, sample: ResponseSample) -> None:
        with self._lock:
            self.samples.append(sample)

    def _post_due_labels(self, client: httpx.Client) -> None:
        now = time.monotonic()
        due: list[_Pending] = []
        with self._lock:
            while self._pending and self._pending[0].due <= now:
                due.append(self._pending.popleft())
        if not due:
            return
        labels = [label for pending in due for label in pending.labels]
        try:
            response = client.post("/feedback", json={"labels": labels})
        except httpx.HTTPError as error:
            self.stats.transport_errors += 1
            self.stats.last_error = f"{type(error).__name__}: {error}"
            return
        self.stats.feedback_posts += 1
        if response.status_code >= 300:
            self.stats.feedback_rejected += 1
            self.stats.last_error = f"/feedback answered {response.status_code}: {response.text[:200]}"
            return
        self.stats.labels_sent += len(labels)
        self.warehouse.add(pd.concat([pending.rows for pending in due], ignore_index=True))


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


@dataclass(frozen=True)
class _Probe:
    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    content: bytes | None = None


def malformed_probes(api_key: str, width: int, max_rows: int) -> list[_Probe]:
    """Requests a client could get wrong; the server must answer each with 4xx, never 5xx."""
    key = {"X-API-Key": api_key}
    good_row = [1.0] * width
    return [
        _Probe("no API key", "/predict", {}, {"instances": [good_row]}),
        _Probe("unknown API key", "/predict", {"X-API-Key": "not-a-key"}, {"instances": [good_row]}),
        _Probe("body is not JSON", "/predict", {**key, "Content-Type": "application/json"}, content=b"{nope"),
        _Probe("instances is a string", "/predict", key, {"instances": "all of them"}),
        _Probe("no instances", "/predict", key, {}),
        _Probe("empty instances", "/predict", key, {"instances": []}),
        _Probe("too few features", "/predict", key, {"instances": [good_row[:3]]}),
        _Probe("text feature", "/predict", key, {"instances": [["x", *good_row[1:]]]}),
        _Probe("null feature", "/predict", key, {"instances": [[None, *good_row[1:]]]}),
        _Probe("out of domain", "/predict", key, {"instances": [[-5.0, *good_row[1:]]]}),
        _Probe("huge number", "/predict", key, {"instances": [[1e308, *good_row[1:]]]}),
        _Probe("record missing a field", "/predict", key, {"instances": [{"amount": 10.0}]}),
        _Probe("too many rows", "/predict", key, {"instances": [good_row] * (max_rows + 1)}),
        _Probe("feedback without labels", "/feedback", key, {"labels": "yes"}),
        _Probe("feedback label not 0/1", "/feedback", key, {"labels": [{"request_id": "x", "label": 7}]}),
    ]


def send_probes(base_url: str, api_key: str, *, width: int, max_rows: int) -> list[ProbeResult]:
    """Send every malformed probe once and record what came back."""
    results: list[ProbeResult] = []
    with httpx.Client(base_url=base_url, timeout=10.0, trust_env=False) as client:
        for probe in malformed_probes(api_key, width, max_rows):
            try:
                if probe.content is not None:
                    response = client.post(probe.path, headers=probe.headers, content=probe.content)
                else:
                    response = client.post(probe.path, headers=probe.headers, json=probe.json_body)
            except httpx.HTTPError as error:
                results.append(ProbeResult(probe.name, 0, f"{type(error).__name__}: {error}"))
                continue
            results.append(ProbeResult(probe.name, response.status_code, response.text[:160]))
    return results


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (`share` in [0, 1]); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]
