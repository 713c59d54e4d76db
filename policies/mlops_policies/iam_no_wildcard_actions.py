"""iam-no-wildcard-actions: identity policies name each action they allow, never a pattern of them."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.iam_analysis import identity_documents, summarize, wildcard_actions
from mlops_policies.support import Controls, resource_policy, statements


def wildcard_findings(document: Mapping[str, Any] | None) -> list[str]:
    """One finding per Allow statement that allows actions by pattern (`s3:*`, `s3:Get*`) or `NotAction`."""
    findings = []
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            findings.append(
                f"statement {index} allows every action outside NotAction; list the allowed actions in Action"
            )
            continue
        showable, others = wildcard_actions(statement)
        if not showable and not others:
            continue
        shown = [summarize(showable)] if showable else []
        if others:
            shown.append(f"{others} malformed wildcard action{'s' if others > 1 else ''}")
        findings.append(
            f"statement {index} allows actions by wildcard ({' and '.join(shown)}); "
            "list the exact actions the workload calls"
        )
    return findings


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    for label, document in identity_documents(args.resource_type, args.props):
        for finding in wildcard_findings(document):
            report_violation(f"{label}{finding}", None)


POLICY = resource_policy(
    name="iam-no-wildcard-actions",
    description=(
        "Identity policies (role, user and group policies, managed policies, role inline policies) allow "
        "named actions only: no wildcard inside an action name (`s3:*`, `s3:Get*`) and no Allow with NotAction."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Replace each wildcard with the actions the workload calls (its AWS SDK calls, or IAM Access "
        "Analyzer's policy generation from CloudTrail). A wildcard silently grows as AWS adds actions to the "
        "service. `Action: *` is reported by iam-no-admin-statements."
    ),
    controls=Controls(nist=("AC-6", "AC-3")),
    validate=_validate,
)
