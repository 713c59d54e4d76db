"""log-groups-encrypted-with-cmk: CloudWatch log groups are encrypted with a customer-managed KMS key."""

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import LOG_GROUP
from mlops_policies.support import Controls, get, resource_policy


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    if not get(args.props, "kmsKeyId"):
        report_violation(
            "log events are encrypted with a CloudWatch-owned key (kmsKeyId unset); set kmsKeyId to a "
            "customer-managed KMS key ARN",
            None,
        )


POLICY = resource_policy(
    name="log-groups-encrypted-with-cmk",
    description="CloudWatch log groups set kmsKeyId: logs are encrypted with a customer-managed KMS key.",
    severity=Severity.MEDIUM,
    remediation=(
        "Create an aws.kms.Key whose key policy lets `logs.<region>.amazonaws.com` use it (conditioned on "
        "kms:EncryptionContext:aws:logs:arn) and pass its ARN as the log group's kmsKeyId."
    ),
    controls=Controls(nist=("SC-28", "SC-12", "AU-9"), gdpr=("Art.32",)),
    validate=_validate,
)
