"""iam-no-admin-statements: no identity policy allows every action."""

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.resource_types import IAM_POLICY_DOCUMENT_PROPERTIES
from mlops_policies.support import Controls, as_list, json_document, resource_policy, statements


def admin_statements(document: Mapping[str, Any] | None) -> list[int]:
    """Indexes of Allow statements whose actions include `*` or `*:*`."""
    return [
        index
        for index, statement in enumerate(statements(document))
        if statement.get("Effect") == "Allow" and {"*", "*:*"} & set(as_list(statement.get("Action")))
    ]


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    prop = IAM_POLICY_DOCUMENT_PROPERTIES.get(args.resource_type)
    if prop is None or prop not in args.props:
        return
    for index in admin_statements(json_document(args.props[prop])):
        report_violation(
            f"statement {index} allows every action (`*`); grant the actions this workload calls", None
        )


POLICY = resource_policy(
    name="iam-no-admin-statements",
    description="Identity policies never allow every action (`Action: *`).",
    severity=Severity.CRITICAL,
    remediation="List the specific actions the workload calls (see its AWS SDK calls) instead of `*`.",
    controls=Controls(cis=("AWS-1.16",), nist=("AC-6", "AC-6(1)")),
    validate=_validate,
)
