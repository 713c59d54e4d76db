"""The serving benchmark in a tiny mode: both servers start, agree, and every cell is measured.

Nothing here asserts a speed: one-second cells on a shared machine say nothing. The Python load
generator is used (wrk may be missing); the report's table is checked for shape.
"""

from scripts.benchmarks.serving_bench import parse_args, render, run


def test_tiny_benchmark_measures_both_servers_and_renders_a_table() -> None:
    args = parse_args(
        ["--duration", "1", "--rows", "1,4", "--concurrency", "2", "--trees", "3", "--generator", "python"]
    )
    report = run(args)
    cells = {(cell["server"], cell["rows"]) for cell in report["cells"]}
    assert cells == {("mlflow", 1), ("mlflow", 4), ("serving", 1), ("serving", 4)}
    for cell in report["cells"]:
        assert cell["requests"] > 0 and cell["errors"] == 0, cell
        assert 0 < cell["p50_ms"] <= cell["p99_ms"]
    assert report["calibration"]["requests"] > 0
    assert "3 trees of depth 3" in report["model"]
    table = render(report)
    assert table.count("\n| ") == 3  # header and two data rows
    assert "| 4 | 2 |" in table
