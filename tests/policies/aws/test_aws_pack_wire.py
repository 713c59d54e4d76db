"""The AWS policies as the engine runs them: a real pack process, real gRPC, a plan from a real program."""

import json
from pathlib import Path

import pulumi_aws as aws
import pytest

from scripts.hub.gate.pack_client import PackResult, analyze_with_pack
from scripts.hub.offline.engine import ProgramRun, run_function
from scripts.hub.offline.plan import build_plan

POLICIES_DIR = Path(__file__).resolve().parents[3] / "policies"
AWS_POLICY_MODULES = [
    "iam_no_wildcard_actions",
    "iam_resources_scoped",
    "iam_no_privilege_escalation",
    "iam_no_unconstrained_sensitive_actions",
    "iam_trust_not_public",
    "iam_oidc_trust_pinned",
    "iam_no_users_for_workloads",
    "iam_no_managed_admin_attachments",
    "s3_public_access_blocked",
    "s3_encrypted_with_cmk",
    "s3_tls_only",
    "kms_key_rotation_enabled",
    "log_groups_encrypted_with_cmk",
    "log_retention_at_least_180_days",
    "eks_endpoint_private",
    "eks_secrets_encrypted",
    "eks_audit_logging_enabled",
    "ec2_imdsv2_required",
    "ecr_repositories_hardened",
    "security_groups_no_public_ingress",
    "vpc_flow_logs_enabled",
]


def _program() -> None:
    key = aws.kms.Key("key", enable_key_rotation=True)
    data = aws.s3.Bucket("data")
    aws.s3.BucketPublicAccessBlock(
        "data-pab",
        bucket=data.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=False,
    )
    aws.s3.Bucket("open")
    aws.iam.RolePolicy(
        "reader",
        role="reader",
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )
    aws.cloudwatch.LogGroup("logs", kms_key_id=key.arn, retention_in_days=365)
    aws.cloudwatch.LogGroup(
        "short", kms_key_id="arn:aws:kms:eu-west-1:123456789012:key/k", retention_in_days=180
    )
    aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> PackResult:
    pack = tmp_path_factory.mktemp("aws-pack")
    imports = ", ".join(AWS_POLICY_MODULES)
    (pack / "__main__.py").write_text(
        f"import sys\nsys.path.insert(0, {str(POLICIES_DIR)!r})\n"
        "from pulumi_policy import EnforcementLevel, PolicyPack\n"
        f"from mlops_policies import {imports}\n"
        "PolicyPack(name='aws-under-test', enforcement_level=EnforcementLevel.MANDATORY, "
        f"policies=[m.POLICY for m in ({imports},)])\n"
    )
    run = run_function(
        _program,
        ProgramRun(entry=pack, project="mlops-hub", stack="wire", config={"aws:region": "eu-west-1"}),
    )
    plan = build_plan("mlops-hub", "wire", {}, run)
    return analyze_with_pack(
        pack, plan, config={}, policy_config={"log-retention-at-least-180-days": {"minimumDays": 365}}
    )


def _urn(resource_type: str, name: str) -> str:
    return f"urn:pulumi:wire::mlops-hub::{resource_type}::{name}"


def test_every_policy_is_served_with_its_metadata(result: PackResult) -> None:
    assert len(result.policies) == 21
    retention = result.policies["log-retention-at-least-180-days"]
    assert (retention.enforcement, retention.severity) == ("mandatory", "medium")
    assert "eu-ai-act:Art.12" in retention.tags
    assert retention.config_schema["minimumDays"]["default"] == 180
    assert result.policies["iam-resources-scoped"].enforcement == "advisory"


def test_findings_carry_policy_level_severity_and_urn(result: PackResult) -> None:
    found: set[tuple[str, str, str, str]] = {
        (d.policy, d.enforcement, d.severity, d.urn)
        for d in result.diagnostics
        if "during preview" not in d.message
    }
    assert found == {
        (
            "s3-public-access-blocked",
            "mandatory",
            "high",
            _urn("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "data-pab"),
        ),
        ("s3-public-access-blocked", "mandatory", "high", _urn("aws:s3/bucket:Bucket", "open")),
        ("s3-encrypted-with-cmk", "mandatory", "medium", _urn("aws:s3/bucket:Bucket", "data")),
        ("s3-encrypted-with-cmk", "mandatory", "medium", _urn("aws:s3/bucket:Bucket", "open")),
        ("s3-tls-only", "mandatory", "medium", _urn("aws:s3/bucket:Bucket", "data")),
        ("s3-tls-only", "mandatory", "medium", _urn("aws:s3/bucket:Bucket", "open")),
        ("iam-resources-scoped", "advisory", "medium", _urn("aws:iam/rolePolicy:RolePolicy", "reader")),
        (
            "iam-no-unconstrained-sensitive-actions",
            "mandatory",
            "high",
            _urn("aws:iam/rolePolicy:RolePolicy", "reader"),
        ),
        # minimumDays 365 arrived through Configure (as a float) and applies.
        (
            "log-retention-at-least-180-days",
            "mandatory",
            "medium",
            _urn("aws:cloudwatch/logGroup:LogGroup", "short"),
        ),
        ("vpc-flow-logs-enabled", "mandatory", "medium", _urn("aws:ec2/vpc:Vpc", "vpc")),
    }


def test_messages_follow_the_description(result: PackResult) -> None:
    by_policy = {d.policy: d.message for d in result.diagnostics if d.urn.endswith("::short")}
    assert by_policy["log-retention-at-least-180-days"].endswith(
        "\nkeeps log events 180 days; set retentionInDays to at least 365 (or leave it unset to keep them)"
    )


def test_values_unknown_in_preview_are_advisory_notes(result: PackResult) -> None:
    notes = {
        (d.policy, d.urn.rsplit("::", 1)[-1]) for d in result.diagnostics if "during preview" in d.message
    }
    assert notes == {("log-groups-encrypted-with-cmk", "logs")}
    assert all(d.enforcement == "advisory" for d in result.diagnostics if "during preview" in d.message)
