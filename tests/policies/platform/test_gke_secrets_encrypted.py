"""gke-secrets-encrypted: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.gke_secrets_encrypted import POLICY
from mlops_policies.platform_types import GKE_CLUSTER

KEY = "projects/p/locations/europe-west4/keyRings/r/cryptoKeys/secrets"
BASELINE: dict[str, Any] = {"databaseEncryption": {"state": "ENCRYPTED", "keyName": KEY}}
OFF = (
    "Secrets are stored without application-layer encryption: set databaseEncryption.state "
    "ENCRYPTED with a Cloud KMS keyName"
)


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, GKE_CLUSTER, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("databaseEncryption", ..., [OFF]),
        ("databaseEncryption.state", "DECRYPTED", [OFF]),
        (
            "databaseEncryption.keyName",
            ...,
            ["databaseEncryption names no Cloud KMS key: set databaseEncryption.keyName"],
        ),
        (
            "databaseEncryption.keyName",
            "",
            ["databaseEncryption names no Cloud KMS key: set databaseEncryption.keyName"],
        ),
    ],
    ids=["unset", "decrypted", "no-key", "empty-key"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, GKE_CLUSTER, with_value(BASELINE, path, value)) == expected


def test_a_key_unknown_in_preview_is_left_to_the_sdk(
    check_policy: Any, with_value: Any, unknown: str
) -> None:
    with pytest.raises(UnknownValueError):
        check_policy(POLICY, GKE_CLUSTER, with_value(BASELINE, "databaseEncryption.keyName", unknown))
