"""Offline preview benchmark: the SDK as shipped against our runner, same synthetic program, same plan.

What is measured: the wall time and peak memory of one offline preview (`run_function` under the
SDK's mocks, preview mode) of a synthetic program of about N custom resources, for N = 100, 500,
1,000 by default. The program has the shape of ours: `BenchService` components (below), each holding
nine pulumi_aws resources with `parent=self` (VPC, two subnets, a security group, a bucket and its
public access block, an IAM role whose trust policy is built with `Output.json_dumps`, its inline
policy over the bucket's ARN, a log group), wired by references (`subnet.vpc_id = vpc.id`), plus two
account-level invokes per component, as naive programs call them: `output` style
(`get_caller_identity_output`, `get_availability_zones_output`, as our components do) or `blocking`
style (`get_caller_identity()`, `get_availability_zones()`).

Modes, each cell (size x invoke style x mode) in a fresh worker process so neither GC state nor
imports leak between cells:
- `naive`: the baseline, the SDK as shipped (`ProgramRun(fast=False)`).
- `gc+drain`: GC threshold raised during the run and outstanding outputs drained in one pass
  (`ProgramRun(fast=True, exact_padding=False)`): an ablation, to show what each part is worth.
- `hub`: what `hub preview` runs (`ProgramRun(fast=True)`): the above plus
  `scripts.hub.offline.speedups.patched_sync_await()`, which removes the quadratic padding that blocking
  calls leave on the event loop's ready queue.

A worker times only the run (after imports; the time from process spawn to ready, imports included,
is reported once, separately) and reads its peak RSS (`getrusage(RUSAGE_SELF).ru_maxrss`, which
includes the imports). The parent runs the modes alternately, `--repeat` times each, and reports
medians and the ratio naive/fast. Every worker also returns the sha256 of its plan (all recorded
resources as documents, sorted by URN, `json.dumps(..., sort_keys=True)`); the benchmark stops with
an error if any two runs of a cell, whatever their mode, disagree.

Run it (minutes at N = 1,000; keep the machine otherwise idle, the load average is printed):
    .venv/bin/python -m scripts.benchmarks.preview_bench --markdown
    .venv/bin/python -m scripts.benchmarks.preview_bench --sizes 100 --invokes blocking --repeat 1
"""

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_aws as aws

from scripts.hub.offline.engine import ProgramRun, RunResult, run_function

REPO_ROOT = Path(__file__).resolve().parents[2]
TYPE_TOKEN = "mlopshub:index:BenchService"
CUSTOM_RESOURCES_PER_SERVICE = 9
"""Custom resources one BenchService registers; N is rounded to a whole number of services."""
DEFAULT_SIZES = (100, 500, 1000)
DEFAULT_REPEAT = 3
REGION = "eu-west-1"


class InvokeStyle(StrEnum):
    """How the program calls account-level data sources."""

    OUTPUT = "output"
    """`aws.get_*_output(...)`: the result is an Output, nothing blocks."""
    BLOCKING = "blocking"
    """`aws.get_*(...)`: the program waits for the result (the SDK pumps the event loop)."""


class Mode(StrEnum):
    """How the offline runner runs the program."""

    NAIVE = "naive"
    """The SDK as shipped: the baseline."""
    FAST = "gc+drain"
    """GC threshold and one-pass drain only (`ProgramRun(fast=True, exact_padding=False)`)."""
    FAST_PATCHED = "hub"
    """What `hub preview` runs: the above plus exact padding (`ProgramRun(fast=True)`)."""


class BenchServiceArgs(TypedDict):
    """Arguments of BenchService."""

    index: int
    """Position of the service in the program; picks its VPC CIDR (10.<index % 256>.0.0/16)."""
    invokes: InvokeStyle
    """How the service looks up the account and the availability zones."""


def _nth(index: int) -> Callable[[list[str]], str]:
    return lambda values: values[index]


class BenchService(pulumi.ComponentResource):
    """A network, a bucket and a role for one service: the shape of a real component, for benchmarks."""

    vpc_id: pulumi.Output[str]
    """The VPC id."""
    bucket_arn: pulumi.Output[str]
    """The data bucket's ARN."""

    def __init__(self, name: str, args: BenchServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        account_id: pulumi.Input[str]
        zone_names: list[pulumi.Input[str]]
        if args["invokes"] is InvokeStyle.BLOCKING:
            account_id = aws.get_caller_identity(opts=invoke).account_id
            names = aws.get_availability_zones(state="available", opts=invoke).names
            zone_names = [names[0], names[1]]
        else:
            account_id = aws.get_caller_identity_output(opts=invoke).account_id
            zones = aws.get_availability_zones_output(state="available", opts=invoke)
            zone_names = [zones.names.apply(_nth(i)) for i in range(2)]
        cidr = f"10.{args['index'] % 256}.0.0/16"
        tags = {"service": name, "managed-by": "pulumi"}

        vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=cidr, enable_dns_hostnames=True, tags={**tags, "Name": name}, opts=child
        )
        for i, zone in enumerate(zone_names):
            aws.ec2.Subnet(
                f"{name}-subnet-{i}",
                vpc_id=vpc.id,
                cidr_block=f"10.{args['index'] % 256}.{i}.0/24",
                availability_zone=zone,
                tags=tags,
                opts=child,
            )
        aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=vpc.id,
            description=f"HTTPS inside the VPC of {name}",
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [cidr]}],
            tags=tags,
            opts=child,
        )
        bucket = aws.s3.Bucket(f"{name}-data", force_destroy=False, tags=tags, opts=child)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-data-public-access",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "ec2.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                        }
                    ],
                }
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-role-data",
            role=role.id,
            policy=bucket.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["s3:GetObject", "s3:PutObject"],
                                "Resource": f"{arn}/*",
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.cloudwatch.LogGroup(f"{name}-logs", retention_in_days=30, tags=tags, opts=child)

        self.vpc_id = vpc.id
        self.bucket_arn = bucket.arn
        self.register_outputs({"vpc_id": self.vpc_id, "bucket_arn": self.bucket_arn})


def service_count(size: int) -> int:
    """Services needed for about `size` custom resources."""
    return max(1, round(size / CUSTOM_RESOURCES_PER_SERVICE))


def synthetic_program(size: int, invokes: InvokeStyle) -> Callable[[], None]:
    """A program body of about `size` custom resources in BenchService components."""

    def program() -> None:
        services = [
            BenchService(f"svc{index:04d}", {"index": index, "invokes": invokes})
            for index in range(service_count(size))
        ]
        pulumi.export("vpc_ids", [service.vpc_id for service in services])
        pulumi.export("service_count", len(services))

    return program


def run_synthetic(size: int, invokes: InvokeStyle, mode: Mode) -> RunResult:
    """Preview the synthetic program offline in one mode."""
    run = ProgramRun(
        entry=REPO_ROOT,
        project="mlops-hub-bench",
        stack="bench",
        config={"aws:region": REGION},
        fast=mode is not Mode.NAIVE,
        exact_padding=mode is Mode.FAST_PATCHED,
    )
    return run_function(synthetic_program(size, invokes), run)


def plan_documents(result: RunResult) -> list[dict[str, Any]]:
    """Every recorded resource as a plan document, sorted by URN."""
    return sorted((r.to_document() for r in result.resources), key=lambda document: str(document["urn"]))


def plan_hash(documents: Sequence[Mapping[str, Any]]) -> str:
    """The canonical hash of a plan: equal hashes, equal plans."""
    return hashlib.sha256(json.dumps(documents, sort_keys=True).encode()).hexdigest()


def custom_resource_count(result: RunResult) -> int:
    """Custom resources recorded (components and the stack not counted)."""
    return sum(1 for r in result.resources if r.custom)


def _load_provider_modules() -> None:
    # pulumi_aws loads submodules on first attribute access; load them before the clock starts.
    for module in (aws.ec2, aws.iam, aws.s3, aws.cloudwatch):
        vars(module)


def _peak_rss_mib() -> float:
    # ru_maxrss is KiB on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class WorkerResult(TypedDict):
    """What one worker process reports (one JSON line on stdout)."""

    size: int
    invokes: str
    mode: str
    resources: int
    """Every registration recorded: custom resources, components and the stack."""
    custom_resources: int
    wall_s: float
    """The run only, imports excluded."""
    peak_mib: float
    ready_mib: float
    """Peak RSS after imports, before the run."""
    ready_at: float
    """time.time() once imports were done; the parent subtracts its spawn time."""
    plan_hash: str


def worker(size: int, invokes: InvokeStyle, mode: Mode) -> WorkerResult:
    """One measured run, in this (fresh) process."""
    _load_provider_modules()
    ready_at = time.time()
    ready_mib = _peak_rss_mib()
    start = time.perf_counter()
    result = run_synthetic(size, invokes, mode)
    wall_s = time.perf_counter() - start
    peak_mib = _peak_rss_mib()
    return WorkerResult(
        size=size,
        invokes=invokes.value,
        mode=mode.value,
        resources=len(result.resources),
        custom_resources=custom_resource_count(result),
        wall_s=wall_s,
        peak_mib=peak_mib,
        ready_mib=ready_mib,
        ready_at=ready_at,
        plan_hash=plan_hash(plan_documents(result)),
    )


class PlanMismatchError(RuntimeError):
    """Two runs of the same program gave different plans."""


class WorkerError(RuntimeError):
    """A worker process failed."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """One worker's result as the parent saw it."""

    result: WorkerResult
    import_s: float
    """Process spawn to ready: interpreter start-up and every import."""


@dataclass(frozen=True, slots=True)
class Cell:
    """All runs of one size and invoke style, every mode."""

    size: int
    invokes: InvokeStyle
    runs: Mapping[Mode, Sequence[Measurement]]

    def median_wall(self, mode: Mode) -> float:
        """Median run time of a mode, seconds."""
        return statistics.median(m.result["wall_s"] for m in self.runs[mode])

    def median_peak(self, mode: Mode) -> float:
        """Median peak RSS of a mode, MiB."""
        return statistics.median(m.result["peak_mib"] for m in self.runs[mode])

    def hashes(self) -> set[str]:
        """Distinct plan hashes over every run of the cell."""
        return {m.result["plan_hash"] for runs in self.runs.values() for m in runs}

    def custom_resources(self) -> int:
        """Custom resources the program recorded (every run reports the same count when plans agree)."""
        return next(iter(self.runs.values()))[0].result["custom_resources"]


def run_worker(size: int, invokes: InvokeStyle, mode: Mode) -> Measurement:
    """Run one cell's mode in a fresh interpreter and read its result.

    Raises:
        WorkerError: the worker exited non-zero or printed no result.
    """
    command = [
        sys.executable, "-m", "scripts.benchmarks.preview_bench", "--worker",
        "--sizes", str(size), "--invokes", invokes.value, "--mode", mode.value,
    ]  # fmt: skip
    spawned_at = time.time()
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise WorkerError(
            f"worker {' '.join(command[2:])} exited {completed.returncode}:\n{completed.stderr.strip()}"
        )
    result: WorkerResult = json.loads(lines[-1])
    return Measurement(result=result, import_s=result["ready_at"] - spawned_at)


def run_cell(
    size: int,
    invokes: InvokeStyle,
    modes: Sequence[Mode],
    repeat: int,
    progress: Callable[[str], None],
) -> Cell:
    """Run every mode `repeat` times, alternating modes, and check that all plans are equal.

    Raises:
        PlanMismatchError: two runs recorded different plans.
    """
    runs: dict[Mode, list[Measurement]] = {mode: [] for mode in modes}
    for round_number in range(1, repeat + 1):
        for mode in modes:
            measurement = run_worker(size, invokes, mode)
            runs[mode].append(measurement)
            result = measurement.result
            progress(
                f"N={size} {invokes.value} {mode.value} #{round_number}: {result['wall_s']:.2f} s, "
                f"{result['peak_mib']:.0f} MiB, {result['custom_resources']} custom resources, "
                f"plan {result['plan_hash'][:12]}"
            )
    cell = Cell(size=size, invokes=invokes, runs=runs)
    if len(cell.hashes()) != 1:
        detail = "; ".join(
            f"{mode.value}: {sorted({m.result['plan_hash'][:12] for m in runs[mode]})}" for mode in modes
        )
        raise PlanMismatchError(f"N={size} {invokes.value}: the plans differ between runs ({detail})")
    return cell


def table_rows(cells: Sequence[Cell], modes: Sequence[Mode]) -> list[list[str]]:
    """The result table: a header row, then one row per cell."""
    speed_modes = [mode for mode in modes if mode is not Mode.NAIVE]
    header = ["N", "resources", "invokes"]
    header += [f"{mode.value} s" for mode in modes]
    header += ["speedup" if mode is Mode.FAST else f"speedup ({mode.value})" for mode in speed_modes]
    header += [f"{mode.value} MiB" for mode in modes]
    header.append("plan equal")
    rows = [header]
    for cell in cells:
        row = [str(cell.size), str(cell.custom_resources()), cell.invokes.value]
        row += [f"{cell.median_wall(mode):.2f}" for mode in modes]
        if Mode.NAIVE in modes:
            naive = cell.median_wall(Mode.NAIVE)
            row += [f"{naive / cell.median_wall(mode):.2f}x" for mode in speed_modes]
        else:
            row += ["n/a" for _ in speed_modes]
        row += [f"{cell.median_peak(mode):.0f}" for mode in modes]
        row.append("yes" if len(cell.hashes()) == 1 else "NO")
        rows.append(row)
    return rows


def render(rows: Sequence[Sequence[str]], *, markdown: bool) -> str:
    """Rows as a markdown table or as aligned plain text."""
    if markdown:
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        lines.insert(1, "|" + "|".join("---" for _ in rows[0]) + "|")
        return "\n".join(lines)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(value.rjust(width) for value, width in zip(row, widths, strict=True)) for row in rows
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews the figures."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def machine_description() -> str:
    """CPU count, load, Python and SDK versions: what the figures depend on."""
    return (
        f"machine: {os.cpu_count()} CPUs, load average {load_average()}; Python {platform.python_version()} "
        f"({platform.python_implementation()}, {platform.machine()}); "
        f"pulumi {importlib.metadata.version('pulumi')}, pulumi-aws {importlib.metadata.version('pulumi-aws')}"
    )


def _csv(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        try:
            return [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return parse


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.benchmarks.preview_bench",
        description="Offline preview time and memory: the SDK as shipped (naive) against our runner.",
    )
    parser.add_argument(
        "--sizes", type=_csv(int), default=list(DEFAULT_SIZES), help="about N custom resources"
    )
    parser.add_argument(
        "--invokes", type=_csv(InvokeStyle), default=list(InvokeStyle), help="output,blocking"
    )
    parser.add_argument(
        "--modes", type=_csv(Mode), default=list(Mode), help="naive,gc+drain,hub (naive first)"
    )
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT, help="runs of each mode per cell")
    parser.add_argument("--markdown", action="store_true", help="print the table as markdown")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", type=Mode, default=Mode.FAST, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.repeat < 1 or not arguments.sizes or min(arguments.sizes) < 1:
        parser.error("--repeat and every size must be at least 1")
    return arguments


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with --worker, one measured run) and print the results."""
    arguments = _arguments(argv)
    if arguments.worker:
        print(json.dumps(worker(arguments.sizes[0], arguments.invokes[0], arguments.mode)))
        return 0
    modes: list[Mode] = sorted(set(arguments.modes), key=list(Mode).index)
    print(machine_description(), flush=True)
    cells: list[Cell] = []
    try:
        for size in arguments.sizes:
            for invokes in arguments.invokes:
                cells.append(run_cell(size, invokes, modes, arguments.repeat, _progress))
    except (PlanMismatchError, WorkerError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    measurements = [m for cell in cells for runs in cell.runs.values() for m in runs]
    print(
        f"imports (spawn to ready: interpreter, pulumi, pulumi_aws and 4 submodules): "
        f"{statistics.median(m.import_s for m in measurements):.2f} s median, "
        f"{statistics.median(m.result['ready_mib'] for m in measurements):.0f} MiB RSS"
    )
    print(f"load average after the run: {load_average()}")
    print(f"run time and peak RSS: median of {arguments.repeat}; every cell in a fresh process\n")
    print(render(table_rows(cells, modes), markdown=arguments.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
