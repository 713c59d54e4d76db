"""gke-secrets-encrypted: Kubernetes Secrets in etcd are encrypted with a Cloud KMS key."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import report_all
from mlops_policies.platform_types import GKE_CLUSTER
from mlops_policies.support import Controls, get, resource_policy


def unencrypted_secrets(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message when application-layer Secrets encryption is off or names no key."""
    if type_token != GKE_CLUSTER:
        return
    if get(props, "databaseEncryption", "state") != "ENCRYPTED":
        yield (
            "Secrets are stored without application-layer encryption: set databaseEncryption.state "
            "ENCRYPTED with a Cloud KMS keyName"
        )
        return
    key = get(props, "databaseEncryption", "keyName")
    if not (isinstance(key, str) and key):
        yield "databaseEncryption names no Cloud KMS key: set databaseEncryption.keyName"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(unencrypted_secrets(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="gke-secrets-encrypted",
    description="GKE clusters encrypt Kubernetes Secrets with a customer-managed Cloud KMS key (databaseEncryption).",
    severity=Severity.HIGH,
    remediation=(
        "Create a Cloud KMS key in the cluster's region, grant the GKE service agent "
        "roles/cloudkms.cryptoKeyEncrypterDecrypter on it, and set databaseEncryption = "
        "{state: ENCRYPTED, keyName: <key id>}."
    ),
    controls=Controls(cis=("GKE-5.3.1",), nist=("SC-28", "SC-12"), gdpr=("Art.32",), eu_ai_act=("Art.15",)),
    validate=_validate,
)
