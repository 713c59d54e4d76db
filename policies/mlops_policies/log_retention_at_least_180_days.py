"""log-retention-at-least-180-days: CloudWatch logs are kept long enough for record keeping."""

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import LOG_GROUP
from mlops_policies.support import Controls, get, resource_policy

DEFAULT_MINIMUM_DAYS = 180


def retention_finding(retention: object, minimum_days: int) -> str | None:
    """A finding when a retention period is set and shorter than `minimum_days` (unset or 0: kept forever)."""
    if not isinstance(retention, int | float) or isinstance(retention, bool) or retention == 0:
        return None
    if retention >= minimum_days:
        return None
    return (
        f"keeps log events {int(retention)} days; set retentionInDays to at least {minimum_days} "
        "(or leave it unset to keep them)"
    )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    minimum = int(args.get_config().get("minimumDays", DEFAULT_MINIMUM_DAYS))
    finding = retention_finding(get(args.props, "retentionInDays"), minimum)
    if finding is not None:
        report_violation(finding, None)


POLICY = resource_policy(
    name="log-retention-at-least-180-days",
    description=(
        "CloudWatch log groups keep events at least `minimumDays` (default 180: the six months the EU AI "
        "Act asks of high-risk AI system logs); unset or 0 means never expire and passes."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        "Set retentionInDays to a CloudWatch-supported value of at least the minimum (180, 365, 400, 545, "
        "731...), or export older events to an S3 archive with its own lifecycle before lowering it."
    ),
    controls=Controls(nist=("AU-11",), eu_ai_act=("Art.12", "Art.19")),
    validate=_validate,
    config_schema=PolicyConfigSchema(
        properties={
            "minimumDays": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_MINIMUM_DAYS,
                "description": "Shortest retentionInDays allowed.",
            }
        }
    ),
)
