"""kms-key-rotation-enabled: symmetric customer keys rotate their key material automatically."""

from pulumi_policy import PolicyConfigSchema, ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import KMS_KEY
from mlops_policies.support import Controls, get, resource_policy

DEFAULT_MAXIMUM_ROTATION_DAYS = 365


def rotation_findings(props: object, maximum_days: int) -> list[str]:
    """Findings for one aws:kms/key:Key (none for keys AWS cannot rotate automatically)."""
    spec = get(props, "customerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    usage = get(props, "keyUsage") or "ENCRYPT_DECRYPT"
    if spec != "SYMMETRIC_DEFAULT" or usage != "ENCRYPT_DECRYPT" or get(props, "customKeyStoreId"):
        return []  # asymmetric, HMAC and custom-key-store keys do not support automatic rotation
    if get(props, "enableKeyRotation") is not True:
        return ["automatic key rotation is off (the default); set enableKeyRotation to true"]
    period = get(props, "rotationPeriodInDays")
    if isinstance(period, int | float) and period > maximum_days:
        return [
            f"rotates key material every {int(period)} days; set rotationPeriodInDays to at most {maximum_days}"
        ]
    return []


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != KMS_KEY:
        return
    maximum = int(args.get_config().get("maximumRotationDays", DEFAULT_MAXIMUM_ROTATION_DAYS))
    for finding in rotation_findings(args.props, maximum):
        report_violation(finding, None)


POLICY = resource_policy(
    name="kms-key-rotation-enabled",
    description=(
        "Symmetric encryption KMS keys have automatic rotation on (enableKeyRotation), at most every "
        "`maximumRotationDays` days."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        "Set `enableKeyRotation: true` (and `rotationPeriodInDays` between 90 and the configured maximum "
        "if you set it). Rotation keeps old material for decryption, so nothing needs re-encrypting."
    ),
    controls=Controls(cis=("AWS-3.6",), nist=("SC-12", "SC-28"), gdpr=("Art.32",)),
    validate=_validate,
    config_schema=PolicyConfigSchema(
        properties={
            "maximumRotationDays": {
                "type": "integer",
                "minimum": 90,
                "maximum": 2560,
                "default": DEFAULT_MAXIMUM_ROTATION_DAYS,
                "description": "Longest rotationPeriodInDays allowed (AWS default 365).",
            }
        }
    ),
)
