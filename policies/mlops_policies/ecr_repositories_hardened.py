"""ecr-repositories-hardened: ECR repositories keep tags immutable, scan on push and use a customer key."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.aws_types import ECR_REPOSITORY
from mlops_policies.support import Controls, as_list, get, resource_policy

_MUTABILITY = frozenset({"MUTABLE", "IMMUTABLE", "MUTABLE_WITH_EXCLUSION", "IMMUTABLE_WITH_EXCLUSION"})
_KMS_TYPES = frozenset({"KMS", "KMS_DSSE"})


def repository_findings(props: Mapping[str, Any]) -> Iterator[str]:
    """Findings for one repository (provider defaults: MUTABLE, no scan on push, AES256).

    Yielded one by one: a finding reported before a later read meets an unknown value still stands.
    """
    mutability = get(props, "imageTagMutability") or "MUTABLE"
    if mutability != "IMMUTABLE":
        shown = f"`{mutability}`" if mutability in _MUTABILITY else "not IMMUTABLE"
        yield (
            f"image tags can be overwritten (imageTagMutability {shown}); set it to IMMUTABLE so a tag always "
            "names one image"
        )
    if get(props, "imageScanningConfiguration", "scanOnPush") is not True:
        yield "images are not scanned on push; set imageScanningConfiguration.scanOnPush to true"
    encryption = as_list(get(props, "encryptionConfigurations"))
    kind = (get(encryption[0], "encryptionType") if encryption else None) or "AES256"
    if kind not in _KMS_TYPES:
        yield (
            "images are encrypted with S3-managed keys (encryptionType AES256, the default); set "
            'encryptionConfigurations to [{"encryptionType": "KMS", "kmsKey": <customer key ARN>}]'
        )
    elif not get(encryption[0], "kmsKey"):
        yield "images are encrypted with the AWS-managed aws/ecr key; set kmsKey to a customer key ARN"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != ECR_REPOSITORY:
        return
    for finding in repository_findings(args.props):
        report_violation(finding, None)


POLICY = resource_policy(
    name="ecr-repositories-hardened",
    description=(
        "ECR repositories use immutable tags, scan images on push, and encrypt with a customer-managed KMS key."
    ),
    severity=Severity.MEDIUM,
    remediation=(
        'Set imageTagMutability "IMMUTABLE", imageScanningConfiguration {scanOnPush: true} and '
        'encryptionConfigurations [{encryptionType: "KMS", kmsKey: key.arn}]. Encryption settings only '
        "apply at creation: changing them replaces the repository, so move images first."
    ),
    controls=Controls(cis=("EKS-5.1.1",), nist=("RA-5", "SI-7", "SC-28", "CM-6"), gdpr=("Art.32",)),
    validate=_validate,
)
