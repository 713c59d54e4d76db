"""aks-secrets-encrypted: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aks_secrets_encrypted import POLICY
from mlops_policies.platform_types import AKS_CLUSTER

KEY = "https://kv-aks.vault.azure.net/keys/etcd-encryption/0123456789abcdef"
BASELINE: dict[str, Any] = {
    "securityProfile": {
        "azureKeyVaultKms": {"enabled": True, "keyId": KEY, "keyVaultNetworkAccess": "Private"}
    }
}
OFF = (
    "Secrets are encrypted with platform-managed keys only: set "
    "securityProfile.azureKeyVaultKms.enabled: true with a keyId"
)
NO_KEY = "securityProfile.azureKeyVaultKms names no key: set keyId to the Key Vault key's versioned URI"


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, AKS_CLUSTER, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("securityProfile", ..., [OFF]),
        ("securityProfile.azureKeyVaultKms.enabled", False, [OFF]),
        ("securityProfile.azureKeyVaultKms.keyId", ..., [NO_KEY]),
    ],
    ids=["unset", "disabled", "no-key"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, AKS_CLUSTER, with_value(BASELINE, path, value)) == expected


def test_a_key_unknown_in_preview_is_left_to_the_sdk(
    check_policy: Any, with_value: Any, unknown: str
) -> None:
    with pytest.raises(UnknownValueError):
        check_policy(
            POLICY, AKS_CLUSTER, with_value(BASELINE, "securityProfile.azureKeyVaultKms.keyId", unknown)
        )
