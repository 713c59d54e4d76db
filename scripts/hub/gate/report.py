"""The gate's report in four formats: text (terminals), json, markdown (PR comments), sarif (code scanning)."""

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from scripts.hub.gate.findings import Finding, summary, verdict

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


class ReportFormat(StrEnum):
    """Formats `hub gate --format` accepts."""

    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    SARIF = "sarif"


def _ordered(findings: Sequence[Finding]) -> list[Finding]:
    rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    return sorted(findings, key=lambda f: (not f.blocking, rank.get(f.severity, 4), f.source, f.id, f.urn))


def render(findings: Sequence[Finding], report_format: ReportFormat, *, stack: str, artifact: str) -> str:
    """The report as text in `report_format`; `artifact` is the file code scanning attaches results to."""
    match report_format:
        case ReportFormat.TEXT:
            return render_text(findings, stack)
        case ReportFormat.JSON:
            return json.dumps(as_document(findings), indent=2)
        case ReportFormat.MARKDOWN:
            return render_markdown(findings, stack)
        case ReportFormat.SARIF:
            return json.dumps(render_sarif(findings, artifact), indent=2)


def as_document(findings: Sequence[Finding]) -> dict[str, Any]:
    """`{"verdict", "findings", "summary"}`."""
    return {
        "verdict": verdict(findings),
        "findings": [f.to_document() for f in _ordered(findings)],
        "summary": summary(findings),
    }


def render_text(findings: Sequence[Finding], stack: str) -> str:
    """One block per finding, blocking ones first, then the verdict."""
    lines = []
    for finding in _ordered(findings):
        status = "WAIVED" if finding.waived_by else finding.enforcement.upper()
        lines.append(f"[{status}] {finding.source}:{finding.id} ({finding.severity}) {finding.resource_type}")
        lines.append(f"    {finding.urn or '(stack)'}")
        lines.append(f"    {finding.message}")
        if finding.waived_by:
            lines.append(f"    waived: {finding.waived_by}")
        elif finding.remediation:
            lines.append(f"    fix: {finding.remediation}")
    counts = summary(findings)
    lines.append(
        f"gate {verdict(findings).upper()} for stack {stack}: {counts['blocking']} blocking, "
        f"{counts['total'] - counts['blocking'] - counts['waived']} advisory, {counts['waived']} waived"
    )
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(findings: Sequence[Finding], stack: str) -> str:
    """A PR comment: the verdict, then a table of findings."""
    counts = summary(findings)
    icon = "❌" if verdict(findings) == "fail" else "✅"
    lines = [
        f"### {icon} mlops-hub gate: `{stack}` {verdict(findings)}",
        "",
        f"{counts['blocking']} blocking · {counts['total'] - counts['blocking'] - counts['waived']} advisory · "
        f"{counts['waived']} waived",
    ]
    if findings:
        lines += [
            "",
            "| | source | id | severity | resource | message | fix |",
            "|---|---|---|---|---|---|---|",
        ]
        for finding in _ordered(findings):
            mark = "waived" if finding.waived_by else ("**blocking**" if finding.blocking else "advisory")
            lines.append(
                f"| {mark} | {finding.source} | `{finding.id}` | {finding.severity} | "
                f"`{_cell(finding.urn.rsplit('::', 1)[-1] or '(stack)')}` | {_cell(finding.message)} | "
                f"{_cell(finding.waived_by or finding.remediation)} |"
            )
    return "\n".join(lines)


def render_sarif(findings: Sequence[Finding], artifact: str) -> dict[str, Any]:
    """SARIF 2.1.0: one rule per policy/check, results located at the stack file and the resource URN."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for finding in _ordered(findings):
        rule_id = f"{finding.source}/{finding.id}"
        rules.setdefault(
            rule_id,
            {
                "id": rule_id,
                "name": finding.id,
                "shortDescription": {"text": finding.id},
                "help": {"text": finding.remediation or finding.message},
                "properties": {"severity": finding.severity, "source": finding.source},
            },
        )
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "level": "error" if finding.enforcement == "mandatory" else "warning",
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {"artifactLocation": {"uri": artifact}},
                    "logicalLocations": [
                        {
                            "fullyQualifiedName": finding.urn or "stack",
                            "kind": "resource",
                            "name": finding.resource_type,
                        }
                    ],
                }
            ],
        }
        if finding.waived_by:
            result["suppressions"] = [{"kind": "external", "justification": finding.waived_by}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "mlops-hub gate", "rules": list(rules.values())}},
                "results": results,
            }
        ],
    }
