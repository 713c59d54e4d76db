"""eks-endpoint-private: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import EKS_CLUSTER
from mlops_policies.eks_endpoint_private import POLICY

VPC_CONFIG: dict[str, Any] = {
    "subnetIds": ["subnet-a", "subnet-b"],
    "endpointPrivateAccess": True,
    "endpointPublicAccess": False,
}
OPEN_BY_DEFAULT = (
    "the API endpoint is public to every address (endpointPublicAccess defaults to true and publicAccessCidrs "
    "to 0.0.0.0/0); set endpointPublicAccess to false, or list the CIDRs that may reach it"
)


def _open(network: str) -> str:
    return (
        f"publicAccessCidrs admits every address (`{network}`); list the CIDRs that may reach the API, or set "
        "endpointPublicAccess to false"
    )


def _cluster(**changes: Any) -> dict[str, Any]:
    vpc_config = {k: v for k, v in {**VPC_CONFIG, **changes}.items() if v is not None}
    return {"roleArn": "arn:aws:iam::123456789012:role/eks", "vpcConfig": vpc_config}


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, EKS_CLUSTER, _cluster()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"endpointPublicAccess": None}, [OPEN_BY_DEFAULT]),
        ({"endpointPublicAccess": True}, [OPEN_BY_DEFAULT]),
        ({"endpointPublicAccess": True, "publicAccessCidrs": []}, [OPEN_BY_DEFAULT]),
        ({"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}, []),
        (
            {"endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24", "0.0.0.0/0"]},
            [_open("0.0.0.0/0")],
        ),
        ({"endpointPublicAccess": True, "publicAccessCidrs": ["10.1.2.3/0"]}, [_open("0.0.0.0/0")]),
        ({"endpointPublicAccess": True, "publicAccessCidrs": ["::/0"]}, [_open("::/0")]),
        ({"endpointPublicAccess": True, "publicAccessCidrs": ["not-a-cidr"]}, []),
        ({"publicAccessCidrs": ["0.0.0.0/0"]}, []),  # ignored while public access is off
    ],
    ids=[
        "default",
        "public",
        "empty-cidrs",
        "restricted",
        "open-cidr",
        "unnormalised-open",
        "ipv6",
        "invalid",
        "public-off",
    ],
)
def test_mutations(check_aws_policy: Any, changes: dict[str, Any], expected: list[str]) -> None:
    assert check_aws_policy(POLICY, EKS_CLUSTER, _cluster(**changes)) == expected


def test_a_cluster_without_vpc_config_is_open_by_default(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, EKS_CLUSTER, {"roleArn": "r"}) == [OPEN_BY_DEFAULT]


def test_unknown_cidrs_are_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, EKS_CLUSTER, _cluster(endpointPublicAccess=True, publicAccessCidrs=unknown))
