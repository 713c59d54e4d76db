"""resources-in-allowed-regions: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.resources_in_allowed_regions import POLICY

ALLOWED = {
    "allowedRegions": {
        "aws": ["eu-west-1", "eu-central-1"],
        "gcp": ["europe-west4"],
        "azure": ["westeurope", "northeurope"],
    }
}
AWS = ("pulumi:providers:aws", {"region": "eu-central-1"})
GCP = ("pulumi:providers:gcp", {"project": "p", "region": "europe-west4"})
AZURE = ("pulumi:providers:azure-native", {"location": "westeurope"})
VPC = "aws:ec2/vpc:Vpc"
ROLE = "aws:iam/role:Role"
CLUSTER = "gcp:container/cluster:Cluster"
INSTANCE = "gcp:compute/instance:Instance"
BUCKET = "gcp:storage/bucket:Bucket"
ACCOUNT = "gcp:serviceaccount/account:Account"
AKS = "azure-native:containerservice:ManagedCluster"


def test_baselines_pass(check_policy: Any) -> None:
    assert check_policy(POLICY, VPC, {"cidrBlock": "10.0.0.0/16"}, provider=AWS, config=ALLOWED) == []
    assert check_policy(POLICY, CLUSTER, {"location": "europe-west4"}, provider=GCP, config=ALLOWED) == []
    assert check_policy(POLICY, AKS, {"location": "westeurope"}, provider=AZURE, config=ALLOWED) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "provider", "expected"),
    [
        (
            VPC,
            {},
            ("pulumi:providers:aws", {"region": "eu-west-2"}),
            [
                "its provider (region) deploys to `eu-west-2`, outside the allowed aws regions (allowedRegions.aws)"
            ],
        ),
        (
            VPC,
            {"region": "us-east-1"},
            AWS,
            ["region `us-east-1` is outside the allowed aws regions (allowedRegions.aws)"],
        ),
        (VPC, {"region": "eu-west-1"}, ("pulumi:providers:aws", {"region": "us-east-1"}), []),
        ("aws:ec2/subnet:Subnet", {"availabilityZone": "eu-central-1a"}, AWS, []),
        (
            "aws:ec2/subnet:Subnet",
            {"availabilityZone": "eu-west-2b"},
            AWS,
            ["availabilityZone `eu-west-2` is outside the allowed aws regions (allowedRegions.aws)"],
        ),
        (
            ROLE,
            {},
            ("pulumi:providers:aws", {"region": "us-west-2"}),
            [
                "its provider (region) deploys to `us-west-2`, outside the allowed aws regions (allowedRegions.aws)"
            ],
        ),
        (
            ROLE,
            {},
            ("pulumi:providers:aws", {}),
            [
                "no AWS region is pinned on the resource or its provider, so the deploying environment "
                "(AWS_REGION, the profile) decides: set the provider's region"
            ],
        ),
        (
            CLUSTER,
            {"location": "europe-west2"},
            GCP,
            ["location `europe-west2` is outside the allowed gcp regions (allowedRegions.gcp)"],
        ),
        (INSTANCE, {"zone": "europe-west4-b"}, GCP, []),
        (
            INSTANCE,
            {"zone": "us-central1-a"},
            GCP,
            ["zone `us-central1` is outside the allowed gcp regions (allowedRegions.gcp)"],
        ),
        (BUCKET, {"location": "EUROPE-WEST4"}, GCP, []),
        (
            BUCKET,
            {"location": "US"},
            GCP,
            ["location `us` is outside the allowed gcp regions (allowedRegions.gcp)"],
        ),
        ("gcp:kms/keyRing:KeyRing", {"location": "global"}, GCP, []),
        (
            ACCOUNT,
            {},
            ("pulumi:providers:gcp", {"project": "p", "region": "us-east1"}),
            [
                "its provider (region) deploys to `us-east1`, outside the allowed gcp regions (allowedRegions.gcp)"
            ],
        ),
        (ACCOUNT, {}, ("pulumi:providers:gcp", {"project": "p"}), []),
        (AKS, {"location": "West Europe"}, AZURE, []),
        (
            AKS,
            {"location": "eastus"},
            AZURE,
            ["location `eastus` is outside the allowed azure regions (allowedRegions.azure)"],
        ),
        ("azure-native:network:PrivateZone", {"location": "Global"}, AZURE, []),
        (
            "azure-native:resources:ResourceGroup",
            {},
            ("pulumi:providers:azure-native", {"location": "uksouth"}),
            [
                "its provider (location) deploys to `uksouth`, outside the allowed azure regions (allowedRegions.azure)"
            ],
        ),
        ("kubernetes:core/v1:Namespace", {"metadata": {"name": "x"}}, None, []),
    ],
    ids=[
        "aws-provider-outside",
        "aws-own-region-outside",
        "own-region-wins",
        "aws-zone-inside",
        "aws-zone-outside",
        "global-service-on-outside-provider",
        "aws-region-unpinned",
        "gke-outside",
        "gce-zone-inside",
        "gce-zone-outside",
        "gcs-uppercase-region",
        "gcs-us-multi-region",
        "global-key-ring",
        "gcp-provider-outside",
        "gcp-global-resource-without-region",
        "azure-display-name",
        "azure-outside",
        "azure-global",
        "azure-provider-outside",
        "kubernetes-has-no-region",
    ],
)
def test_mutations(
    check_policy: Any, resource_type: str, props: dict[str, Any], provider: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, resource_type, props, provider=provider, config=ALLOWED) == expected


def test_an_empty_or_absent_list_allows_any_region(check_policy: Any) -> None:
    outside = ("pulumi:providers:aws", {"region": "us-east-1"})
    assert check_policy(POLICY, VPC, {}, provider=outside) == []
    assert (
        check_policy(
            POLICY, VPC, {}, provider=outside, config={"allowedRegions": {"aws": [], "gcp": ["europe-west4"]}}
        )
        == []
    )


def test_the_default_provider_reads_the_stack_config(check_policy: Any, stack: Any) -> None:
    stack("dev", {"aws:region": "us-east-1"})
    assert check_policy(POLICY, VPC, {}, config=ALLOWED) == [
        "the default provider (stack config aws:region) deploys to `us-east-1`, outside the allowed aws regions "
        "(allowedRegions.aws)"
    ]
    stack("dev", {"aws:region": "eu-west-1"})
    assert check_policy(POLICY, VPC, {}, config=ALLOWED) == []


def test_a_location_unknown_in_preview_is_left_to_the_sdk(check_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_policy(POLICY, CLUSTER, {"location": unknown}, provider=GCP, config=ALLOWED)


def test_a_malformed_config_fails_loudly(check_policy: Any) -> None:
    with pytest.raises(ValueError, match=r"allowedRegions\.aws"):
        check_policy(POLICY, VPC, {}, provider=AWS, config={"allowedRegions": {"aws": "eu-west-1"}})
