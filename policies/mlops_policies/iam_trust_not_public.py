"""iam-trust-not-public: no role can be assumed by every AWS principal."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.iam_analysis import constrains_principal, document, is_public_principal
from mlops_policies.resource_types import IAM_ROLE
from mlops_policies.support import Controls, get, resource_policy, statements


def public_trust_findings(trust_policy: Mapping[str, Any] | None) -> list[str]:
    """One finding per Allow statement trusting every principal without a condition that narrows who."""
    findings = []
    for index, statement in enumerate(statements(trust_policy)):
        if not is_public_principal(statement) or constrains_principal(statement.get("Condition")):
            continue
        whom = (
            "every principal outside NotPrincipal"
            if "NotPrincipal" in statement
            else "every AWS principal (`*`)"
        )
        findings.append(
            f"statement {index} lets {whom} assume this role; name the trusted principals, or add a "
            "condition on aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn or aws:SourceArn"
        )
    return findings


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != IAM_ROLE:
        return
    for finding in public_trust_findings(document(get(args.props, "assumeRolePolicy"))):
        report_violation(finding, None)


POLICY = resource_policy(
    name="iam-trust-not-public",
    description=(
        "Role trust policies never let every principal assume the role: no `Principal: *`, "
        '`{"AWS": "*"}` or NotPrincipal in an Allow unless a condition pins the organisation, account, '
        "principal ARN or source."
    ),
    severity=Severity.CRITICAL,
    remediation=(
        "Name the principals that assume the role (a service such as ec2.amazonaws.com, an account root "
        "ARN, a role ARN, or a federated OIDC provider with pinned claims). If `*` is unavoidable, add a "
        "StringEquals condition on aws:PrincipalOrgID or aws:PrincipalAccount. Conditions that do not "
        "narrow who (aws:SecureTransport, aws:SourceIp) do not count."
    ),
    controls=Controls(nist=("AC-3", "AC-6", "IA-2")),
    validate=_validate,
)
