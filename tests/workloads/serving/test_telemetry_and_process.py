"""Spans reach an OTLP/HTTP receiver (oteltap on 127.0.0.1); `python -m serving` runs, answers and
stops cleanly on SIGTERM with its capture written."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from oteltap import OtelTapHttpProtobufReceiver, OtelTapHttpProtobufReceiverSettings

from lifecycle.capture import PREDICTIONS, read_capture
from serving.app import create_app
from serving.settings import ServingSettings
from serving.tracing import configure_tracing, enabled

from .conftest import KEYS, Registry, headers

ROW = [120.0, 400.0, 2.0, 12.0, 14.0, 0.3, 0.8, 0.0]
REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_tracing_is_off_without_an_endpoint() -> None:
    assert not enabled({})
    assert not enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"})
    assert enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert configure_tracing({}).tracer is None


def _attributes(span: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in span.attributes:
        kind = item.value.WhichOneof("value")
        values[item.key] = getattr(item.value, kind) if kind else None
    return values


def test_a_span_per_predict_reaches_the_otlp_receiver(
    registry: Registry,
    model_name: str,
    make_settings: Callable[..., ServingSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry.register(model_name, registry.first)
    port = free_port()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "serving-test")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    app = create_app(make_settings())
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"

    async def scenario() -> Any:
        async with OtelTapHttpProtobufReceiver(
            OtelTapHttpProtobufReceiverSettings(http_port=port)
        ) as receiver:
            # the receiver only hands over spans that arrive after someone waits for them
            arrived = asyncio.ensure_future(receiver.await_trace(lambda span: span.name == "POST /predict"))
            await asyncio.sleep(0)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
                    for _ in range(300):
                        if (await client.get("/readyz")).status_code == 200:
                            break
                        await asyncio.sleep(0.1)
                    response = await client.post(
                        "/predict",
                        content=json.dumps({"instances": [ROW, ROW, ROW]}),
                        headers={**headers("bob"), "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
                    )
                    assert response.status_code == 200
                    # Wait inside the lifespan: the batch processor exports from its own thread within
                    # OTEL_BSP_SCHEDULE_DELAY, while this loop stays free to receive. Leaving first would
                    # run the provider's shutdown flush on this loop, blocking the very receiver it posts to.
                    return await asyncio.wait_for(arrived, timeout=20)

    span = asyncio.run(scenario())
    attributes = _attributes(span)
    assert attributes["serving.rows"] == 3
    assert attributes["serving.model_version"] == "1"
    assert attributes["serving.api_key_id"] == "bob"
    assert attributes["http.response.status_code"] == 200
    assert span.trace_id.hex() == trace_id  # the caller's trace continues


def test_python_m_serving_answers_and_flushes_capture_on_sigterm(
    registry: Registry, model_name: str, make_settings: Callable[..., ServingSettings], tmp_path: Path
) -> None:
    registry.register(model_name, registry.first)
    settings = make_settings()
    port = free_port()
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": registry.uri,
        "SERVING_MODEL_NAME": model_name,
        "SERVING_API_KEYS_FILE": str(settings.api_keys_file),
        "SERVING_CAPTURE_DIR": str(settings.capture_dir),
        "SERVING_CAPTURE_FLUSH_S": "600",
        "SERVING_EVENTS_PATH": str(settings.events_path),
        "SERVING_HOST": "127.0.0.1",
        "SERVING_PORT": str(port),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    log = (tmp_path / "serving.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "serving"], cwd=REPO, env=environment, stdout=log, stderr=log
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serving.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "python -m serving did not become ready"
            time.sleep(0.2)
        response = httpx.post(
            f"{base}/predict", json={"instances": [ROW, ROW]}, headers={"X-API-Key": KEYS["alice"]}, timeout=5
        )
        assert response.status_code == 200
        ids = [p["request_id"] for p in response.json()["predictions"]]
        assert httpx.get(f"{base}/healthz", timeout=2).json() == {"status": "ok"}
    finally:
        process.send_signal(signal.SIGTERM)  # our own child, by its PID
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    # uvicorn shuts down gracefully, then re-raises the signal it caught: exit by SIGTERM
    assert process.returncode in (0, -signal.SIGTERM), (tmp_path / "serving.log").read_text()[-2000:]
    assert "Application shutdown complete" in (tmp_path / "serving.log").read_text()
    assert [record["request_id"] for record in read_capture(settings.capture_dir, PREDICTIONS)] == ids


def test_python_m_serving_refuses_bad_settings(tmp_path: Path) -> None:
    environment = {**os.environ, "SERVING_PORT": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "serving"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "SERVING_PORT" in result.stderr
    environment = {**os.environ, "SERVING_API_KEYS_FILE": str(tmp_path / "missing.txt")}
    environment.pop("SERVING_PORT", None)
    result = subprocess.run(
        [sys.executable, "-m", "serving"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "cannot read API keys file" in result.stderr
