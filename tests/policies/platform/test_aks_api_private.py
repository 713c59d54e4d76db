"""aks-api-private: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.aks_api_private import POLICY
from mlops_policies.platform_types import AKS_CLUSTER

BASELINE: dict[str, Any] = {
    "apiServerAccessProfile": {"enablePrivateCluster": True, "enablePrivateClusterPublicFQDN": False}
}
OPEN = (
    "the API server is public and admits every address: set "
    "apiServerAccessProfile.enablePrivateCluster: true, or authorizedIPRanges with the networks that "
    "need it"
)


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, AKS_CLUSTER, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("apiServerAccessProfile", ..., [OPEN]),
        ("apiServerAccessProfile.enablePrivateCluster", False, [OPEN]),
        (
            "apiServerAccessProfile",
            {"enablePrivateCluster": False, "authorizedIPRanges": ["203.0.113.0/24"]},
            [],
        ),
        (
            "apiServerAccessProfile",
            {"authorizedIPRanges": ["203.0.113.0/24", "0.0.0.0/0"]},
            ["apiServerAccessProfile.authorizedIPRanges[1] admits every address; list specific networks"],
        ),
        ("apiServerAccessProfile", {"authorizedIPRanges": []}, [OPEN]),
    ],
    ids=["unset", "public", "authorized-ranges", "open-range", "empty-ranges"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, AKS_CLUSTER, with_value(BASELINE, path, value)) == expected
