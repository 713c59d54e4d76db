"""iam-no-users-for-workloads: workloads get short-lived role credentials, never IAM users or access keys."""

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import IAM_ACCESS_KEY, IAM_USER
from mlops_policies.support import Controls, resource_policy

_FINDINGS = {
    IAM_USER: "an IAM user is a long-lived identity; give the workload a role instead",
    IAM_ACCESS_KEY: "an IAM access key is a long-lived credential that leaks with the workload's config; "
    "use role credentials instead",
}


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    finding = _FINDINGS.get(args.resource_type)
    if finding is not None:
        report_violation(finding, None)


POLICY = resource_policy(
    name="iam-no-users-for-workloads",
    description="The platform creates no IAM users and no IAM access keys: workloads assume roles.",
    severity=Severity.HIGH,
    remediation=(
        "Use IAM roles: IRSA or EKS Pod Identity for pods, instance profiles for nodes, OIDC federation "
        "(iam-oidc-trust-pinned) for CI. People sign in through IAM Identity Center, outside this stack."
    ),
    controls=Controls(nist=("IA-2", "IA-5", "AC-2")),
    validate=_validate,
)
