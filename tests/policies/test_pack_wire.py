"""The pack as the engine runs it: a real process, real gRPC, the Analyzer RPCs in the engine's order."""

import json
from pathlib import Path
from typing import Any

import pytest

from scripts.hub.gate.gate import load_policy_config
from scripts.hub.gate.pack_client import PackError, analyze_with_pack
from scripts.hub.offline.engine import ProgramRun, run_program
from scripts.hub.offline.plan import build_plan
from scripts.hub.offline.project import load_project, load_stack_config

REPO_ROOT = Path(__file__).resolve().parents[2]
PACK = REPO_ROOT / "policies"


def _plan(stack: str) -> dict[str, Any]:
    project = load_project(REPO_ROOT)
    config = load_stack_config(project, stack)
    result = run_program(
        ProgramRun(entry=project.entry, project=project.name, stack=stack, config=config.values)
    )
    return build_plan(project.name, stack, config.shown, result)


def _admin_role_policy() -> dict[str, Any]:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    return {
        "urn": "urn:pulumi:dev::mlops-hub::aws:iam/rolePolicy:RolePolicy::admin",
        "type": "aws:iam/rolePolicy:RolePolicy",
        "name": "admin",
        "parent": None,
        "custom": True,
        "dependencies": [],
        "propertyDependencies": {},
        "provider": None,
        "inputs": {"role": "workload", "policy": json.dumps(document)},
        "options": {},
    }


def test_a_violation_is_reported_with_policy_level_severity_and_urn() -> None:
    plan = _plan("dev")
    plan["resources"].append(_admin_role_policy())
    # dev's own pack config: it names the registries the stack's images may come from.
    result = analyze_with_pack(
        PACK, plan, config={}, policy_config=load_policy_config(PACK / "config" / "dev.json")
    )
    assert result.pack == "mlops-hub"
    assert "iam-no-admin-statements" in result.policies
    mandatory = [d for d in result.diagnostics if d.enforcement == "mandatory"]
    admin_urn = "urn:pulumi:dev::mlops-hub::aws:iam/rolePolicy:RolePolicy::admin"
    # Only the injected document breaks the rules; the stack itself is compliant.
    assert {d.urn for d in mandatory} == {admin_urn}
    # The injected resource also uses the default provider, which pins no region: residency fails it too.
    assert {d.policy for d in mandatory} == {
        "resources-in-allowed-regions",
        "iam-no-admin-statements",
        "iam-no-privilege-escalation",
        "iam-no-unconstrained-sensitive-actions",
    }
    admin = next(d for d in mandatory if d.policy == "iam-no-admin-statements")
    assert admin.severity == "critical"
    assert admin.message.endswith(
        "statement 0 allows every action (`*`); grant the actions this workload calls"
    )


def test_values_unknown_in_preview_become_advisory_notes_not_passes() -> None:
    result = analyze_with_pack(PACK, _plan("dev"), config={})
    advisory = [d for d in result.diagnostics if d.enforcement == "advisory"]
    assert advisory
    assert all("can't run policy" in d.message and "during preview" in d.message for d in advisory)


def test_a_pack_that_cannot_start_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "__main__.py").write_text("raise RuntimeError('broken pack')\n")
    with pytest.raises(PackError, match=r"did not start: .*"):
        analyze_with_pack(tmp_path, _plan("dev"), config={})
