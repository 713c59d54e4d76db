"""The preview benchmark's program gives one plan in every mode; nothing here is timed."""

import sys
import types

import pytest

from scripts.benchmarks import preview_bench
from scripts.benchmarks.preview_bench import (
    CUSTOM_RESOURCES_PER_SERVICE,
    InvokeStyle,
    Measurement,
    Mode,
    PlanMismatchError,
    WorkerResult,
    custom_resource_count,
    plan_documents,
    plan_hash,
    run_synthetic,
    service_count,
)
from scripts.hub.offline import speedups

SIZE = 20


@pytest.mark.parametrize("invokes", list(InvokeStyle))
def test_every_mode_records_the_same_plan(invokes: InvokeStyle) -> None:
    results = {mode: run_synthetic(SIZE, invokes, mode) for mode in Mode}

    naive = plan_documents(results[Mode.NAIVE])
    for mode in (Mode.FAST, Mode.FAST_PATCHED):
        assert plan_documents(results[mode]) == naive, mode
        assert plan_hash(plan_documents(results[mode])) == plan_hash(naive), mode
    services = service_count(SIZE)
    assert custom_resource_count(results[Mode.NAIVE]) == services * CUSTOM_RESOURCES_PER_SERVICE == 18
    assert len(naive) == services * (CUSTOM_RESOURCES_PER_SERVICE + 1) + 1  # components and the stack
    roles = [d for d in naive if d["type"] == "aws:iam/role:Role"]
    # The account id reached the trust policy through the invoke, in both invoke styles.
    assert all("123456789012" in d["inputs"]["assumeRolePolicy"] for d in roles)


def _bindings(function: object) -> list[str]:
    return sorted(
        name
        for name, module in sys.modules.items()
        if isinstance(module, types.ModuleType) and vars(module).get("_sync_await") is function
    )


def test_patched_sync_await_replaces_every_binding_and_restores_them() -> None:
    run_synthetic(SIZE, InvokeStyle.BLOCKING, Mode.NAIVE)  # imports every module that binds _sync_await
    original = speedups._ORIGINAL
    bound = _bindings(original)
    assert {"pulumi.output", "pulumi.runtime.invoke", "pulumi.runtime.mocks", "pulumi_aws._utilities"} <= set(
        bound
    )

    with speedups.patched_sync_await() as active:
        assert active
        assert _bindings(speedups._sync_await_padding_needed) == bound
        assert _bindings(original) == []

    assert _bindings(original) == bound
    assert _bindings(speedups._sync_await_padding_needed) == []


def _measurement(mode: Mode, digest: str) -> Measurement:
    result = WorkerResult(
        size=SIZE,
        invokes="output",
        mode=mode.value,
        resources=21,
        custom_resources=18,
        wall_s=1.0,
        peak_mib=100.0,
        ready_mib=90.0,
        ready_at=0.0,
        plan_hash=digest,
    )
    return Measurement(result=result, import_s=0.5)


def test_a_cell_whose_plans_differ_stops_the_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_worker(size: int, invokes: InvokeStyle, mode: Mode) -> Measurement:
        return _measurement(mode, "a" * 64 if mode is Mode.NAIVE else "b" * 64)

    monkeypatch.setattr(preview_bench, "run_worker", fake_worker)

    with pytest.raises(PlanMismatchError, match="plans differ"):
        preview_bench.run_cell(SIZE, InvokeStyle.OUTPUT, [Mode.NAIVE, Mode.FAST], 2, lambda _: None)


def test_the_table_shows_medians_and_speedups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preview_bench, "run_worker", lambda size, invokes, mode: _measurement(mode, "c" * 64))
    cell = preview_bench.run_cell(SIZE, InvokeStyle.OUTPUT, [Mode.NAIVE, Mode.FAST], 1, lambda _: None)

    rows = preview_bench.table_rows([cell], [Mode.NAIVE, Mode.FAST])

    assert rows[0] == [
        "N", "resources", "invokes", "naive s", "gc+drain s", "speedup", "naive MiB", "gc+drain MiB", "plan equal",
    ]  # fmt: skip
    assert rows[1] == ["20", "18", "output", "1.00", "1.00", "1.00x", "100", "100", "yes"]
    assert (
        preview_bench.render(rows, markdown=True).splitlines()[1] == "|---|---|---|---|---|---|---|---|---|"
    )
