"""`report.html`: one self-contained page (inline SVG from matplotlib, inline CSS, no scripts, no CDN).

Three plots on one time axis (seconds since the loop started) with the scenario's decisions marked:
the monitor's drift score, the client's latency p50/p99, and which model version answered when.
Then the checks (event order, malformed requests), the step timings and every event in a table.
"""

import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from scripts.hub.loop.timeline import (
    DRIFT_CHECKED,
    DRIFT_DETECTED,
    DRIFT_INJECTED,
    MODEL_PROMOTED,
    MODEL_ROLLED_BACK,
    RETRAIN_TRIGGERED,
    WORSE_MODEL_INJECTED,
    LoopEvent,
    OrderCheck,
    merged,
)
from scripts.hub.loop.traffic import ProbeResult, ResponseSample, percentile

MARKERS: dict[str, str] = {
    DRIFT_INJECTED: "#d62728",
    DRIFT_DETECTED: "#ff7f0e",
    RETRAIN_TRIGGERED: "#bcbd22",
    MODEL_PROMOTED: "#2ca02c",
    WORSE_MODEL_INJECTED: "#9467bd",
    MODEL_ROLLED_BACK: "#1f77b4",
}
"""Event types drawn as vertical lines on every plot, with their colours."""

DRIFT_SCORE_KEYS = (
    "share_drifted",
    "drifted_share",
    "share_of_drifted_columns",
    "drift_score",
    "score",
    "share",
)
"""Where a `drift_checked` event may carry its score (the first numeric one wins)."""
DRIFT_THRESHOLD_KEYS = ("drift_share", "threshold", "drift_share_threshold", "drift_threshold")


@dataclass(frozen=True)
class StepTiming:
    """One scenario step: how long it took and how it ended."""

    name: str
    seconds: float
    ok: bool
    note: str = ""


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows; built by the scenario, or by hand in tests."""

    started: float
    """Epoch seconds at which the loop started: time zero on every plot."""
    events: Sequence[LoopEvent]
    samples: Sequence[ResponseSample]
    probes: Sequence[ProbeResult]
    steps: Sequence[StepTiming]
    order: OrderCheck
    outcome: str
    """`passed`, or the one-line failure."""
    settings: Mapping[str, str] = field(default_factory=dict)
    counters: Mapping[str, str] = field(default_factory=dict)


def drift_score(details: Mapping[str, object]) -> float | None:
    """The drift score of a `drift_checked` event, or None when it carries none."""
    for key in DRIFT_SCORE_KEYS:
        value = details.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    drifted, total = details.get("drifted_columns"), details.get("columns")
    if isinstance(drifted, list | tuple):
        drifted = len(drifted)
    if isinstance(total, list | tuple):
        total = len(total)
    if isinstance(drifted, int) and isinstance(total, int) and total > 0:
        return drifted / total
    return None


def drift_threshold(details: Mapping[str, object]) -> float | None:
    """The threshold a `drift_checked` event compared against, when it says."""
    for key in DRIFT_THRESHOLD_KEYS:
        value = details.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _seconds(event: LoopEvent, started: float) -> float:
    return event.at.timestamp() - started


def _mark_events(axes: Axes, events: Sequence[LoopEvent], started: float) -> None:
    labelled: set[str] = set()
    for event in events:
        colour = MARKERS.get(event.type)
        if colour is None:
            continue
        if event.type == DRIFT_DETECTED and event.details.get("episode_windows", 1) != 1:
            continue  # the monitor repeats it every window of one drift episode: mark the episode once
        label = event.type if event.type not in labelled else None
        labelled.add(event.type)
        style = ":" if event.source == "loop" else "--"
        axes.axvline(_seconds(event, started), color=colour, linestyle=style, linewidth=1.2, label=label)


def _figure(title: str, ylabel: str) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(10, 3.2), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel("seconds since the loop started")
    axes.set_ylabel(ylabel)
    axes.grid(visible=True, alpha=0.3)
    return figure, axes


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    # Inline SVG needs neither the XML prolog nor the DOCTYPE.
    return re.sub(r"^.*?(<svg\b)", r"\1", text, count=1, flags=re.DOTALL)


def _legend(axes: Axes) -> None:
    handles, _ = axes.get_legend_handles_labels()
    if handles:
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def drift_plot(data: ReportData) -> str:
    """The monitor's drift score per check, with its threshold."""
    figure, axes = _figure("Drift per monitor check (drift_checked)", "share of drifted features")
    points = [
        (_seconds(e, data.started), score, drift_threshold(e.details))
        for e in merged(data.events)
        if e.type == DRIFT_CHECKED and (score := drift_score(e.details)) is not None
    ]
    if points:
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label="score")
        thresholds = {p[2] for p in points if p[2] is not None}
        if len(thresholds) == 1:
            axes.axhline(thresholds.pop(), color="grey", linewidth=1, label="threshold")
    else:
        axes.text(0.5, 0.5, "no drift_checked event carried a score", transform=axes.transAxes, ha="center")
    _mark_events(axes, data.events, data.started)
    _legend(axes)
    return _svg(figure)


def latency_windows(
    samples: Sequence[ResponseSample], started: float, window_s: float
) -> list[tuple[float, float, float, int]]:
    """`(window start, p50 ms, p99 ms, requests)` per window of successful responses."""
    buckets: dict[int, list[float]] = {}
    for sample in samples:
        if 200 <= sample.status < 300:
            buckets.setdefault(int((sample.time - started) // window_s), []).append(sample.latency_ms)
    return [
        (index * window_s, percentile(values, 0.5), percentile(values, 0.99), len(values))
        for index, values in sorted(buckets.items())
    ]


def latency_plot(data: ReportData) -> str:
    """Client-side latency p50 and p99 per time window."""
    span = max((s.time - data.started for s in data.samples), default=0.0)
    window = max(1.0, math.ceil(span / 60))
    figure, axes = _figure(f"Client latency per {window:.0f} s window (POST /predict)", "milliseconds")
    windows = latency_windows(data.samples, data.started, window)
    if windows:
        axes.plot([w[0] for w in windows], [w[1] for w in windows], label="p50")
        axes.plot([w[0] for w in windows], [w[2] for w in windows], label="p99")
    else:
        axes.text(0.5, 0.5, "no successful responses", transform=axes.transAxes, ha="center")
    _mark_events(axes, data.events, data.started)
    _legend(axes)
    return _svg(figure)


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), version) if version.isdigit() else (10**9, version)


def version_plot(data: ReportData) -> str:
    """Which model version answered each request."""
    figure, axes = _figure("Model version in each response", "model version")
    served = [(s.time - data.started, s.model_version) for s in data.samples if s.model_version is not None]
    versions = sorted({v for _, v in served}, key=_version_key)
    if served:
        position = {version: index for index, version in enumerate(versions)}
        for version in versions:
            times = [t for t, v in served if v == version]
            axes.scatter(times, [position[version]] * len(times), s=6, label=f"v{version}")
        axes.set_yticks(range(len(versions)), [f"v{v}" for v in versions])
    else:
        axes.text(0.5, 0.5, "no model version was served", transform=axes.transAxes, ha="center")
    _mark_events(axes, data.events, data.started)
    _legend(axes)
    return _svg(figure)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }
h1 { margin-bottom: 0.2rem; } .ok { color: #1a7f37; } .bad { color: #cf222e; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.details { font-family: ui-monospace, monospace; font-size: 0.78rem; }
figure { margin: 0 0 1.5rem; } svg { max-width: 100%; height: auto; }
"""


def _rows(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _event_rows(data: ReportData) -> list[list[str]]:
    rows = []
    for event in merged(data.events):
        details = json.dumps(dict(event.details), default=str, sort_keys=True)
        if len(details) > 600:
            details = details[:599] + "…"
        rows.append(
            [
                f"{_seconds(event, data.started):.1f}",
                html.escape(event.time),
                html.escape(event.source),
                f"<b>{html.escape(event.type)}</b>" if event.type in MARKERS else html.escape(event.type),
                f'<span class="details">{html.escape(details)}</span>',
            ]
        )
    return rows


def render_report(data: ReportData) -> str:
    """The whole page as one string."""
    passed = data.outcome == "passed"
    started = datetime.fromtimestamp(data.started, UTC).isoformat(timespec="seconds")
    ok_requests = sum(1 for s in data.samples if 200 <= s.status < 300)
    server_errors = sum(1 for s in data.samples if s.status >= 500)
    latencies = [s.latency_ms for s in data.samples if 200 <= s.status < 300]
    probe_errors = sum(1 for p in data.probes if p.server_error)
    summary = {
        "outcome": data.outcome,
        "started (UTC)": started,
        "requests sent": str(len(data.samples)),
        "successful responses": str(ok_requests),
        "5xx responses to traffic": str(server_errors),
        "latency p50 / p99 (ms)": f"{percentile(latencies, 0.5):.1f} / {percentile(latencies, 0.99):.1f}",
        "malformed requests sent": str(len(data.probes)),
        "malformed requests answered 5xx (or not at all)": str(probe_errors),
        **data.counters,
        **data.settings,
    }
    order_class = "ok" if data.order.ok else "bad"
    chain = "".join(
        f"<li>{html.escape(required)}"
        + (
            f" — {html.escape(data.order.matched[i].source)} at "
            f"{_seconds(data.order.matched[i], data.started):.1f} s"
            if i < len(data.order.matched)
            else " — <b class='bad'>not seen</b>"
        )
        + "</li>"
        for i, required in enumerate(data.order.required)
    )
    steps = [
        [
            html.escape(s.name),
            f"{s.seconds:.1f}",
            "ok" if s.ok else "<b class='bad'>failed</b>",
            html.escape(s.note),
        ]
        for s in data.steps
    ]
    probes = [
        [
            html.escape(p.name),
            str(p.status or "no answer"),
            "<b class='bad'>server error</b>"
            if p.server_error
            else ("accepted" if p.status < 300 else "rejected"),
            f'<span class="details">{html.escape(p.detail)}</span>',
        ]
        for p in data.probes
    ]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>hub loop report</title><style>{STYLE}</style></head>
<body>
<h1>hub loop</h1>
<p class="{"ok" if passed else "bad"}"><b>{html.escape("passed" if passed else data.outcome)}</b></p>
{_rows([[html.escape(k), html.escape(v)] for k, v in summary.items()], ["", ""])}
<h2>Drift</h2><figure>{drift_plot(data)}</figure>
<h2>Latency</h2><figure>{latency_plot(data)}</figure>
<h2>Model versions served</h2><figure>{version_plot(data)}</figure>
<h2>Event order</h2>
<p class="{order_class}">{html.escape(data.order.describe())}</p><ol>{chain}</ol>
<h2>Steps</h2>{_rows(steps, ["step", "seconds", "result", "note"])}
<h2>Malformed requests</h2>{_rows(probes, ["request", "status", "verdict", "body (start)"])}
<h2>Events</h2>{_rows(_event_rows(data), ["t (s)", "time", "source", "type", "details"])}
</body></html>
"""
