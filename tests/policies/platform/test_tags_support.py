"""tags_support reads an SDK class's arguments from its source; it must agree with importing the class."""

import inspect
from typing import Any

import pytest

from mlops_policies import tags_support
from mlops_policies.tags_support import constructor_parameters, tag_property

# tags_support imports the SDKs' top-level packages, which warn about their own deprecated aliases.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize(
    ("type_token", "expected"),
    [
        ("aws:ec2/vpc:Vpc", "tags"),
        ("aws:lambda/function:Function", "tags"),
        ("aws:lambda/functionUrl:FunctionUrl", None),
        ("aws:iam/rolePolicy:RolePolicy", None),
        ("gcp:storage/bucket:Bucket", "labels"),
        ("gcp:container/cluster:Cluster", "resourceLabels"),
        ("gcp:container/nodePool:NodePool", None),
        ("gcp:projects/iAMMember:IAMMember", None),
        ("azure-native:containerservice:ManagedCluster", "tags"),
        ("azure-native:containerservice/v20250101:ManagedCluster", "tags"),
        ("azure-native:authorization:RoleAssignment", None),
        ("kubernetes:apps/v1:Deployment", None),
        ("random:index/randomString:RandomString", None),
        ("mlopshub:index:AwsNetwork", None),
        ("aws:no/such:Thing", None),
    ],
)
def test_tag_property(type_token: str, expected: str | None) -> None:
    assert tag_property(type_token) == expected


@pytest.mark.parametrize(
    "type_token",
    [
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:lambda/function:Function",
        "gcp:compute/firewall:Firewall",
        "gcp:projects/iAMMember:IAMMember",
        "azure-native:network:NatGateway",
        "azure-native:storage:StorageAccount",
    ],
)
def test_source_reading_matches_the_imported_class(type_token: str) -> None:
    registered = tags_support._registered_class(type_token)
    assert registered is not None
    fqn, class_name = registered
    cls: Any = getattr(__import__(fqn, fromlist=[class_name]), class_name)
    assert constructor_parameters(type_token) == frozenset(inspect.signature(cls._internal_init).parameters)
