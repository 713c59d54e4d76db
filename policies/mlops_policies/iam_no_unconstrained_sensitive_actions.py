"""iam-no-unconstrained-sensitive-actions: sensitive actions are granted on named resources only."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.iam_analysis import identity_documents, summarize, unconstrained_sensitive_actions
from mlops_policies.support import Controls, resource_policy

_ADVICE = {
    "permissions management": "scope them to the resources whose permissions the workload manages",
    "data exfiltration": "scope them to the buckets, parameters and secrets the workload reads",
    "credentials exposure": "scope them to the roles and resources the workload needs credentials for",
}


def sensitive_findings(document: Mapping[str, Any] | None) -> list[str]:
    """One finding per risk category with actions allowed on every resource."""
    return [
        f"allows {category} actions on every resource: {summarize(actions)}; {_ADVICE[category]}"
        for category, actions in unconstrained_sensitive_actions(document).items()
        if actions
    ]


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for label, document in identity_documents(args.resource_type, args.props):
        for finding in sensitive_findings(document):
            report_violation(f"{label}{finding}", None)


POLICY = resource_policy(
    name="iam-no-unconstrained-sensitive-actions",
    description=(
        "Identity policies grant permissions-management, data-exfiltration (s3:GetObject, "
        "ssm:GetParameter*, secretsmanager:GetSecretValue) and credentials-exposure (sts:AssumeRole, "
        "iam:CreateAccessKey...) actions only with resource constraints (cloudsplaining's risk categories)."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Replace `Resource: *` with the ARNs of the buckets, parameters, secrets, roles and policies the "
        "workload needs, or add an `aws:ResourceTag/<key>` condition. Actions AWS cannot scope are not reported."
    ),
    controls=Controls(nist=("AC-6", "AC-3"), gdpr=("Art.32",)),
    validate=_validate,
)
