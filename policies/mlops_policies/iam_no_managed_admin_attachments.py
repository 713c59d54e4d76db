"""iam-no-managed-admin-attachments: no AdministratorAccess, PowerUserAccess or *FullAccess attachments."""

import re
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import MANAGED_POLICY_ARN_PROPERTIES
from mlops_policies.support import Controls, as_list, get, resource_policy

_AWS_MANAGED_POLICY = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]+)$")


def broad_managed_policy(arn: Any) -> str | None:
    """The name of an AWS-managed admin, power-user or full-access policy; None for any other ARN."""
    match = _AWS_MANAGED_POLICY.match(arn) if isinstance(arn, str) else None
    if match is None:
        return None
    name = match.group("name")
    if name.startswith("AdministratorAccess") or name == "PowerUserAccess" or "FullAccess" in name:
        return name
    return None


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    prop = MANAGED_POLICY_ARN_PROPERTIES.get(args.resource_type)
    if prop is None:
        return
    for arn in as_list(get(args.props, prop)):
        name = broad_managed_policy(arn)
        if name is not None:
            report_violation(
                f"attaches the AWS-managed `{name}`; attach a customer-managed policy listing the actions "
                "this workload calls",
                None,
            )


POLICY = resource_policy(
    name="iam-no-managed-admin-attachments",
    description=(
        "No role, user or group gets the AWS-managed AdministratorAccess*, PowerUserAccess or *FullAccess "
        "policies (policy attachments, exclusive attachments and a role's managedPolicyArns)."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Write a customer-managed or inline policy with the actions and resources the workload uses, or "
        "attach a narrow AWS-managed policy (e.g. AmazonEKSWorkerNodePolicy, AmazonS3ReadOnlyAccess "
        "scoped further by a permissions boundary)."
    ),
    controls=Controls(cis=("AWS-1.16",), nist=("AC-6", "AC-6(1)")),
    validate=_validate,
)
