"""`hub gate`: verdicts and exit codes, findings attributed to resources, waivers, report formats, bad input."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from scripts.hub.cli import app
from scripts.hub.gate.findings import Finding, Waiver, WaiverError, apply_waivers, load_waivers, verdict

REPO_ROOT = Path(__file__).resolve().parents[2]
INSECURE = REPO_ROOT / "tests" / "fixtures" / "insecure_program"
ADMIN_URN = "urn:pulumi:ci::insecure-shop::aws:iam/rolePolicy:RolePolicy::workload-admin"


def gate(*args: str) -> Result:
    return CliRunner().invoke(app, ["gate", *args])


def gate_json(*args: str) -> tuple[Result, dict[str, Any]]:
    result = gate(*args, "--format", "json", "--no-checkov")
    return result, json.loads(result.stdout)


def one_line_error(result: Result, fragment: str) -> None:
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and fragment in lines[0]


def test_a_program_that_breaks_the_rules_fails_with_each_violation_attributed() -> None:
    result, report = gate_json("ci", "--program", str(INSECURE))
    assert result.exit_code == 1
    assert report["verdict"] == "fail"
    blocking = [f for f in report["findings"] if f["enforcement"] == "mandatory" and not f["waived"]]
    role_urn = "urn:pulumi:ci::insecure-shop::aws:iam/role:Role::workload"
    assert sorted((f["id"], f["urn"]) for f in blocking) == sorted(
        [
            ("iam-no-admin-statements", ADMIN_URN),
            ("iam-no-privilege-escalation", ADMIN_URN),
            ("iam-no-privilege-escalation", ADMIN_URN),
            ("iam-no-unconstrained-sensitive-actions", ADMIN_URN),
            ("iam-no-unconstrained-sensitive-actions", ADMIN_URN),
            ("iam-no-unconstrained-sensitive-actions", ADMIN_URN),
            ("cost-attribution-tags-present", role_urn),
        ]
    )
    admin = next(f for f in blocking if f["id"] == "iam-no-admin-statements")
    assert (admin["source"], admin["type"], admin["severity"]) == (
        "policy",
        "aws:iam/rolePolicy:RolePolicy",
        "critical",
    )
    assert all(f["remediation"] for f in blocking)
    assert report["summary"]["blocking"] == 7


def test_the_dev_stack_passes_the_policy_pack() -> None:
    result, report = gate_json("dev")
    assert result.exit_code == 0, result.stderr
    assert report["verdict"] == "pass"


def _user_program(tmp_path: Path) -> Path:
    """A program whose only violation is an IAM user (tagged, so cost attribution holds)."""
    program = tmp_path / "program"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: users\nruntime: python\n")
    (program / "Pulumi.ci.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (program / "__main__.py").write_text(
        "import pulumi_aws as aws\n"
        "aws.iam.User('robot', tags={'environment': 'ci', 'team': 't', 'cost-center': 'c'})\n"
    )
    return program


def test_a_waiver_excuses_exactly_what_it_names(tmp_path: Path) -> None:
    program = _user_program(tmp_path)
    _, unwaived = gate_json("ci", "--program", str(program))
    assert [(f["id"], f["waived"]) for f in unwaived["findings"]] == [("iam-no-users-for-workloads", None)]
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n"
        "  - id: iam-no-users-for-workloads\n"
        "    resource: 'urn:pulumi:ci::users::*::robot'\n"
        "    reason: legacy robot account until the audit on 2099-01-01\n"
        "    expires: 2099-01-01\n"
    )
    result, report = gate_json("ci", "--program", str(program), "--waivers", str(waivers))
    assert result.exit_code == 0
    assert report["verdict"] == "pass"
    assert report["findings"][0]["waived"] == "legacy robot account until the audit on 2099-01-01"
    assert report["summary"]["waived"] == 1


def test_an_expired_waiver_fails_the_gate(tmp_path: Path) -> None:
    program = _user_program(tmp_path)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - {id: iam-no-users-for-workloads, resource: '*', reason: temporary, expires: 2020-01-01}\n"
    )
    result, report = gate_json("ci", "--program", str(program), "--waivers", str(waivers))
    assert result.exit_code == 1
    ids = {
        (f["source"], f["id"])
        for f in report["findings"]
        if f["enforcement"] == "mandatory" and not f["waived"]
    }
    assert ids == {("policy", "iam-no-users-for-workloads"), ("waiver", "waiver-expired")}


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("waivers: [\n", "malformed YAML in waiver file"),
        ("waivers: {a: 1}\n", "must hold `waivers:` followed by a list"),
        ("waivers:\n  - {id: x, resource: '*', expires: 2030-01-01}\n", "is missing reason"),
        ("waivers:\n  - {id: x, resource: '*', reason: r, expires: soon}\n", "expires 'soon' is not a date"),
    ],
)
def test_a_bad_waiver_file_is_a_one_line_error(tmp_path: Path, content: str, fragment: str) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(content)
    one_line_error(gate("dev", "--no-checkov", "--waivers", str(waivers)), fragment)


def test_an_unreadable_waiver_file_is_a_one_line_error(tmp_path: Path) -> None:
    one_line_error(
        gate("dev", "--no-checkov", "--waivers", str(tmp_path / "absent.yaml")), "cannot read waiver file"
    )


def test_an_unknown_format_is_a_one_line_error() -> None:
    one_line_error(
        gate("dev", "--format", "xml"), "unknown --format 'xml'; allowed: text, json, markdown, sarif"
    )


def test_a_program_that_raises_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: broken\nruntime: python\n")
    (tmp_path / "Pulumi.x.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text("raise ValueError('no region configured')\n")
    one_line_error(
        gate("x", "--program", str(tmp_path), "--no-checkov"),
        "program failed: ValueError: no region configured (__main__.py:1 in <module>)",
    )


def test_sarif_names_rules_levels_and_resources(tmp_path: Path) -> None:
    out = tmp_path / "gate.sarif"
    result = gate("ci", "--program", str(INSECURE), "--no-checkov", "--format", "sarif", "--out", str(out))
    assert result.exit_code == 1
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert "policy/iam-no-admin-statements" in rules
    assert len(rules) == len(set(rules))
    finding = next(r for r in run["results"] if r["ruleId"] == "policy/iam-no-admin-statements")
    assert finding["level"] == "error"
    assert {r["level"] for r in run["results"] if r["ruleId"] == "policy/iam-resources-scoped"} == {"warning"}
    location = finding["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "Pulumi.ci.yaml"
    assert location["logicalLocations"][0]["fullyQualifiedName"] == ADMIN_URN
    assert "gate FAIL for stack ci" in result.stdout


def test_markdown_is_a_pr_comment_with_a_table() -> None:
    result = gate("ci", "--program", str(INSECURE), "--no-checkov", "--format", "markdown")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "### ❌ mlops-hub gate: `ci` fail"
    assert (
        "| **blocking** | policy | `iam-no-admin-statements` | critical | `workload-admin` |" in result.stdout
    )


def _finding(enforcement: str = "mandatory", urn: str = "urn:a") -> Finding:
    return Finding("policy", "p", urn, "t", "high", enforcement, "m", "r")


def test_verdict_and_waiver_rules() -> None:
    today = dt.date(2026, 11, 28)
    assert verdict([_finding("advisory")]) == "pass"
    assert verdict([_finding()]) == "fail"
    waived = apply_waivers([_finding()], [Waiver("p", "urn:*", "reason", today)], today)
    assert verdict(waived) == "pass"
    assert waived[0].waived_by == "reason"
    other = apply_waivers([_finding(urn="urn:b")], [Waiver("p", "urn:a", "reason", today)], today)
    assert verdict(other) == "fail"


def test_the_shipped_waiver_file_is_valid_and_current() -> None:
    path = REPO_ROOT / "policies" / "waivers.yaml"
    if not path.exists():
        pytest.skip("no waivers shipped yet")
    try:
        waivers = load_waivers(path)
    except WaiverError as err:
        pytest.fail(str(err))
    assert all(w.expires >= dt.date.today() for w in waivers)
    assert all(len(w.reason) > 20 for w in waivers), "every waiver says why"


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_shipped_stacks_pass_the_whole_gate(stack: str) -> None:
    if not (REPO_ROOT / ".venv-checkov" / "bin" / "python").exists():
        pytest.skip("checkov's environment is missing; `make setup` creates it")
    result = gate(stack, "--format", "json")
    assert result.exit_code == 0, result.stdout[-2000:]
    report = json.loads(result.stdout)
    assert report["verdict"] == "pass"
    assert report["summary"]["blocking"] == 0
    # checkov really ran: on the GKE/AKS stacks its deliberately waived checks show up, waived.
    waived_checkov = {f["id"] for f in report["findings"] if f["source"] == "checkov" and f["waived"]}
    aws = {"CKV_AWS_50", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_144", "CKV_AWS_272", "CKV2_AWS_62"}
    gcp = {"CKV_GCP_12", "CKV_GCP_62", "CKV_GCP_65"}
    azure = {
        "CKV_AZURE_6",
        "CKV_AZURE_8",
        "CKV_AZURE_101",
        "CKV_AZURE_166",
        "CKV_AZURE_172",
        "CKV_AZURE_206",
        "CKV_AZURE_226",
        "CKV_AZURE_227",
    }
    # MLflow's database URL as a variable (CKV_K8S_35); on every cloud the shared claim lets the monitor
    # retrain on drift, and it mounts the API token that takes (CKV_K8S_38).
    kubernetes = {"CKV_K8S_35", "CKV_K8S_38"}
    expected = {
        "dev": aws | kubernetes,
        "staging": aws | gcp | kubernetes,
        "prod": aws | gcp | azure | kubernetes,
    }[stack]
    assert waived_checkov == expected
    # The drift waiver covers exactly the monitoring CronJob of each cloud's MlWorkloads.
    drift = sorted(f["urn"].rsplit("::", 1)[-1] for f in report["findings"] if f["id"] == "CKV_K8S_38")
    clouds = {"dev": ["aws"], "staging": ["aws", "gcp"], "prod": ["aws", "azure", "gcp"]}[stack]
    assert drift == [f"{stack}-{cloud}-ml-monitoring" for cloud in clouds]
