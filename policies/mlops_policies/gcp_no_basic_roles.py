"""gcp-no-basic-roles: no GCP IAM grant uses the basic roles Owner, Editor or Viewer."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.gke_support import iam_grants
from mlops_policies.platform_support import report_all
from mlops_policies.support import Controls, resource_policy

BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
"""GCP's basic roles: thousands of permissions across every service of the resource they are granted on."""


def basic_role_grants(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each grant of a basic role by a GCP IAM member, binding or policy resource."""
    for grant in iam_grants(type_token, props):
        if grant.role in BASIC_ROLES:
            where = f"{grant.where} " if grant.where else ""
            yield (
                f"{where}grants the basic role `{grant.role}`; "
                "grant a predefined or custom role with only the permissions the principal uses"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(basic_role_grants(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="gcp-no-basic-roles",
    description="GCP IAM grants never use the basic roles roles/owner, roles/editor or roles/viewer.",
    severity=Severity.HIGH,
    remediation=(
        "Replace the basic role with the predefined roles the principal needs (for example "
        "roles/storage.objectViewer, roles/artifactregistry.reader), or a custom role; see "
        "https://cloud.google.com/iam/docs/roles-overview#basic."
    ),
    controls=Controls(cis=("GCP-1.5", "GKE-5.2.1"), nist=("AC-6", "AC-6(1)"), gdpr=("Art.32",)),
    validate=_validate,
)
