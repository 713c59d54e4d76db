"""gcs-buckets-private: Cloud Storage buckets use uniform access and enforce public access prevention."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import is_true, report_all
from mlops_policies.platform_types import GCS_BUCKET
from mlops_policies.support import Controls, resource_policy


def public_bucket_settings(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for ACL-based access and for public access prevention not enforced."""
    if type_token != GCS_BUCKET:
        return
    if not is_true(props.get("uniformBucketLevelAccess")):
        yield "object ACLs are in use (a single ACL can publish an object): set uniformBucketLevelAccess: true"
    if props.get("publicAccessPrevention") != "enforced":
        yield "public access prevention is not enforced: set publicAccessPrevention: enforced"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(public_bucket_settings(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="gcs-buckets-private",
    description=(
        "Cloud Storage buckets use uniform bucket-level access and enforce public access prevention, so no "
        "ACL or allUsers grant can publish training data, models or logs."
    ),
    severity=Severity.HIGH,
    remediation="Set uniformBucketLevelAccess: true and publicAccessPrevention: enforced on the bucket.",
    controls=Controls(cis=("GCP-5.1", "GCP-5.2"), nist=("AC-3", "SC-7"), gdpr=("Art.32",)),
    validate=_validate,
)
