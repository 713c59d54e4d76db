"""eks-secrets-encrypted: Kubernetes secrets are envelope-encrypted with a customer-managed KMS key."""

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import EKS_CLUSTER
from mlops_policies.support import Controls, as_list, get, resource_policy


def secrets_findings(encryption_config: Any) -> list[str]:
    """Findings for one cluster's encryptionConfig."""
    configs = as_list(encryption_config)
    covering = [config for config in configs if "secrets" in as_list(get(config, "resources"))]
    if not covering:
        return [
            "secrets are encrypted only with an AWS-owned key (no encryptionConfig covers `secrets`); add "
            'encryptionConfig with resources ["secrets"] and provider.keyArn set to a customer KMS key'
        ]
    if not any(get(config, "provider", "keyArn") for config in covering):
        return ["encryptionConfig for secrets has no provider.keyArn; set it to a customer KMS key ARN"]
    return []


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != EKS_CLUSTER:
        return
    for finding in secrets_findings(get(args.props, "encryptionConfig")):
        report_violation(finding, None)


POLICY = resource_policy(
    name="eks-secrets-encrypted",
    description=(
        "EKS clusters envelope-encrypt Kubernetes secrets with a customer-managed KMS key "
        '(encryptionConfig: resources ["secrets"], provider.keyArn).'
    ),
    severity=Severity.MEDIUM,
    remediation=(
        "Create an aws.kms.Key (rotation on) and set the cluster's encryptionConfig to "
        '`{"resources": ["secrets"], "provider": {"keyArn": key.arn}}`. It can be added to a running '
        "cluster but never removed."
    ),
    controls=Controls(cis=("EKS-5.3.1",), nist=("SC-28", "SC-12"), gdpr=("Art.32",)),
    validate=_validate,
)
