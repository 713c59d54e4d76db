"""iam-oidc-trust-pinned: web-identity trust names the exact audience and subject it accepts."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.iam_analysis import (
    allows_web_identity,
    condition_values,
    document,
    oidc_issuers,
    shown_issuer,
    strings,
)
from mlops_policies.resource_types import IAM_ROLE
from mlops_policies.support import Controls, get, resource_policy, statements

_CLAIM_HINTS = {
    "aud": "the audience (sts.amazonaws.com)",
    "sub": "the exact subject (system:serviceaccount:<namespace>:<name>)",
}


def _claim_finding(index: int, issuer: str, claim: str, condition: Any) -> str | None:
    key = f"{issuer}:{claim}"
    where = f"statement {index} trusts OIDC provider {shown_issuer(issuer)}"
    pinned = condition_values(condition, "StringEquals", key)
    if pinned is not None:
        values = strings(pinned)
        if values and len(values) == len(pinned) and not any("*" in v or "?" in v for v in values):
            return None
        return f"{where} with a wildcard or non-string value for `:{claim}`; pin {_CLAIM_HINTS[claim]}"
    if condition_values(condition, "StringLike", key) is not None:
        return f"{where} with only StringLike on `:{claim}`; use StringEquals with {_CLAIM_HINTS[claim]}"
    return f"{where} without StringEquals on `:{claim}`; pin {_CLAIM_HINTS[claim]}"


def unpinned_findings(trust_policy: Mapping[str, Any] | None) -> list[str]:
    """Findings for web-identity statements that do not pin both `<issuer>:aud` and `<issuer>:sub`."""
    findings = []
    for index, statement in enumerate(statements(trust_policy)):
        if not allows_web_identity(statement):
            continue
        condition = statement.get("Condition")
        for issuer in oidc_issuers(statement):
            for claim in ("aud", "sub"):
                finding = _claim_finding(index, issuer, claim, condition)
                if finding is not None:
                    findings.append(finding)
    return findings


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != IAM_ROLE:
        return
    for finding in unpinned_findings(document(get(args.props, "assumeRolePolicy"))):
        report_violation(finding, None)


POLICY = resource_policy(
    name="iam-oidc-trust-pinned",
    description=(
        "Roles trusting an OIDC provider (IRSA, CI federation) with sts:AssumeRoleWithWebIdentity pin "
        "`<issuer>:aud` and `<issuer>:sub` with StringEquals and no wildcard."
    ),
    severity=Severity.HIGH,
    remediation=(
        'Add `"Condition": {"StringEquals": {"<issuer>:aud": "sts.amazonaws.com", "<issuer>:sub": '
        '"system:serviceaccount:<namespace>:<service-account>"}}`. Without `sub`, every service account of '
        "the cluster (or every repository of the CI provider) can assume the role; StringLike with `*` "
        "widens it the same way."
    ),
    controls=Controls(nist=("IA-2", "IA-8", "AC-3")),
    validate=_validate,
)
