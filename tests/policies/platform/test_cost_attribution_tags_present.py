"""cost-attribution-tags-present: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest

from mlops_policies.cost_attribution_tags_present import POLICY

TAGS = {"environment": "prod", "team": "ml-platform", "cost-center": "cc-2001"}
AWS = ("pulumi:providers:aws", {"region": "eu-central-1", "defaultTags": json.dumps({"tags": TAGS})})
GCP = ("pulumi:providers:gcp", {"project": "p", "defaultLabels": json.dumps(TAGS)})
AZURE = ("pulumi:providers:azure-native", {"location": "westeurope"})
VPC = "aws:ec2/vpc:Vpc"
BUCKET = "gcp:storage/bucket:Bucket"
CLUSTER = "gcp:container/cluster:Cluster"
STORAGE = "azure-native:storage:StorageAccount"


def test_baselines_pass(check_policy: Any) -> None:
    assert check_policy(POLICY, VPC, {"cidrBlock": "10.0.0.0/16"}, provider=AWS) == []
    assert check_policy(POLICY, BUCKET, {"location": "EU"}, provider=GCP) == []
    assert check_policy(POLICY, STORAGE, {"kind": "StorageV2", "tags": TAGS}, provider=AZURE) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "provider", "expected"),
    [
        (
            VPC,
            {},
            ("pulumi:providers:aws", {"region": "eu-central-1"}),
            [
                "missing cost-attribution tags: environment, team, cost-center; set them in `tags` or the provider's default tags"
            ],
        ),
        (VPC, {"tags": TAGS}, ("pulumi:providers:aws", {"region": "eu-central-1"}), []),
        (
            VPC,
            {"tags": {"team": ""}},
            (
                "pulumi:providers:aws",
                {"defaultTags": json.dumps({"tags": {"environment": "dev", "cost-center": "c"}})},
            ),
            ["missing cost-attribution tags: team; set them in `tags` or the provider's default tags"],
        ),
        (
            STORAGE,
            {"tags": {"environment": "prod"}},
            AZURE,
            [
                "missing cost-attribution tags: team, cost-center; set them in `tags` or the provider's default tags"
            ],
        ),
        (
            CLUSTER,
            {},
            ("pulumi:providers:gcp", {"project": "p"}),
            [
                "missing cost-attribution labels: environment, team, cost-center; set them in `resourceLabels` or the "
                "provider's default labels"
            ],
        ),
        (CLUSTER, {"resourceLabels": TAGS}, ("pulumi:providers:gcp", {"project": "p"}), []),
        ("gcp:projects/iAMMember:IAMMember", {}, ("pulumi:providers:gcp", {}), []),
        ("azure-native:authorization:RoleAssignment", {}, AZURE, []),
        ("kubernetes:core/v1:Namespace", {}, None, []),
    ],
    ids=[
        "aws-untagged",
        "aws-own-tags",
        "aws-empty-value",
        "azure-partial",
        "gke-unlabelled",
        "gke-resource-labels",
        "untaggable-gcp",
        "untaggable-azure",
        "kubernetes",
    ],
)
def test_mutations(
    check_policy: Any, resource_type: str, props: dict[str, Any], provider: Any, expected: list[str]
) -> None:
    assert check_policy(POLICY, resource_type, props, provider=provider) == expected


def test_required_tags_are_configurable(check_policy: Any) -> None:
    config = {"requiredTags": ["owner"]}
    assert check_policy(POLICY, VPC, {}, provider=AWS, config=config) == [
        "missing cost-attribution tags: owner; set them in `tags` or the provider's default tags"
    ]


def test_the_default_provider_reads_the_stack_config(check_policy: Any, stack: Any) -> None:
    stack("dev", {"aws:defaultTags": json.dumps({"tags": TAGS}), "gcp:defaultLabels": json.dumps(TAGS)})
    assert check_policy(POLICY, VPC, {}) == []
    assert check_policy(POLICY, BUCKET, {}) == []
