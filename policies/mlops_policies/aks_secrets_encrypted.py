"""aks-secrets-encrypted: AKS encrypts Kubernetes Secrets in etcd with a Key Vault key (KMS)."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import is_true, report_all, unversioned
from mlops_policies.platform_types import AKS_CLUSTER
from mlops_policies.support import Controls, get, resource_policy


def unencrypted_secrets(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message when Key Vault KMS is off or names no key."""
    if unversioned(type_token) != AKS_CLUSTER:
        return
    kms = get(props, "securityProfile", "azureKeyVaultKms")
    if not is_true(get(kms, "enabled")):
        yield (
            "Secrets are encrypted with platform-managed keys only: set "
            "securityProfile.azureKeyVaultKms.enabled: true with a keyId"
        )
        return
    key = get(kms, "keyId")
    if not (isinstance(key, str) and key):
        yield "securityProfile.azureKeyVaultKms names no key: set keyId to the Key Vault key's versioned URI"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(unencrypted_secrets(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="aks-secrets-encrypted",
    description="AKS clusters encrypt Kubernetes Secrets with a customer-managed Key Vault key (KMS etcd encryption).",
    severity=Severity.HIGH,
    remediation=(
        "Create a Key Vault key (RSA, with rotation) and set securityProfile.azureKeyVaultKms = {enabled: true, "
        "keyId: <versioned key URI>, keyVaultNetworkAccess: Private, keyVaultResourceId: <vault id>}; grant the "
        "cluster identity Key Vault Crypto User on the vault."
    ),
    controls=Controls(cis=("AKS-5.3.1",), nist=("SC-28", "SC-12"), gdpr=("Art.32",), eu_ai_act=("Art.15",)),
    validate=_validate,
)
