"""azure-storage-secure-transport: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.azure_storage_secure_transport import POLICY
from mlops_policies.platform_types import STORAGE_ACCOUNT

BASELINE: dict[str, Any] = {
    "kind": "StorageV2",
    "enableHttpsTrafficOnly": True,
    "minimumTlsVersion": "TLS1_2",
    "allowBlobPublicAccess": False,
}
HTTP = "plain HTTP is accepted: set enableHttpsTrafficOnly: true"
TLS = "TLS versions below 1.2 are accepted: set minimumTlsVersion: TLS1_2"
PUBLIC = "containers can be made anonymously readable: set allowBlobPublicAccess: false"


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, STORAGE_ACCOUNT, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("enableHttpsTrafficOnly", False, [HTTP]),
        ("enableHttpsTrafficOnly", ..., []),
        ("supportsHttpsTrafficOnly", False, [HTTP]),
        ("minimumTlsVersion", "TLS1_0", [TLS]),
        ("minimumTlsVersion", ..., [TLS]),
        ("minimumTlsVersion", "TLS1_3", []),
        ("allowBlobPublicAccess", True, [PUBLIC]),
        ("allowBlobPublicAccess", ..., [PUBLIC]),
    ],
    ids=["http", "https-default", "classic-name", "tls10", "tls-unset", "tls13", "public", "public-unset"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, STORAGE_ACCOUNT, with_value(BASELINE, path, value)) == expected
