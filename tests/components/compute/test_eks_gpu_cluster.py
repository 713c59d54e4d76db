"""Behaviour of EksGpuCluster: its catalogue and pure helpers, and what it registers under offline mocks.

Rendered documents (IAM and KMS policies, the kubeconfig, Karpenter's Helm values and manifests) are compared
with golden files in `golden/`. After an intended change to one, rewrite them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/components/compute/test_eks_gpu_cluster.py -k golden
"""

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

import pulumi
import pulumi_aws as aws
import pytest

from components.compute.contract import CLUSTER_OUTPUTS, NodePoolSpec, ResolvedPool, resolve_node_pools
from components.compute.eks_gpu_cluster import (
    ACCELERATORS,
    CONTROL_PLANE_LOG_TYPES,
    GPUS_PER_INSTANCE_TYPE,
    KARPENTER_CHART,
    NODE_POLICIES,
    TYPE_TOKEN,
    EksGpuCluster,
    EksGpuClusterArgs,
    ami_type,
    cluster_key_policy,
    interruption_queue_policy,
    karpenter_controller_policy,
    karpenter_node_class,
    karpenter_node_pool,
    karpenter_values,
    kubeconfig,
    service_trust_policy,
)
from components.identity.aws_workload_identity import TYPE_TOKEN as IDENTITY_TYPE
from components.identity.aws_workload_identity import check_policy_document
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

NAME = "gpu"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
"""The account the offline getCallerIdentity answer reports."""
VPC_ID = "vpc-0example"
SUBNETS = ["subnet-0a", "subnet-0b", "subnet-0c"]
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/platform-admin"
NODE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/gpu-karpenter-node-role"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:gpu-interruption-queue"
GPU_TAINT_EKS = {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
GPU_TAINT_K8S = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}

A10G_POOL = {
    "name": "a10g",
    "instance_type": "g5.2xlarge",
    "min_nodes": 0,
    "max_nodes": 4,
    "accelerator": {"type": "nvidia-a10g", "count": 1},
    "spot": True,
}
H100_POOL = {
    "name": "h100",
    "instance_type": "p5.48xlarge",
    "min_nodes": 0,
    "max_nodes": 2,
    "accelerator": {"type": "nvidia-h100", "count": 8},
    "disk_size_gb": 500,
}

STACK = "pulumi:pulumi:Stack"
AWS_PROVIDER = "pulumi:providers:aws"
K8S_PROVIDER = "pulumi:providers:kubernetes"
CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
ADDONS = "mlopshub:index:ClusterAddons"
KARPENTER_ONLY = {
    "aws:sqs/queue:Queue",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    IDENTITY_TYPE,
    NODE_POOL,
    NODE_CLASS,
}


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    last: RunResult | None
    """The last run, which `resources` and the lookups read."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...
    def tags_of(self, resource: RecordedResource) -> dict[str, Any] | None: ...


def cluster_program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit eu-west-1 provider with default tags, and one cluster per name."""

    def body() -> None:
        provider = aws.Provider(
            "p", region=REGION, default_tags=aws.ProviderDefaultTagsArgs(tags={"team": "t"})
        )
        for name in names or (NAME,):
            args = cast(
                EksGpuClusterArgs,
                {
                    "kubernetes_version": "1.32",
                    "vpc_id": VPC_ID,
                    "private_subnet_ids": SUBNETS,
                    "node_pools": [A10G_POOL, H100_POOL],
                    "admin_role_arns": [ADMIN],
                    "tags": {"extra": "x"},
                    **overrides,
                },
            )
            EksGpuCluster(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture(scope="module")
def default_runs() -> dict[str, RunResult]:
    """Runs shared by this module's tests, which only read them."""
    return {}


@pytest.fixture
def cluster(pulumi_run: Recorder, default_runs: dict[str, RunResult]) -> Recorder:
    """A recorded run of the default cluster `gpu`: two GPU pools, Karpenter and every add-on on.

    The program runs once per module; later tests read the same recording (it is never modified).
    """
    if "default" in default_runs:
        pulumi_run.last = default_runs["default"]
    else:
        default_runs["default"] = pulumi_run.run(cluster_program())
    return pulumi_run


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def descendants(recorder: Recorder, root: RecordedResource) -> list[RecordedResource]:
    """Every resource whose parent chain reaches `root`."""
    by_urn = {r.urn: r for r in recorder.resources}

    def reaches(resource: RecordedResource) -> bool:
        parent = resource.parent
        while parent is not None:
            if parent == root.urn:
                return True
            parent = by_urn[parent].parent
        return False

    return [r for r in recorder.resources if reaches(r)]


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    """Logical names of the resources property `prop` depends on, sorted."""
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def dependency_names(resource: RecordedResource) -> set[str]:
    return {urn.rsplit("::", 1)[-1] for urn in resource.dependencies}


def assert_matches_golden(name: str, document: Any) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    rendered = json.loads(document) if isinstance(document, str) else document
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(rendered, indent=2) + "\n")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert rendered == json.loads(path.read_text())


def resolved(*pools: dict[str, Any]) -> list[ResolvedPool]:
    return resolve_node_pools("EksGpuCluster test", cast(Any, list(pools)), ACCELERATORS)


# The AWS accelerator catalogue and pure helpers, no mocks.


@pytest.mark.parametrize(
    ("accelerator", "instance_type", "count"),
    [
        ("nvidia-t4", "g4dn.xlarge", 1),
        ("nvidia-t4", "g4dn.metal", 8),
        ("nvidia-a10g", "g5.12xlarge", 4),
        ("nvidia-l4", "g6.48xlarge", 8),
        ("nvidia-l4", "gr6.4xlarge", 1),
        ("nvidia-l40s", "g6e.xlarge", 1),
        ("nvidia-a100", "p4d.24xlarge", 8),
        ("nvidia-a100", "p4de.24xlarge", 8),
        ("nvidia-h100", "p5.48xlarge", 8),
        ("nvidia-h100", "p5.4xlarge", 1),
    ],
)
def test_catalogue_accepts_the_instance_families_that_carry_each_accelerator(
    accelerator: str, instance_type: str, count: int
) -> None:
    pool = {
        "name": "p",
        "instance_type": instance_type,
        "min_nodes": 0,
        "max_nodes": 1,
        "accelerator": {"type": accelerator, "count": count},
    }

    (found,) = resolved(pool)

    assert (found.accelerator_type, found.accelerator_count) == (accelerator, count)
    assert GPUS_PER_INSTANCE_TYPE[instance_type] == count


@pytest.mark.parametrize(
    ("accelerator", "instance_type"),
    [
        ("nvidia-l4", "g6e.xlarge"),  # L40S, not L4
        ("nvidia-h100", "p5e.48xlarge"),  # H200
        ("nvidia-h100", "p5en.48xlarge"),  # H200
        ("nvidia-a10g", "g5g.xlarge"),  # T4G on Graviton
        ("nvidia-t4", "g4ad.xlarge"),  # AMD Radeon
    ],
)
def test_catalogue_rejects_look_alike_families(accelerator: str, instance_type: str) -> None:
    pool = {
        "name": "p",
        "instance_type": instance_type,
        "min_nodes": 0,
        "max_nodes": 1,
        "accelerator": {"type": accelerator, "count": 1},
    }

    with pytest.raises(ValueError, match=f"does not carry {accelerator}"):
        resolved(pool)


def test_catalogue_covers_the_aws_accelerators_at_most_eight_per_node() -> None:
    assert {k: (v.instance_prefixes, v.max_count) for k, v in ACCELERATORS.items()} == {
        "nvidia-t4": (("g4dn.",), 8),
        "nvidia-a10g": (("g5.",), 8),
        "nvidia-l4": (("g6.", "gr6."), 8),
        "nvidia-l40s": (("g6e.",), 8),
        "nvidia-a100": (("p4d.", "p4de."), 8),
        "nvidia-h100": (("p5.",), 8),
    }
    prefixes = tuple(prefix for rule in ACCELERATORS.values() for prefix in rule.instance_prefixes)
    assert all(instance_type.startswith(prefixes) for instance_type in GPUS_PER_INSTANCE_TYPE)


@pytest.mark.parametrize(
    ("instance_type", "accelerator", "expected"),
    [
        ("g5.2xlarge", {"type": "nvidia-a10g", "count": 1}, "AL2023_x86_64_NVIDIA"),
        ("m6i.large", None, "AL2023_x86_64_STANDARD"),
        ("m7g.large", None, "AL2023_ARM_64_STANDARD"),
        ("c7gn.xlarge", None, "AL2023_ARM_64_STANDARD"),
        ("r6gd.large", None, "AL2023_ARM_64_STANDARD"),
        ("c6in.large", None, "AL2023_x86_64_STANDARD"),
    ],
)
def test_ami_type(instance_type: str, accelerator: dict[str, Any] | None, expected: str) -> None:
    pool: dict[str, Any] = {"name": "p", "instance_type": instance_type, "min_nodes": 0, "max_nodes": 1}
    if accelerator:
        pool["accelerator"] = accelerator

    assert ami_type(resolved(pool)[0]) == expected


def karpenter_policy() -> str:
    return karpenter_controller_policy("aws", REGION, ACCOUNT, NAME, NODE_ROLE_ARN, QUEUE_ARN)


@pytest.mark.parametrize(
    ("golden", "document"),
    [
        ("eks_cluster_key_policy", lambda: cluster_key_policy(ACCOUNT, "aws", REGION, NAME)),
        ("eks_cluster_role_trust_policy", lambda: service_trust_policy("eks.amazonaws.com")),
        ("eks_node_role_trust_policy", lambda: service_trust_policy("ec2.amazonaws.com")),
        ("eks_karpenter_controller_policy", karpenter_policy),
        ("eks_interruption_queue_policy", lambda: interruption_queue_policy(QUEUE_ARN, ACCOUNT)),
        (
            "eks_kubeconfig",
            lambda: kubeconfig(
                NAME, "https://EXAMPLE.gr7.eu-west-1.eks.amazonaws.com", "Q0VSVElGSUNBVEU=", REGION
            ),
        ),
        ("eks_karpenter_values", lambda: karpenter_values(NAME, "gpu-interruption-queue", 2)),
        ("eks_karpenter_node_pool_a10g", lambda: karpenter_node_pool(resolved(A10G_POOL)[0], 4)),
        (
            "eks_karpenter_node_class_h100",
            lambda: karpenter_node_class(
                resolved(H100_POOL)[0],
                "gpu-karpenter-node-role",
                [{"id": subnet} for subnet in SUBNETS],
                "sg-0cluster",
                {"team": "t"},
            ),
        ),
    ],
)
def test_rendered_document_matches_golden(golden: str, document: Callable[[], Any]) -> None:
    assert_matches_golden(golden, document())


def test_karpenter_policy_passes_the_workload_identity_checks() -> None:
    check_policy_document("EksGpuCluster gpu", "KarpenterController", karpenter_policy())


def test_karpenter_policy_scopes_writes_to_this_cluster() -> None:
    statements = {s["Sid"]: s for s in json.loads(karpenter_policy())["Statement"]}
    owned = f"aws:ResourceTag/kubernetes.io/cluster/{NAME}"

    assert statements["AllowPassingInstanceRole"]["Resource"] == NODE_ROLE_ARN
    assert statements["AllowInterruptionQueueActions"]["Resource"] == QUEUE_ARN
    assert statements["AllowScopedDeletion"]["Condition"]["StringEquals"] == {owned: "owned"}
    assert statements["AllowScopedEC2InstanceActionsWithTags"]["Condition"]["StringEquals"] == {
        f"aws:RequestTag/kubernetes.io/cluster/{NAME}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": NAME,
    }
    assert statements["AllowAPIServerEndpointDiscovery"]["Resource"] == (
        f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{NAME}"
    )
    # Only read-only or pricing actions run on every resource, and the reads only in this region.
    unscoped = {sid for sid, s in statements.items() if s["Resource"] == "*"}
    assert unscoped == {"AllowRegionalReadActions", "AllowPricingReadActions"}
    assert statements["AllowRegionalReadActions"]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": REGION}
    }


def test_key_policy_lets_logs_use_the_key_for_this_clusters_log_group_only() -> None:
    administration, logs_use = json.loads(cluster_key_policy(ACCOUNT, "aws", REGION, NAME))["Statement"]

    assert administration["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert logs_use["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert logs_use["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/eks/{NAME}/cluster"
        }
    }


def test_kubeconfig_authenticates_through_the_aws_cli_only() -> None:
    document = kubeconfig(NAME, "https://example", "Q0E=", REGION)
    (user,) = document["users"]

    assert user["user"] == {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": ["--region", REGION, "eks", "get-token", "--cluster-name", NAME, "--output", "json"],
            "interactiveMode": "Never",
        }
    }


# What the component registers (preview, offline mocks).


def expected_counts() -> dict[str, int]:
    """Direct children of the default cluster, by type."""
    return {
        "aws:kms/key:Key": 1,
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:iam/role:Role": 3,
        ATTACHMENT: 1 + 2 * len(NODE_POLICIES),
        CLUSTER: 1,
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1,
        ACCESS_ENTRY: 2,
        "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": 1,
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 1,
        LAUNCH_TEMPLATE: 1,
        NODE_GROUP: 1,
        "aws:eks/addon:Addon": 1,
        K8S_PROVIDER: 1,
        "aws:sqs/queue:Queue": 1,
        "aws:sqs/queuePolicy:QueuePolicy": 1,
        "aws:cloudwatch/eventRule:EventRule": 4,
        "aws:cloudwatch/eventTarget:EventTarget": 4,
        IDENTITY_TYPE: 1,
        RELEASE: 1,
        NODE_CLASS: 2,
        NODE_POOL: 2,
        ADDONS: 1,
    }


def test_resource_counts(cluster: Recorder) -> None:
    assert Counter(r.type for r in cluster.children_of(component(cluster))) == expected_counts()


def test_control_plane_is_private_encrypted_logged_and_pinned(cluster: Recorder) -> None:
    eks = cluster.one(CLUSTER)

    assert eks.name == f"{NAME}-cluster"
    assert eks.inputs["name"] == NAME
    assert eks.inputs["version"] == "1.32"
    assert eks.inputs["upgradePolicy"] == {"supportType": "STANDARD"}
    assert eks.inputs["vpcConfig"] == {
        "subnetIds": SUBNETS,
        "endpointPrivateAccess": True,
        "endpointPublicAccess": False,
        "publicAccessCidrs": None,
    }
    assert eks.inputs["accessConfig"] == {
        "authenticationMode": "API",
        "bootstrapClusterCreatorAdminPermissions": False,
    }
    assert eks.inputs["encryptionConfig"] == {"provider": {"keyArn": "[unknown]"}, "resources": ["secrets"]}
    assert depends_on(eks, "encryptionConfig") == [f"{NAME}-key"]
    assert eks.inputs["enabledClusterLogTypes"] == list(CONTROL_PLANE_LOG_TYPES)
    assert set(CONTROL_PLANE_LOG_TYPES) == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    # The log group exists first (or EKS makes an unencrypted one), and so does the role's policy.
    assert {f"{NAME}-control-plane-logs", f"{NAME}-cluster-policy"} <= dependency_names(eks)


def test_secrets_key_and_log_group(cluster: Recorder) -> None:
    key = cluster.one("aws:kms/key:Key")
    log_group = cluster.one("aws:cloudwatch/logGroup:LogGroup")

    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert json.loads(key.inputs["policy"]) == json.loads(cluster_key_policy(ACCOUNT, "aws", REGION, NAME))
    assert log_group.inputs["name"] == f"/aws/eks/{NAME}/cluster"
    assert log_group.inputs["retentionInDays"] == 365
    assert depends_on(log_group, "kmsKeyId") == [f"{NAME}-key"]


def test_cluster_role_has_only_the_cluster_policy(cluster: Recorder) -> None:
    role = cluster.named(f"{NAME}-cluster-role")
    attachment = cluster.named(f"{NAME}-cluster-policy")

    assert json.loads(role.inputs["assumeRolePolicy"]) == json.loads(
        service_trust_policy("eks.amazonaws.com")
    )
    assert attachment.inputs["policyArn"] == "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
    assert depends_on(attachment, "role") == [f"{NAME}-cluster-role"]


@pytest.mark.parametrize("cidrs", [["203.0.113.0/24"], ["203.0.113.0/24", "198.51.100.7/32"]])
def test_public_endpoint_only_for_authorized_cidrs(pulumi_run: Recorder, cidrs: list[str]) -> None:
    pulumi_run.run(cluster_program(authorized_cidrs=cidrs))

    assert pulumi_run.one(CLUSTER).inputs["vpcConfig"] == {
        "subnetIds": SUBNETS,
        "endpointPrivateAccess": True,
        "endpointPublicAccess": True,
        "publicAccessCidrs": cidrs,
    }


def test_admins_come_only_from_access_entries(cluster: Recorder) -> None:
    entry = cluster.named(f"{NAME}-admin-0")
    association = cluster.named(f"{NAME}-admin-0-policy")

    assert entry.inputs["principalArn"] == ADMIN
    assert entry.inputs["type"] == "STANDARD"
    assert depends_on(entry, "clusterName") == [f"{NAME}-cluster"]
    assert association.inputs == {
        "clusterName": NAME,
        "principalArn": ADMIN,
        "policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
        "accessScope": {"type": "cluster"},
    }
    assert depends_on(association, "principalArn") == [f"{NAME}-admin-0"]


def test_no_admin_entries_without_admin_role_arns(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(admin_role_arns=[]))

    assert [e.name for e in pulumi_run.of_type(ACCESS_ENTRY)] == [f"{NAME}-karpenter-node-access"]
    assert not pulumi_run.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")


def test_oidc_provider_for_irsa(cluster: Recorder) -> None:
    provider = cluster.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")

    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider.inputs["url"] == "[unknown]"
    assert depends_on(provider, "url") == [f"{NAME}-cluster"]


def test_api_clients_group_is_the_only_way_into_the_private_endpoint(cluster: Recorder) -> None:
    group = cluster.named(f"{NAME}-api-clients-sg")
    ingress = cluster.named(f"{NAME}-api-clients-ingress")

    assert group.inputs["vpcId"] == VPC_ID
    assert group.inputs["egress"] == [
        {
            "description": "HTTPS to the Kubernetes API",
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "securityGroups": ["[unknown]"],
        }
    ]
    assert group.inputs.get("ingress", []) == []
    assert {k: ingress.inputs[k] for k in ("ipProtocol", "fromPort", "toPort")} == {
        "ipProtocol": "tcp",
        "fromPort": 443,
        "toPort": 443,
    }
    assert depends_on(ingress, "referencedSecurityGroupId") == [f"{NAME}-api-clients-sg"]
    assert depends_on(ingress, "securityGroupId") == [f"{NAME}-cluster"]


def test_node_role_has_only_what_nodes_need(cluster: Recorder) -> None:
    role = cluster.named(f"{NAME}-node-role")
    attached = {
        r.inputs["policyArn"]
        for r in cluster.of_type(ATTACHMENT)
        if depends_on(r, "role") == [f"{NAME}-node-role"]
    }

    assert json.loads(role.inputs["assumeRolePolicy"]) == json.loads(
        service_trust_policy("ec2.amazonaws.com")
    )
    assert attached == {
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
        "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    }
    every_policy = [r.inputs["policyArn"] for r in cluster.of_type(ATTACHMENT)]
    assert not [arn for arn in every_policy if "FullAccess" in arn or "Administrator" in arn]


def test_system_pool_is_a_small_on_demand_managed_group(cluster: Recorder) -> None:
    group = cluster.named(f"{NAME}-system-ng")

    assert {k: v for k, v in group.inputs.items() if k not in {"nodeRoleArn", "launchTemplate"}} == {
        "clusterName": NAME,
        "subnetIds": SUBNETS,
        "version": "1.32",
        "instanceTypes": ["m6i.large"],
        "amiType": "AL2023_x86_64_STANDARD",
        "capacityType": "ON_DEMAND",
        "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 1},
        "labels": {"mlops-hub.io/pool": "system"},
        "taints": [],
        "nodeRepairConfig": {"enabled": True},
        "updateConfig": {"maxUnavailable": 1},
        "tags": {"extra": "x", "Name": f"{NAME}-system-ng"},
    }
    assert group.inputs["launchTemplate"] == {"id": "[unknown]", "version": "[unknown]"}
    assert depends_on(group, "launchTemplate") == [f"{NAME}-system-lt"]
    assert depends_on(group, "nodeRoleArn") == [f"{NAME}-node-role"]
    assert {f"{NAME}-node-{policy}" for policy in NODE_POLICIES} <= dependency_names(group)
    assert group.options["ignoreChanges"] == ["scalingConfig.desiredSize"]


def test_a_given_system_pool_replaces_the_default(pulumi_run: Recorder) -> None:
    system = {
        "name": "core",
        "instance_type": "m7g.xlarge",
        "min_nodes": 2,
        "max_nodes": 5,
        "disk_size_gb": 50,
    }
    pulumi_run.run(cluster_program(system_pool=system))
    group = pulumi_run.named(f"{NAME}-core-ng")

    assert group.inputs["scalingConfig"] == {"minSize": 2, "maxSize": 5, "desiredSize": 2}
    assert group.inputs["amiType"] == "AL2023_ARM_64_STANDARD"
    assert pulumi_run.named(f"{NAME}-core-lt").inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 50
    # Two system nodes hold both Karpenter replicas (they spread across hosts).
    assert pulumi_run.named(f"{NAME}-karpenter").inputs["values"]["replicas"] == 2


def assert_hardened_launch_template(template: RecordedResource, disk_size_gb: int, name_tag: str) -> None:
    assert template.inputs["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    assert template.inputs["blockDeviceMappings"] == [
        {
            "deviceName": "/dev/xvda",
            "ebs": {
                "volumeSize": disk_size_gb,
                "volumeType": "gp3",
                "encrypted": "true",
                "deleteOnTermination": "true",
            },
        }
    ]
    assert template.inputs["tagSpecifications"] == [
        {"resourceType": kind, "tags": {"extra": "x", "Name": name_tag}}
        for kind in ("instance", "volume", "network-interface")
    ]


def test_system_launch_template_is_hardened(cluster: Recorder) -> None:
    assert_hardened_launch_template(cluster.named(f"{NAME}-system-lt"), 100, f"{NAME}-system")


def test_gpu_pools_are_karpenter_node_pools_that_scale_to_zero(cluster: Recorder) -> None:
    pools = {r.name: r for r in cluster.of_type(NODE_POOL)}

    assert sorted(pools) == [f"{NAME}-a10g-nodepool", f"{NAME}-h100-nodepool"]
    a10g = pools[f"{NAME}-a10g-nodepool"]
    assert a10g.inputs["metadata"] == {"name": "a10g", "labels": {"app.kubernetes.io/managed-by": "pulumi"}}
    assert a10g.inputs["spec"] == {
        "template": {
            "metadata": {"labels": {"mlops-hub.io/pool": "a10g", "mlops-hub.io/accelerator": "nvidia-a10g"}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "a10g"},
                "requirements": [
                    {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5.2xlarge"]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]},
                ],
                "taints": [GPU_TAINT_K8S],
                "expireAfter": "720h",
            },
        },
        "limits": {"nvidia.com/gpu": 4},
        "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "300s"},
    }
    h100 = pools[f"{NAME}-h100-nodepool"].inputs["spec"]
    assert h100["template"]["spec"]["requirements"][1]["values"] == ["on-demand"]
    assert h100["template"]["spec"]["taints"] == [GPU_TAINT_K8S]
    assert h100["limits"] == {"nvidia.com/gpu": 2 * 8}
    assert all(
        dependency_names(pool) == {f"{NAME}-karpenter", f"{NAME}-{pool.inputs['metadata']['name']}-nodeclass"}
        for pool in pools.values()
    )
    # No managed node group for a pool that starts from zero under Karpenter.
    assert [g.name for g in cluster.of_type(NODE_GROUP)] == [f"{NAME}-system-ng"]


def test_extra_taints_and_labels_join_the_gpu_taint_and_pool_labels(pulumi_run: Recorder) -> None:
    team_taint = {"key": "team", "value": "vision", "effect": "NoExecute"}
    pool = {**A10G_POOL, "taints": [team_taint], "labels": {"team": "vision"}}
    pulumi_run.run(cluster_program(node_pools=[pool]))
    template = pulumi_run.named(f"{NAME}-a10g-nodepool").inputs["spec"]["template"]

    assert template["spec"]["taints"] == [team_taint, GPU_TAINT_K8S]
    assert template["metadata"]["labels"] == {
        "mlops-hub.io/pool": "a10g",
        "team": "vision",
        "mlops-hub.io/accelerator": "nvidia-a10g",
    }


def test_karpenter_node_classes_are_private_and_hardened(cluster: Recorder) -> None:
    node_class = cluster.named(f"{NAME}-h100-nodeclass")

    assert node_class.inputs["spec"] == {
        "role": "[unknown]",
        "amiSelectorTerms": [{"alias": "al2023@latest"}],
        "subnetSelectorTerms": [{"id": subnet} for subnet in SUBNETS],
        "securityGroupSelectorTerms": [{"id": "[unknown]"}],
        "associatePublicIPAddress": False,
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",
                "ebs": {
                    "volumeSize": "500Gi",
                    "volumeType": "gp3",
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
            }
        ],
        "tags": {"extra": "x"},
    }
    assert depends_on(node_class, "spec") == [f"{NAME}-cluster", f"{NAME}-karpenter-node-role"]
    assert f"{NAME}-karpenter" in dependency_names(node_class)


def test_karpenter_release_is_pinned_and_uses_its_irsa_identity(cluster: Recorder) -> None:
    release = cluster.named(f"{NAME}-karpenter")
    identity = [r for r in cluster.of_type(IDENTITY_TYPE) if r.name == f"{NAME}-karpenter-irsa"]
    service_account = cluster.named(f"{NAME}-karpenter-irsa-sa")

    assert (release.inputs["chart"], release.inputs["version"]) == (
        "oci://public.ecr.aws/karpenter/karpenter",
        "1.3.3",
    )
    assert KARPENTER_CHART["version"] == "1.3.3"
    assert release.inputs["namespace"] == "kube-system"
    assert release.inputs["values"] == {
        "settings": {
            "clusterName": NAME,
            "interruptionQueue": "[unknown]",
            "featureGates": {"nodeRepair": True},
        },
        "serviceAccount": {"create": False, "name": "karpenter"},
        "replicas": 1,
        "controller": {
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
        },
    }
    assert depends_on(release, "values") == [f"{NAME}-interruption-queue"]
    assert len(identity) == 1
    assert service_account.inputs["metadata"]["namespace"] == "kube-system"
    assert service_account.inputs["metadata"]["name"] == "karpenter"
    assert service_account.inputs["automountServiceAccountToken"] is True
    # The release waits for the whole identity: role, policy and service account.
    assert {f"{NAME}-karpenter-irsa-role", f"{NAME}-karpenter-irsa-sa"} <= dependency_names(release)


def test_karpenter_controller_policy_is_inline_on_its_role(cluster: Recorder) -> None:
    policy = cluster.named(f"{NAME}-karpenter-irsa-KarpenterController-policy")
    role = cluster.named(f"{NAME}-karpenter-irsa-role")

    # Built from the node role's and the queue's ARNs, which a preview cannot know.
    assert policy.inputs["policy"] == "[unknown]"
    assert depends_on(policy, "policy") == [f"{NAME}-interruption-queue", f"{NAME}-karpenter-node-role"]
    assert depends_on(role, "assumeRolePolicy") == [f"{NAME}-cluster", f"{NAME}-oidc"]


def test_karpenter_nodes_have_their_own_role_and_access_entry(cluster: Recorder) -> None:
    entry = cluster.named(f"{NAME}-karpenter-node-access")
    attached = {
        r.inputs["policyArn"]
        for r in cluster.of_type(ATTACHMENT)
        if depends_on(r, "role") == [f"{NAME}-karpenter-node-role"]
    }

    assert entry.inputs["type"] == "EC2_LINUX"
    assert depends_on(entry, "principalArn") == [f"{NAME}-karpenter-node-role"]
    assert attached == {f"arn:aws:iam::aws:policy/{policy}" for policy in NODE_POLICIES}


def test_interruption_queue_and_rules(cluster: Recorder) -> None:
    queue = cluster.one("aws:sqs/queue:Queue")
    queue_policy = cluster.one("aws:sqs/queuePolicy:QueuePolicy")
    rules = {
        r.name: json.loads(r.inputs["eventPattern"])
        for r in cluster.of_type("aws:cloudwatch/eventRule:EventRule")
    }
    targets = cluster.of_type("aws:cloudwatch/eventTarget:EventTarget")

    assert queue.inputs["sqsManagedSseEnabled"] is True
    assert queue.inputs["messageRetentionSeconds"] == 300
    assert depends_on(queue_policy, "policy") == [f"{NAME}-interruption-queue"]
    assert rules == {
        f"{NAME}-health-rule": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
        f"{NAME}-spot-interruption-rule": {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Spot Instance Interruption Warning"],
        },
        f"{NAME}-rebalance-rule": {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance Rebalance Recommendation"],
        },
        f"{NAME}-state-change-rule": {
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
        },
    }
    assert sorted((depends_on(t, "rule"), depends_on(t, "arn")) for t in targets) == sorted(
        ([rule], [f"{NAME}-interruption-queue"]) for rule in rules
    )


def test_node_monitoring_agent_for_gpu_health_repair(cluster: Recorder) -> None:
    addon = cluster.one("aws:eks/addon:Addon")

    assert addon.inputs["addonName"] == "eks-node-monitoring-agent"
    assert f"{NAME}-system-ng" in dependency_names(addon)


def test_kubernetes_provider_and_addons(cluster: Recorder) -> None:
    provider = cluster.named(f"{NAME}-k8s")
    addons = cluster.one(ADDONS)
    kubernetes_resources = [
        r for r in descendants(cluster, component(cluster)) if r.type.startswith("kubernetes:")
    ]

    assert provider.type == K8S_PROVIDER
    assert provider.inputs["kubeconfig"] == "[secret]"
    # Nothing reaches the API before a node can run pods and the admins can get in.
    assert {f"{NAME}-system-ng", f"{NAME}-admin-0-policy", f"{NAME}-cluster"} <= dependency_names(provider)
    assert addons.name == f"{NAME}-addons"
    assert addons.parent == component(cluster).urn
    assert kubernetes_resources
    assert all(r.provider == provider.urn for r in kubernetes_resources)
    assert sorted(r.name for r in cluster.of_type(RELEASE)) == [
        f"{NAME}-addons-dcgm-exporter",
        f"{NAME}-addons-gpu-operator",
        f"{NAME}-addons-kuberay-operator",
        f"{NAME}-addons-opencost",
        f"{NAME}-karpenter",
    ]


def test_every_child_is_parented_under_the_cluster(cluster: Recorder) -> None:
    root = component(cluster)
    aws_provider = cluster.one(AWS_PROVIDER)
    below = descendants(cluster, root)
    others = [r for r in cluster.resources if r.type not in {STACK, AWS_PROVIDER, TYPE_TOKEN}]

    assert root.type == TYPE_TOKEN == "mlopshub:index:EksGpuCluster"
    assert sorted(r.urn for r in below) == sorted(r.urn for r in others)
    assert all(r.name.startswith(f"{NAME}-") for r in below)
    assert all(r.provider == aws_provider.urn for r in below if r.type.startswith("aws:"))


def test_every_taggable_child_carries_caller_provider_and_name_tags(cluster: Recorder) -> None:
    aws_resources = [r for r in descendants(cluster, component(cluster)) if r.type.startswith("aws:")]
    tags = {r.name: cluster.tags_of(r) for r in aws_resources}
    taggable = {name: found for name, found in tags.items() if found is not None}

    assert {name for name, found in tags.items() if found is None} == {
        f"{NAME}-cluster-policy",
        *(f"{NAME}-node-{policy}" for policy in NODE_POLICIES),
        *(f"{NAME}-karpenter-node-{policy}" for policy in NODE_POLICIES),
        f"{NAME}-admin-0-policy",
        f"{NAME}-interruption-queue-policy",
        *(f"{NAME}-{event}-target" for event in ("health", "spot-interruption", "rebalance", "state-change")),
        f"{NAME}-karpenter-irsa-KarpenterController-policy",
    }
    assert {name: found["Name"] for name, found in taggable.items()} == {name: name for name in taggable}
    assert all(found["extra"] == "x" and found["team"] == "t" for found in taggable.values())


def test_outputs_are_the_cluster_contract(cluster: Recorder) -> None:
    outputs = component(cluster).outputs

    assert outputs is not None
    assert tuple(sorted(outputs)) == tuple(sorted(CLUSTER_OUTPUTS))
    assert outputs == {
        "cluster_name": NAME,
        "endpoint": "[unknown]",
        "oidc_issuer_url": "[unknown]",
        "kubeconfig": "[secret]",
        "gpu_pool_names": ["a10g", "h100"],
        "node_identity": "[unknown]",
    }


def test_two_clusters_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in descendants(pulumi_run, component(pulumi_run, "a"))}
    names_b = {r.name for r in descendants(pulumi_run, component(pulumi_run, "b"))}

    assert len(urns) == len(set(urns))
    assert names_a
    assert len(names_a) == len(names_b)
    assert names_a.isdisjoint(names_b)
    assert all(name.startswith("a-") for name in names_a)
    assert all(name.startswith("b-") for name in names_b)
    assert sorted(r.inputs["name"] for r in pulumi_run.of_type(CLUSTER)) == ["a", "b"]


def test_without_the_autoscaler_gpu_pools_are_managed_node_groups(pulumi_run: Recorder) -> None:
    pulumi_run.run(cluster_program(addons={"autoscaler": False}))
    groups = {g.name: g for g in pulumi_run.of_type(NODE_GROUP)}
    a10g = groups[f"{NAME}-a10g-ng"]

    assert sorted(groups) == [f"{NAME}-a10g-ng", f"{NAME}-h100-ng", f"{NAME}-system-ng"]
    assert {
        k: a10g.inputs[k]
        for k in ("instanceTypes", "amiType", "capacityType", "scalingConfig", "taints", "labels")
    } == {
        "instanceTypes": ["g5.2xlarge"],
        "amiType": "AL2023_x86_64_NVIDIA",
        "capacityType": "SPOT",
        "scalingConfig": {"minSize": 0, "maxSize": 4, "desiredSize": 0},
        "taints": [GPU_TAINT_EKS],
        "labels": {"mlops-hub.io/pool": "a10g", "mlops-hub.io/accelerator": "nvidia-a10g"},
    }
    assert groups[f"{NAME}-h100-ng"].inputs["capacityType"] == "ON_DEMAND"
    assert groups[f"{NAME}-h100-ng"].inputs["taints"] == [GPU_TAINT_EKS]
    assert_hardened_launch_template(pulumi_run.named(f"{NAME}-h100-lt"), 500, f"{NAME}-h100")
    assert all(g.inputs["nodeRepairConfig"] == {"enabled": True} for g in groups.values())
    assert not [r.name for r in pulumi_run.resources if r.type in KARPENTER_ONLY]
    assert f"{NAME}-karpenter" not in {r.name for r in pulumi_run.of_type(RELEASE)}
    assert not [r for r in pulumi_run.resources if r.name.startswith(f"{NAME}-karpenter")]
    outputs = component(pulumi_run).outputs
    assert outputs is not None
    assert outputs["gpu_pool_names"] == ["a10g", "h100"]


def test_a_gpu_pool_with_a_minimum_keeps_it_in_a_managed_group(pulumi_run: Recorder) -> None:
    warm = {**A10G_POOL, "min_nodes": 1, "max_nodes": 3}
    pulumi_run.run(cluster_program(node_pools=[warm]))
    group = pulumi_run.named(f"{NAME}-a10g-ng")

    # Karpenter has no minimum: the managed group holds the always-on node, Karpenter adds up to two more.
    assert group.inputs["scalingConfig"] == {"minSize": 1, "maxSize": 1, "desiredSize": 1}
    assert group.inputs["taints"] == [GPU_TAINT_EKS]
    assert pulumi_run.named(f"{NAME}-a10g-nodepool").inputs["spec"]["limits"] == {"nvidia.com/gpu": 2}


def test_extra_cpu_pools_are_managed_node_groups(pulumi_run: Recorder) -> None:
    cpu = {"name": "cpu", "instance_type": "c7i.2xlarge", "min_nodes": 0, "max_nodes": 10}
    pulumi_run.run(cluster_program(node_pools=[A10G_POOL, cpu]))
    group = pulumi_run.named(f"{NAME}-cpu-ng")

    assert group.inputs["scalingConfig"] == {"minSize": 0, "maxSize": 10, "desiredSize": 0}
    assert group.inputs["taints"] == []
    outputs = component(pulumi_run).outputs
    assert outputs is not None
    assert outputs["gpu_pool_names"] == ["a10g"]
    assert [r.name for r in pulumi_run.of_type(NODE_POOL)] == [f"{NAME}-a10g-nodepool"]


@pytest.mark.parametrize(
    ("addons", "releases"),
    [
        pytest.param(
            dict.fromkeys(("gpu_operator", "dcgm_exporter", "autoscaler", "kuberay", "opencost"), False),
            [],
            id="all-off",
        ),
        pytest.param(
            {"autoscaler": False},
            ["addons-dcgm-exporter", "addons-gpu-operator", "addons-kuberay-operator", "addons-opencost"],
            id="autoscaler-off",
        ),
        pytest.param(
            {"gpu_operator": False, "kuberay": False, "opencost": False},
            ["addons-dcgm-exporter", "karpenter"],
            id="three-off",
        ),
    ],
)
def test_switched_off_addons_are_not_installed(
    pulumi_run: Recorder, addons: dict[str, bool], releases: list[str]
) -> None:
    pulumi_run.run(cluster_program(addons=addons))

    assert sorted(r.name for r in pulumi_run.of_type(RELEASE)) == [
        f"{NAME}-{release}" for release in releases
    ]
    if not releases:
        assert pulumi_run.children_of(pulumi_run.one(ADDONS)) == []


@pytest.mark.parametrize("days", [30, 3653])
def test_log_retention_is_passed_through(pulumi_run: Recorder, days: int) -> None:
    pulumi_run.run(cluster_program(log_retention_days=days))

    assert pulumi_run.one("aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == days


def gpu_pool(**changes: Any) -> dict[str, Any]:
    return {**A10G_POOL, **changes}


BAD_ARGS = [
    pytest.param(
        {"node_pools": [gpu_pool(min_nodes=3, max_nodes=1)]},
        "node pool 'a10g': min_nodes (3) is greater than max_nodes (1)",
        id="min-above-max",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(accelerator={"type": "nvidia-a10g", "count": 0})]},
        "node pool 'a10g': accelerator count 0 must be from 1 to 8",
        id="count-zero",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(accelerator={"type": "nvidia-tesla-v100", "count": 1})]},
        "node pool 'a10g': accelerator 'nvidia-tesla-v100' is not known on this cloud; allowed: nvidia-a100, ",
        id="unknown-accelerator",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(instance_type="g6.2xlarge")]},
        "node pool 'a10g': instance type 'g6.2xlarge' does not carry nvidia-a10g; use one starting with g5.",
        id="instance-type-mismatch",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(accelerator={"type": "nvidia-a10g", "count": 4})]},
        "node pool 'a10g': instance type g5.2xlarge carries 1 nvidia-a10g, not 4; set accelerator count 1",
        id="count-mismatch",
    ),
    pytest.param(
        {
            "node_pools": [
                gpu_pool(taints=[{"key": "nvidia.com/gpu", "value": "present", "effect": "PreferNoSchedule"}])
            ]
        },
        "node pool 'a10g': taint nvidia.com/gpu=present:PreferNoSchedule would replace the GPU taint "
        "nvidia.com/gpu=present:NoSchedule",
        id="gpu-taint-weakened",
    ),
    pytest.param(
        {"authorized_cidrs": ["203.0.113.0/24", "0.0.0.0/0"]},
        "authorized_cidrs entry 0.0.0.0/0 opens the API endpoint to the whole internet",
        id="open-ipv4",
    ),
    pytest.param(
        {"authorized_cidrs": ["::/0"]},
        "authorized_cidrs entry ::/0 opens the API endpoint to the whole internet",
        id="open-ipv6",
    ),
    pytest.param(
        {"authorized_cidrs": ["10.0.0.1/8"]},
        "authorized_cidrs entry '10.0.0.1/8' is not a network",
        id="cidr",
    ),
    pytest.param(
        {"system_pool": {"name": "system", "instance_type": "m6i.large", "min_nodes": 0, "max_nodes": 3}},
        "system pool 'system' must be a CPU pool with min_nodes 1 or more",
        id="system-min-zero",
    ),
    pytest.param(
        {"system_pool": gpu_pool(name="gsys", min_nodes=1)},
        "system pool 'gsys' must be a CPU pool",
        id="system-gpu",
    ),
    pytest.param(
        {"node_pools": [gpu_pool(name="system")]},
        "node pool 'system': name is used by another pool",
        id="pool-named-system",
    ),
    pytest.param(
        {"log_retention_days": 100},
        "log_retention_days 100 is not a CloudWatch retention period",
        id="retention",
    ),
    pytest.param(
        {"kubernetes_version": "1.32.1"}, "kubernetes_version '1.32.1' must be a minor version", id="version"
    ),
    pytest.param({"addons": {"karpenter": False}}, "unknown add-on karpenter", id="addon"),
]


@pytest.mark.parametrize(("overrides", "problem"), BAD_ARGS)
def test_bad_specs_fail_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(cluster_program(**overrides))

    cause = failure.value.cause
    assert isinstance(cause, ValueError)
    assert str(cause).startswith(f"EksGpuCluster {NAME}: ")
    assert problem in str(cause)
    # The component itself registers first (super().__init__ comes before validation), nothing else.
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, AWS_PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]


def test_the_name_must_be_a_valid_eks_cluster_name(pulumi_run: Recorder) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(cluster_program("gpu.prod"))

    assert str(failure.value.cause).startswith(
        "EksGpuCluster gpu.prod: 'gpu.prod' is not a valid EKS cluster name"
    )


def test_node_security_group_is_the_cluster_group_every_node_carries(pulumi_run: Recorder) -> None:
    def body() -> None:
        provider = aws.Provider("p", region=REGION)
        cluster = EksGpuCluster(
            NAME,
            {
                "kubernetes_version": "1.32",
                "vpc_id": VPC_ID,
                "private_subnet_ids": SUBNETS,
                "node_pools": [cast(NodePoolSpec, A10G_POOL)],
            },
            opts=pulumi.ResourceOptions(providers=[provider]),
        )
        aws.vpc.SecurityGroupIngressRule(
            "from-nodes",
            security_group_id="sg-0service",
            referenced_security_group_id=cluster.node_security_group_id,
            ip_protocol="tcp",
            from_port=2049,
            to_port=2049,
            opts=pulumi.ResourceOptions(provider=provider),
        )

    pulumi_run.run(body)
    rule = pulumi_run.named("from-nodes")
    # The cluster security group EKS reports: the one Karpenter's node classes select too.
    assert depends_on(rule, "referencedSecurityGroupId") == [f"{NAME}-cluster"]
    node_class = pulumi_run.named(f"{NAME}-a10g-nodeclass")
    assert f"{NAME}-cluster" in depends_on(node_class, "spec")
    outputs = component(pulumi_run).outputs
    assert outputs is not None and "node_security_group_id" not in outputs
