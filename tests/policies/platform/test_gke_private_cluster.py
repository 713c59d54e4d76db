"""gke-private-cluster: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.gke_private_cluster import POLICY
from mlops_policies.platform_types import GKE_CLUSTER

BASELINE: dict[str, Any] = {
    "privateClusterConfig": {"enablePrivateNodes": True, "enablePrivateEndpoint": False},
    "masterAuthorizedNetworksConfig": {
        "cidrBlocks": [{"cidrBlock": "10.0.0.0/8", "displayName": "vpn"}],
        "gcpPublicCidrsAccessEnabled": False,
    },
}
PUBLIC_NODES = "nodes get public IP addresses: set privateClusterConfig.enablePrivateNodes: true"
OPEN_ENDPOINT = (
    "the control-plane endpoint is public and admits every address: set "
    "privateClusterConfig.enablePrivateEndpoint: true, or masterAuthorizedNetworksConfig with the "
    "networks that need the API server"
)


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, GKE_CLUSTER, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("privateClusterConfig.enablePrivateNodes", False, [PUBLIC_NODES]),
        ("privateClusterConfig", ..., [PUBLIC_NODES]),
        ("masterAuthorizedNetworksConfig", ..., [OPEN_ENDPOINT]),
        (
            "masterAuthorizedNetworksConfig.cidrBlocks.0.cidrBlock",
            "0.0.0.0/0",
            ["masterAuthorizedNetworksConfig.cidrBlocks[0] admits every address; list specific networks"],
        ),
        (
            "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled",
            True,
            [
                "masterAuthorizedNetworksConfig.gcpPublicCidrsAccessEnabled admits every Google Cloud public "
                "address; set it to false"
            ],
        ),
        ("masterAuthorizedNetworksConfig.cidrBlocks", [], []),
    ],
    ids=[
        "public-nodes",
        "no-private-config",
        "no-authorized-networks",
        "open-cidr",
        "gcp-public-cidrs",
        "no-cidrs",
    ],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, GKE_CLUSTER, with_value(BASELINE, path, value)) == expected


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("privateClusterConfig.enablePrivateEndpoint", True),
        ("controlPlaneEndpointsConfig", {"ipEndpointsConfig": {"enabled": False}}),
    ],
    ids=["private-endpoint", "dns-endpoint-only"],
)
def test_a_private_endpoint_needs_no_authorized_networks(
    check_policy: Any, with_value: Any, path: str, value: Any
) -> None:
    props = with_value(with_value(BASELINE, "masterAuthorizedNetworksConfig", ...), path, value)
    assert check_policy(POLICY, GKE_CLUSTER, props) == []
