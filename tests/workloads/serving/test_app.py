"""The prediction service against a real MLflow registry: predictions, auth, limits, validation,
hot reload, broken versions, capture, extraction flags and metrics."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lifecycle.capture import LABELS, PREDICTIONS, read_capture
from lifecycle.events import EventType, read_events
from lifecycle.features import FEATURE_NAMES, FEATURES
from lifecycle.synthetic import generate
from serving.app import create_app
from serving.settings import ServingSettings

from .conftest import Registry, headers, ready_client, wait_for

ROW = [120.0, 400.0, 2.0, 12.0, 14.0, 0.3, 0.8, 0.0]
Serve = Callable[..., TestClient]


def predict(client: TestClient, rows: Any, key: str = "alice") -> Any:
    return client.post("/predict", content=json.dumps({"instances": rows}), headers=headers(key))


def events_of(path: Path, kind: EventType) -> list[dict[str, Any]]:
    return [dict(event.details) for event in read_events(path) if event.type == kind]


def test_predicts_lists_and_objects_with_the_champion(
    serve: Serve, registry: Registry, model_name: str
) -> None:
    registry.register(model_name, registry.first)
    client = serve()
    rows = generate(5, seed=11)[list(FEATURE_NAMES)].to_numpy()
    response = predict(client, rows.tolist())
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "1"
    expected = registry.first.model.predict_proba(rows)[:, 1]
    assert [p["score"] for p in body["predictions"]] == pytest.approx(expected.tolist())
    assert [p["label"] for p in body["predictions"]] == (expected >= 0.5).astype(int).tolist()
    assert len({p["request_id"] for p in body["predictions"]}) == 5

    by_name = [dict(zip(FEATURE_NAMES, row, strict=True)) for row in rows.tolist()]
    same = client.post("/predict", json=by_name, headers={"X-API-Key": "alice-secret-key"}).json()
    assert [p["score"] for p in same["predictions"]] == pytest.approx(expected.tolist())
    assert client.get("/model").json()["version"] == "1"


def test_pyfunc_models_are_served_through_their_probabilities(
    serve: Serve, registry: Registry, model_name: str
) -> None:
    registry.register(model_name, registry.mlp, flavor="pyfunc")
    client = serve()
    rows = generate(4, seed=5)[list(FEATURE_NAMES)].to_numpy()
    body = predict(client, rows.tolist()).json()
    assert [p["score"] for p in body["predictions"]] == pytest.approx(
        registry.mlp.model.predict_proba(rows)[:, 1].tolist()
    )
    assert client.get("/model").json()["flavor"] == "pyfunc"


def test_a_version_without_a_flavor_tag_is_loaded_by_its_mlmodel(
    serve: Serve, registry: Registry, model_name: str
) -> None:
    registry.register(model_name, registry.first, flavor=None)
    client = serve()
    assert predict(client, [ROW]).status_code == 200
    assert client.get("/model").json()["flavor"] == "sklearn"


def test_keys_are_required_and_checked(serve: Serve, registry: Registry, model_name: str) -> None:
    registry.register(model_name, registry.first)
    client = serve()
    body = json.dumps({"instances": [ROW]})
    assert (
        client.post("/predict", content=body, headers={"Content-Type": "application/json"}).status_code == 401
    )
    wrong = {"X-API-Key": "alice-secret-kez", "Content-Type": "application/json"}
    response = client.post("/predict", content=body, headers=wrong)
    assert response.status_code == 401 and "X-API-Key" in response.json()["detail"]
    assert client.post("/feedback", json={"labels": []}, headers=wrong).status_code == 401
    assert predict(client, [ROW], key="bob").status_code == 200


def test_rate_limit_counts_rows_and_says_when_to_retry(
    serve: Serve, registry: Registry, model_name: str
) -> None:
    registry.register(model_name, registry.first)
    client = serve(rate_per_s=1.0, burst=8.0, max_rows=8)
    assert predict(client, [ROW] * 8).status_code == 200  # the whole bucket at once
    limited = predict(client, [ROW] * 3)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 2
    assert predict(client, [ROW], key="bob").status_code == 200  # buckets are per key
    assert 'serving_rate_limited_total{key_id="alice"} 1.0' in client.get("/metrics").text


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([[*ROW[:-1], 101.0]], "instances[0].failed_logins_7d = 101 is outside its valid range [0, 100]"),
        ([ROW, [-1.0, *ROW[1:]]], "instances[1].amount = -1 is outside its valid range [0, 50000]"),
        ([ROW[:7]], "instances[0] has 7 values; expected 8"),
        ([{**dict(zip(FEATURE_NAMES, ROW, strict=True)), "colour": 1}], "unknown colour"),
        ([{name: 1.0 for name in FEATURE_NAMES[1:]}], "missing amount"),
        ([[*ROW[:4], "14", *ROW[5:]]], "instances[0].hour must be a number, got a string"),
        ([[*ROW[:4], True, *ROW[5:]]], "instances[0].hour must be a number, got a boolean"),
        ([], "empty"),
        ([ROW] * 9, "9 rows in one request; at most 8"),
    ],
)
def test_bad_rows_answer_422_naming_row_and_feature(
    serve: Serve, registry: Registry, model_name: str, rows: Any, fragment: str
) -> None:
    registry.register(model_name, registry.first)
    client = serve(max_rows=8, burst=1000.0)
    response = predict(client, rows)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_no_client_mistake_is_a_server_error(serve: Serve, registry: Registry, model_name: str) -> None:
    registry.register(model_name, registry.first)
    client = serve(max_rows=16)
    rng = np.random.default_rng(0)
    junk: list[Any] = [
        None, True, 1, "x", [], {}, [[]], [None], [[None] * 8], [[[1.0] * 8]], [{"amount": [1]}],
        {"instances": None}, {"instances": {}}, {"instances": [ROW], "extra": 1}, {"rows": [ROW]},
        [[1e308] * 8], [[-1e308] * 8], [[10**30] * 8], [[1.0] * 80], [ROW] * 17, [[{}] * 8],
        [[float(v) for v in rng.normal(size=8) * 1e6]], [["nan"] * 8], [[[]] * 8], [dict.fromkeys(FEATURE_NAMES)],
    ]  # fmt: skip
    raw: list[bytes] = [
        b"", b"{", b"[1,2", b"NaN", b"[[NaN,1,1,1,1,1,1,1]]", b'{"instances": [[Infinity,1,1,1,1,1,1,1]]}',
        b'{"instances": [[1e999,1,1,1,1,1,1,1]]}', b"\xff\xfe\x00", b'"\\ud800"', b"[" * 10_000 + b"]" * 10_000,
        b"x" * 400_000, json.dumps({"instances": [ROW] * 5000}).encode(),
    ]  # fmt: skip
    bodies = [json.dumps(item).encode() for item in junk] + raw
    statuses = []
    for body in bodies:
        for content_type in ("application/json", "text/plain"):
            response = client.post(
                "/predict",
                content=body,
                headers={"X-API-Key": "alice-secret-key", "Content-Type": content_type},
            )
            statuses.append(response.status_code)
            assert 400 <= response.status_code < 500, (body[:80], content_type, response.text[:200])
    assert (
        client.post("/predict", content=b"[]", headers={"X-API-Key": "alice-secret-key"}).status_code == 415
    )
    feedback_junk = [
        b"",
        b"{}",
        b'{"labels": 1}',
        b'{"labels": [{"request_id": 1, "label": 2}]}',
        b"[" * 5000,
    ]
    for body in feedback_junk:
        response = client.post("/feedback", content=body, headers=headers())
        assert 400 <= response.status_code < 500, (body[:80], response.text[:200])
    assert {413, 415, 422} <= set(statuses)
    assert predict(client, [ROW]).status_code == 200


def test_alias_moves_are_followed_and_broken_versions_never_served(
    serve: Serve, registry: Registry, model_name: str, make_settings: Callable[..., ServingSettings]
) -> None:
    registry.register(model_name, registry.first)
    client = serve()
    events = make_settings().events_path
    assert events is not None
    first = predict(client, [ROW]).json()

    registry.register(model_name, registry.second)
    wait_for(lambda: client.get("/model").json()["version"] == "2", what="version 2 served")
    second = predict(client, [ROW]).json()
    assert second["model_version"] == "2"
    assert second["predictions"][0]["score"] == pytest.approx(
        registry.second.model.predict_proba([ROW])[0, 1]
    )
    assert first["predictions"][0]["score"] != second["predictions"][0]["score"]
    reloaded = events_of(events, EventType.MODEL_RELOADED)
    assert [(e["old_version"], e["new_version"]) for e in reloaded] == [(None, "1"), ("1", "2")]

    registry.register(model_name, registry.corrupt)  # version 3, files garbled
    wait_for(lambda: client.get("/model").json()["last_reload_error"] is not None, what="the reload error")
    status = client.get("/model").json()
    assert status["version"] == "2" and status["ready"] is True
    assert status["last_reload_error"]["version"] == "3"
    assert "failed to load or score" in status["last_reload_error"]["error"]
    assert client.get("/readyz").status_code == 200
    assert predict(client, [ROW]).json()["model_version"] == "2"
    failed = events_of(events, EventType.MODEL_LOAD_FAILED)
    assert failed and failed[0]["version"] == "3" and failed[0]["serving_version"] == "2"
    metrics = client.get("/metrics").text
    assert "model_load_failures_total 1.0" in metrics
    assert f'serving_model_info{{model_name="{model_name}",version="2"}} 1.0' in metrics
    assert 'version="1"' not in metrics

    registry.client().set_registered_model_alias(model_name, "champion", "1")  # rollback
    wait_for(lambda: client.get("/model").json()["version"] == "1", what="rollback to version 1")


class FlakyRegistry:
    """The real registry behind a switch: unreachable until `up` is set."""

    def __init__(self, registry: Registry) -> None:
        self.inner = registry.client()
        self.up = False
        self.calls = 0

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        self.calls += 1
        if not self.up:
            raise ConnectionError("registry at 127.0.0.1:9 refused the connection")
        return self.inner.get_model_version_by_alias(name, alias)


def test_unreachable_registry_keeps_retrying_not_ready_but_alive(
    registry: Registry, model_name: str, make_settings: Callable[..., ServingSettings]
) -> None:
    registry.register(model_name, registry.first)
    flaky = FlakyRegistry(registry)
    settings = make_settings(startup_retry_max_s=0.2)
    with TestClient(create_app(settings, registry_factory=lambda: flaky)) as client:
        wait_for(lambda: flaky.calls >= 3, what="three attempts")
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        assert predict(client, [ROW]).status_code == 503
        flaky.up = True
        wait_for(lambda: client.get("/readyz").status_code == 200, what="ready once the registry is back")
        assert predict(client, [ROW]).status_code == 200
    assert settings.events_path is not None
    down = events_of(settings.events_path, EventType.DEPENDENCY_UNAVAILABLE)
    assert len(down) == 1 and down[0]["dependency"] == "model_registry"


def test_predictions_and_feedback_are_captured_for_the_monitor(
    registry: Registry, model_name: str, make_settings: Callable[..., ServingSettings]
) -> None:
    registry.register(model_name, registry.first)
    settings = make_settings(capture_flush_s=60.0)
    client = ready_client(create_app(settings))
    try:
        rows = generate(3, seed=3)[list(FEATURE_NAMES)].to_numpy().tolist()
        answered = predict(client, rows, key="bob").json()["predictions"]
        ids = [p["request_id"] for p in answered]
        labels = [{"request_id": ids[0], "label": 1}, {"request_id": ids[2], "label": 0}]
        response = client.post("/feedback", json={"labels": labels}, headers=headers())
        assert response.status_code == 202 and response.json() == {"accepted": 2}
    finally:
        client.__exit__(None, None, None)  # shutdown writes what is buffered
    captured = list(read_capture(settings.capture_dir, PREDICTIONS))
    assert [c["request_id"] for c in captured] == ids
    assert captured[0]["features"] == pytest.approx(rows[0])
    assert captured[0]["model_version"] == "1" and captured[0]["api_key_id"] == "bob"
    assert [c["score"] for c in captured] == pytest.approx([p["score"] for p in answered])
    assert [c["prediction"] for c in captured] == [p["label"] for p in answered]
    assert [(c["request_id"], c["label"]) for c in read_capture(settings.capture_dir, LABELS)] == [
        (ids[0], 1),
        (ids[2], 0),
    ]


def _sweep() -> list[list[float]]:
    base = [(f.minimum + f.maximum) / 2 for f in FEATURES]
    rows = []
    for column, feature in enumerate(FEATURES):
        for value in np.linspace(feature.minimum, feature.maximum, 64):
            row = list(base)
            row[column] = float(value)
            rows.append(row)
    return rows


def test_a_grid_sweep_is_flagged_and_organic_traffic_is_not(
    serve: Serve, registry: Registry, model_name: str, make_settings: Callable[..., ServingSettings]
) -> None:
    registry.register(model_name, registry.first)
    client = serve(extraction_min_rows=300, max_rows=64)
    organic = np.vstack(
        [
            generate(1500, seed=21)[list(FEATURE_NAMES)],
            generate(1500, seed=22, drift=1.0)[list(FEATURE_NAMES)],
        ]
    )
    for start in range(0, len(organic), 64):
        assert predict(client, organic[start : start + 64].tolist(), key="bob").status_code == 200
    sweep = _sweep()
    for start in range(0, len(sweep), 32):
        assert predict(client, sweep[start : start + 32]).status_code == 200  # action "log": still answered
    metrics = client.get("/metrics").text
    assert 'extraction_suspected{key_id="alice"} 1.0' in metrics
    assert 'key_id="bob"' not in metrics.split("# HELP extraction_suspected")[1].split("# HELP")[0]
    events = make_settings().events_path
    assert events is not None
    wait_for(lambda: bool(events_of(events, EventType.EXTRACTION_SUSPECTED)), what="the event")
    (flag,) = events_of(events, EventType.EXTRACTION_SUSPECTED)
    assert flag["api_key_id"] == "alice" and flag["action"] == "log"
    assert flag["coverage"] >= 0.8 and flag["rows_in_window"] >= 300
    assert flag["bins_hit"]["amount"] == 20


def test_block_action_refuses_a_flagged_key(serve: Serve, registry: Registry, model_name: str) -> None:
    registry.register(model_name, registry.first)
    client = serve(extraction_min_rows=300, extraction_action="block", max_rows=64)
    sweep = _sweep()
    statuses = [predict(client, sweep[start : start + 64]).status_code for start in range(0, len(sweep), 64)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 403
    assert predict(client, [ROW]).status_code == 403
    assert predict(client, [ROW], key="bob").status_code == 200


def test_metrics_cover_latency_predictions_errors_and_version(
    serve: Serve, registry: Registry, model_name: str
) -> None:
    registry.register(model_name, registry.first)
    client = serve()
    predict(client, [ROW, ROW])
    predict(client, [[-5.0] * 8])
    client.post("/predict", content=b"[]", headers={"Content-Type": "application/json"})
    client.get("/healthz")
    text = client.get("/metrics").text
    assert 'serving_request_duration_seconds_count{route="/predict",status="200"} 1.0' in text
    assert 'serving_request_duration_seconds_count{route="/predict",status="422"} 1.0' in text
    assert 'serving_request_duration_seconds_count{route="/healthz",status="200"} 1.0' in text
    assert "serving_predictions_total 2.0" in text
    assert 'serving_errors_total{reason="out_of_range"} 1.0' in text
    assert 'serving_errors_total{reason="unauthorized"} 1.0' in text
    assert "serving_model_reloads_total 1.0" in text
    assert client.get("/nowhere").status_code == 404
    assert 'route="other",status="404"' in client.get("/metrics").text
