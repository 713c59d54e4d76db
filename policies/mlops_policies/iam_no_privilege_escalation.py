"""iam-no-privilege-escalation: no identity policy lets its holder grant itself more privileges."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.iam_analysis import (
    identity_documents,
    passes_any_role,
    privilege_escalations,
    summarize,
)
from mlops_policies.support import Controls, resource_policy


def escalation_findings(document: Mapping[str, Any] | None) -> list[str]:
    """`iam:PassRole` on every role, then cloudsplaining's escalation methods, as at most two findings."""
    findings = []
    if passes_any_role(document):
        findings.append(
            "allows iam:PassRole on every role (`*`): its holder can hand any role, admin ones included, "
            "to a service it controls; name the roles it may pass"
        )
    methods = [f"{method} ({' + '.join(actions)})" for method, actions in privilege_escalations(document)]
    if methods:
        shown = summarize(methods, limit=3, quote=False)
        findings.append(
            f"allows privilege escalation on unscoped resources by {shown}; "
            "scope these actions to named ARNs or remove them"
        )
    return findings


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for label, document in identity_documents(args.resource_type, args.props):
        for finding in escalation_findings(document):
            report_violation(f"{label}{finding}", None)


POLICY = resource_policy(
    name="iam-no-privilege-escalation",
    description=(
        "Identity policies allow no privilege-escalation path (cloudsplaining's catalogue: creating keys or "
        "login profiles for others, editing or attaching policies, iam:PassRole on `*` with a compute "
        "service, updating code that runs under another role...)."
    ),
    severity=Severity.CRITICAL,
    remediation=(
        "Scope iam:PassRole to the exact role ARNs the workload passes (add an iam:PassedToService "
        "condition as well), and scope or drop IAM write actions (iam:Put*/Attach*/Create*Policy*, "
        "iam:CreateAccessKey, iam:UpdateAssumeRolePolicy) and the service actions named in the finding."
    ),
    controls=Controls(nist=("AC-6", "AC-6(10)", "AC-3")),
    validate=_validate,
)
