"""Builds the mlops-hub policy pack from an explicit list. Nothing else belongs here: importing this module
starts the pack's gRPC server and never returns, so policies live in importable modules under mlops_policies/."""

from pulumi_policy import EnforcementLevel, PolicyPack

from mlops_policies import (
    ec2_imdsv2_required,
    ecr_repositories_hardened,
    eks_audit_logging_enabled,
    eks_endpoint_private,
    eks_secrets_encrypted,
    iam_no_admin_statements,
    iam_no_managed_admin_attachments,
    iam_no_privilege_escalation,
    iam_no_unconstrained_sensitive_actions,
    iam_no_users_for_workloads,
    iam_no_wildcard_actions,
    iam_oidc_trust_pinned,
    iam_resources_scoped,
    iam_trust_not_public,
    kms_key_rotation_enabled,
    log_groups_encrypted_with_cmk,
    log_retention_at_least_180_days,
    s3_encrypted_with_cmk,
    s3_public_access_blocked,
    s3_tls_only,
    security_groups_no_public_ingress,
    vpc_flow_logs_enabled,
)

PolicyPack(
    name="mlops-hub",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        # Least privilege (AWS IAM)
        iam_no_admin_statements.POLICY,
        iam_no_wildcard_actions.POLICY,
        iam_resources_scoped.POLICY,
        iam_no_privilege_escalation.POLICY,
        iam_no_unconstrained_sensitive_actions.POLICY,
        iam_trust_not_public.POLICY,
        iam_oidc_trust_pinned.POLICY,
        iam_no_users_for_workloads.POLICY,
        iam_no_managed_admin_attachments.POLICY,
        # Encryption with customer-managed keys
        s3_encrypted_with_cmk.POLICY,
        kms_key_rotation_enabled.POLICY,
        log_groups_encrypted_with_cmk.POLICY,
        eks_secrets_encrypted.POLICY,
        ecr_repositories_hardened.POLICY,
        s3_tls_only.POLICY,
        # No public exposure
        s3_public_access_blocked.POLICY,
        eks_endpoint_private.POLICY,
        ec2_imdsv2_required.POLICY,
        security_groups_no_public_ingress.POLICY,
        # Audit and record keeping
        eks_audit_logging_enabled.POLICY,
        log_retention_at_least_180_days.POLICY,
        vpc_flow_logs_enabled.POLICY,
    ],
)
