"""Every AWS policy carries the metadata the pack requires, and its module is named after it."""

import importlib
import re

import pytest
from pulumi_policy import EnforcementLevel, Policy, ResourceValidationPolicy, StackValidationPolicy

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
STACK_POLICIES = {"s3-public-access-blocked", "s3-encrypted-with-cmk", "s3-tls-only", "vpc-flow-logs-enabled"}
ADVISORY = {"iam-resources-scoped"}
TAG = re.compile(
    r"^(cis:(AWS|EKS)-[\d.]+|nist-800-53:[A-Z]{2}-\d+(\(\d+\))?|eu-ai-act:Art\.\d+|gdpr:Art\.\d+)$"
)


def _policy(module: str) -> Policy:
    policy: Policy = importlib.import_module(f"mlops_policies.{module}").POLICY
    return policy


@pytest.mark.parametrize("module", AWS_POLICY_MODULES)
def test_metadata(module: str) -> None:
    policy = _policy(module)
    assert policy.name == module.replace("_", "-")
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", policy.name)
    assert policy.description and policy.remediation_steps and policy.severity is not None
    assert policy.tags and all(TAG.match(tag) for tag in policy.tags), policy.tags
    expected = EnforcementLevel.ADVISORY if policy.name in ADVISORY else EnforcementLevel.MANDATORY
    assert policy.enforcement_level == expected
    kind = StackValidationPolicy if policy.name in STACK_POLICIES else ResourceValidationPolicy
    assert isinstance(policy, kind)


@pytest.mark.parametrize("module", AWS_POLICY_MODULES)
def test_config_schemas_declare_defaults(module: str) -> None:
    schema = _policy(module).config_schema
    if schema is not None:
        assert all("default" in prop and "description" in prop for prop in schema.properties.values())


def test_names_are_unique() -> None:
    names = [_policy(module).name for module in AWS_POLICY_MODULES]
    assert len(set(names)) == len(names) == 21
