"""eks-audit-logging-enabled: the EKS control plane sends its audit, API and authenticator logs."""

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import EKS_CLUSTER
from mlops_policies.iam_analysis import strings
from mlops_policies.support import Controls, get, resource_policy

DEFAULT_REQUIRED_LOG_TYPES = ("api", "audit", "authenticator")


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    required = strings(args.get_config().get("requiredLogTypes", list(DEFAULT_REQUIRED_LOG_TYPES)))
    enabled = set(strings(get(args.props, "enabledClusterLogTypes")))
    missing = [log_type for log_type in required if log_type not in enabled]
    if missing:
        names = ", ".join(f"`{log_type}`" for log_type in missing)
        report_violation(f"control-plane logging misses {names}; add them to enabledClusterLogTypes", None)


POLICY = resource_policy(
    name="eks-audit-logging-enabled",
    description=(
        "EKS clusters enable the control-plane log types in `requiredLogTypes` (default api, audit, "
        "authenticator) so who did what to the cluster is recorded."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        'Set enabledClusterLogTypes to include "api", "audit" and "authenticator". EKS writes them to '
        "/aws/eks/<cluster>/cluster: create that log group first with a KMS key and retention "
        "(log-groups-encrypted-with-cmk, log-retention-at-least-180-days)."
    ),
    controls=Controls(cis=("EKS-2.1.1",), nist=("AU-2", "AU-12"), eu_ai_act=("Art.12",)),
    validate=_validate,
    config_schema=PolicyConfigSchema(
        properties={
            "requiredLogTypes": {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
                },
                "default": list(DEFAULT_REQUIRED_LOG_TYPES),
                "description": "Control-plane log types every cluster must enable.",
            }
        }
    ),
)
