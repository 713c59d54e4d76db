"""The gate benchmark's measurements, once on dev: their shape and the checks that refuse a table.

Nothing here asserts a time. The measurement functions run once: the `hub gate --no-checkov` process,
and meanwhile every stage in this process (the in-process baseline in its own); checkov's parts are
skipped only where .venv-checkov is missing. The `hub gate` run with checkov is left to the benchmark
(it repeats the checkov worker's start-up); its consistency check is exercised on a doctored copy.
"""

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from scripts.benchmarks.gate_bench import (
    ROWS,
    FindingSet,
    GateRun,
    InconsistencyError,
    StackRuns,
    StageResult,
    check_consistency,
    checkov_available,
    finding_set,
    machine_description,
    measure_gate,
    measure_stages,
    percentile,
    render,
    shipped_stacks,
    table_rows,
)

STACK = "dev"
CHECKOV = checkov_available()


@pytest.fixture(scope="module")
def measured() -> StackRuns:
    """One round on dev: the gate without checkov as a process, every stage meanwhile (nothing is timed
    here, and the two share nothing but the CPUs)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        gate = pool.submit(measure_gate, STACK, checkov=False)
        stage = measure_stages(STACK, checkov=CHECKOV)
        return StackRuns(STACK, gates=[gate.result()], stages=[stage])


def test_every_measurement_of_dev_has_its_shape_and_they_agree(measured: StackRuns) -> None:
    gate, stage = measured.gates[0], measured.stages[0]
    assert gate["stack"] == STACK and gate["checkov"] is False
    assert gate["exit_code"] in (0, 1) and gate["wall_s"] > 0
    assert gate["checkov_findings"]["count"] == 0

    assert stage["stack"] == STACK
    assert stage["resources"] > stage["analysed"] > 0  # components, providers and the stack are not analysed
    for value in (stage["preview_s"], stage["pack_start_s"], stage["policies_stage_s"]):
        assert value > 0
    for rpc in (stage["wire"], stage["direct"]["rpc"]):
        assert rpc["calls"] == stage["analysed"]
        assert 0 < rpc["analyze_p50_s"] <= rpc["analyze_p99_s"] <= rpc["analyze_total_s"]
        assert rpc["analyze_stack_s"] > 0
    assert stage["policies_stage_s"] > stage["pack_start_s"] + stage["wire"]["analyze_total_s"]

    # The gate, the wire and the in-process servicer report the same policy findings; bare validate()
    # reports what the servicer's Analyze did.
    assert stage["policy"] == stage["direct"]["policy"] == gate["policy"]
    assert stage["policy"]["count"] > 0
    direct = stage["direct"]
    assert direct["validate_diagnostics"] == direct["resource_diagnostics"]
    assert direct["resource_policies"] > 0
    assert direct["validate_calls"] == direct["resource_policies"] * stage["analysed"]
    assert 0 < direct["validate_call_p50_s"] <= direct["validate_resource_p50_s"]

    if CHECKOV:
        scan = stage["checkov"]
        assert scan is not None
        assert scan["first"] == scan["warm"] == scan["cli"]
        assert scan["resources"] > scan["dockerfiles"] >= 0
        assert scan["cli_processes"] >= 1
        assert min(scan["first_s"], scan["warm_s"], scan["cli_s"]) > 0
    else:
        assert stage["checkov"] is None

    check_consistency(measured)


def test_the_table_has_a_column_per_stack_and_a_row_per_measure(measured: StackRuns) -> None:
    rows = table_rows([measured])
    assert rows[0] == ["measure (median)", STACK]
    assert len(rows) == 1 + len(ROWS)
    assert all(len(row) == 2 and row[1] for row in rows)
    values = dict((row[0], row[1]) for row in rows[1:])
    assert values["`hub gate` wall, s"] == "n/a"  # only the --no-checkov gate ran here
    assert values["wire / in-process (Analyze p50)"].endswith("x")
    assert (values["checkov CLI (`CHECKOV_BRIDGE_MODE=cli`), s"] == "n/a") is not CHECKOV
    markdown = render(rows, markdown=True).splitlines()
    assert len(markdown) == len(rows) + 1 and markdown[1] == "|---|---|"
    assert len(render(rows, markdown=False).splitlines()) == len(rows)


def _tamper_gate(runs: StackRuns) -> None:
    second: GateRun = copy.deepcopy(runs.gates[0])
    second["policy"] = finding_set([("some-policy", "urn:x", "advisory", "low", "another finding")])
    runs.gates.append(second)


def _tamper_direct(runs: StackRuns) -> None:
    runs.stages[0]["direct"]["policy"] = FindingSet(count=0, digest=finding_set([])["digest"])


def _tamper_validate(runs: StackRuns) -> None:
    runs.stages[0]["direct"]["validate_diagnostics"] = finding_set([("p", "urn:y")])


def _tamper_repeat(runs: StackRuns) -> None:
    second: StageResult = copy.deepcopy(runs.stages[0])
    second["resources"] += 1
    runs.stages.append(second)


def _tamper_checkov_inputs(runs: StackRuns) -> None:
    second: StageResult = copy.deepcopy(runs.stages[0])
    if second["checkov"] is None:
        pytest.skip("checkov's environment (.venv-checkov) is missing")
    second["checkov"]["dockerfiles"] += 1  # a Dockerfile appeared between two rounds
    runs.stages.append(second)


def _tamper_checkov_cli(runs: StackRuns) -> None:
    scan = runs.stages[0]["checkov"]
    if scan is None:
        pytest.skip("checkov's environment (.venv-checkov) is missing")
    scan["cli"] = finding_set([("CKV_X", "urn:z")] * (scan["cli"]["count"] + 1))


def _tamper_checkov_gate(runs: StackRuns) -> None:
    if runs.stages[0]["checkov"] is None:
        pytest.skip("checkov's environment (.venv-checkov) is missing")
    with_checkov: GateRun = copy.deepcopy(runs.gates[0])
    with_checkov["checkov"] = True
    with_checkov["checkov_findings"] = finding_set([("CKV_AWS_1", "urn:elsewhere")] * 7)
    runs.gates.append(with_checkov)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (_tamper_gate, "policy findings"),
        (_tamper_direct, "in-process servicer"),
        (_tamper_validate, "bare validate()"),
        (_tamper_repeat, "resource counts differ"),
        (_tamper_checkov_inputs, "checkov's inputs"),
        (_tamper_checkov_cli, "checkov findings"),
        (_tamper_checkov_gate, "checkov findings"),
    ],
    ids=["gate-repeat", "servicer", "validate", "resources", "checkov-inputs", "checkov-cli", "checkov-gate"],
)
def test_disagreeing_measurements_are_refused(
    measured: StackRuns, tamper: Callable[[StackRuns], None], message: str
) -> None:
    runs = copy.deepcopy(measured)
    tamper(runs)
    with pytest.raises(InconsistencyError, match=r"^dev: .*") as raised:
        check_consistency(runs)
    assert message in str(raised.value)


def test_percentile_is_nearest_rank_and_finding_sets_ignore_order() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 99) == 3.0
    assert percentile([7.0], 50) == 7.0
    assert finding_set([("a", "1"), ("b", "2")]) == finding_set([("b", "2"), ("a", "1")])
    assert finding_set([("a", "1")]) != finding_set([("a", "1"), ("a", "1")])


def test_the_shipped_stacks_and_the_machine_line() -> None:
    assert shipped_stacks()[:3] == ["dev", "staging", "prod"]
    line = machine_description()
    assert line.startswith("machine: ") and "load average" in line and "pulumi " in line
    assert ("checkov missing" in line) is not CHECKOV
