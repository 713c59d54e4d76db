"""EksGpuCluster: a private, encrypted EKS cluster whose GPU pools cost nothing while idle.

The control plane has a private endpoint (public only for explicitly authorised CIDRs), secrets are
envelope-encrypted with a key this component owns, and all five control-plane log types go to a KMS-encrypted
log group created before the cluster. Access is through EKS access entries only: nobody, not even the
identity that creates the cluster, is admin unless listed in `admin_role_arns`. Nodes run in the private
subnets from launch templates that require IMDSv2 with a hop limit of 1 and encrypt their gp3 root volumes.

A small on-demand managed node group (the system pool) runs the controllers. GPU pools are Karpenter
NodePools (taking each pool to zero 300 s after it empties) or, with the autoscaler switched off, managed
node groups. The cloud-neutral add-ons come from ClusterAddons, through a Kubernetes provider built from the
cluster's exec-based kubeconfig.

Uses pulumi_aws resources directly rather than pulumi_eks: pulumi_eks is a multi-language component whose
children live in its own plugin, so neither an offline preview nor our policies could see them.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.compute.cluster_addons import ClusterAddons
from components.compute.contract import (
    AcceleratorRule,
    AddonsSpec,
    ClusterFlavor,
    NodePoolSpec,
    ResolvedPool,
    TaintEffect,
    authorized_cidrs,
    enabled_addons,
    exec_kubeconfig,
    resolve_node_pools,
)
from components.identity.aws_workload_identity import AwsWorkloadIdentity
from components.network.aws_network import FLOW_LOG_RETENTION_DAYS
from components.tags import name_tagged

TYPE_TOKEN = "mlopshub:index:EksGpuCluster"

ACCELERATORS: dict[str, AcceleratorRule] = {
    "nvidia-t4": AcceleratorRule(("g4dn.",), max_count=8),
    "nvidia-a10g": AcceleratorRule(("g5.",), max_count=8),
    "nvidia-l4": AcceleratorRule(("g6.", "gr6."), max_count=8),
    "nvidia-l40s": AcceleratorRule(("g6e.",), max_count=8),
    "nvidia-a100": AcceleratorRule(("p4d.", "p4de."), max_count=8),
    "nvidia-h100": AcceleratorRule(("p5.",), max_count=8),
}
"""AWS accelerator catalogue: accelerator type → the instance families that carry it and the most per node.

`p5.` excludes `p5e.`/`p5en.` (H200) and `g6.` excludes `g6e.` (L40S), because the prefixes end in a dot.
"""

_ONE_GPU_SIZES = ("xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")
GPUS_PER_INSTANCE_TYPE: dict[str, int] = {
    **{f"{family}.{size}": 1 for family in ("g4dn", "g5", "g6", "g6e") for size in _ONE_GPU_SIZES},
    **{f"{family}.{size}": 4 for family in ("g5", "g6", "g6e") for size in ("12xlarge", "24xlarge")},
    **{f"{family}.48xlarge": 8 for family in ("g5", "g6", "g6e")},
    "g4dn.12xlarge": 4,
    "g4dn.metal": 8,
    "gr6.4xlarge": 1,
    "gr6.8xlarge": 1,
    "p4d.24xlarge": 8,
    "p4de.24xlarge": 8,
    "p5.4xlarge": 1,
    "p5.48xlarge": 8,
}
"""GPUs on each instance type of the catalogue's families; a pool's accelerator count must match.

Types not listed (new sizes) are accepted with any count the catalogue allows."""

DEFAULT_SYSTEM_POOL: NodePoolSpec = {
    "name": "system",
    "instance_type": "m6i.large",
    "min_nodes": 1,
    "max_nodes": 3,
}
"""The system pool when none is given: small, on-demand, CPU only."""

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
"""Every EKS control-plane log type; all are on."""

NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly")
"""AWS managed policies a node needs to join, run the VPC CNI and pull images; nothing else (no SSM shell)."""

KARPENTER_CHART = {"chart": "oci://public.ecr.aws/karpenter/karpenter", "version": "1.3.3"}
"""The pinned Karpenter chart. Bump deliberately, together with the controller policy below."""
KARPENTER_NAMESPACE = "kube-system"
"""Karpenter's namespace (its documented default; it exists in every cluster)."""
KARPENTER_SERVICE_ACCOUNT = "karpenter"
"""The service account the Karpenter controller runs as, bound to its IAM role through IRSA."""
KARPENTER_AMI_ALIAS = "al2023@latest"
"""AMI family of Karpenter nodes. For GPU instance types Karpenter resolves the AL2023 NVIDIA variant (driver
and container toolkit included) for the cluster's Kubernetes version. `@latest` lets drift roll nodes onto
patched AMIs; pin `al2023@vYYYYMMDD` for change-controlled rollouts."""
GPU_IDLE_SECONDS = 300
"""How long an empty Karpenter GPU node is kept before it is removed (Karpenter's documented default)."""

INTERRUPTION_EVENTS: dict[str, tuple[str, str]] = {
    "health": ("aws.health", "AWS Health Event"),
    "spot-interruption": ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    "rebalance": ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    "state-change": ("aws.ec2", "EC2 Instance State-change Notification"),
}
"""EventBridge rules Karpenter's interruption handling consumes: rule role → (source, detail-type)."""

_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_KUBERNETES_VERSION = re.compile(r"^1\.\d{2,}$")
_GRAVITON = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*\.")
_EKS_TAINT_EFFECTS = {
    TaintEffect.NO_SCHEDULE: "NO_SCHEDULE",
    TaintEffect.PREFER_NO_SCHEDULE: "PREFER_NO_SCHEDULE",
    TaintEffect.NO_EXECUTE: "NO_EXECUTE",
}
_MANAGED_BY = {"app.kubernetes.io/managed-by": "pulumi"}


class EksGpuClusterArgs(TypedDict):
    """Arguments of EksGpuCluster. The component's name is also the EKS cluster's name."""

    kubernetes_version: str
    """Kubernetes minor version, e.g. `1.32`; pins the control plane and every managed node group."""
    vpc_id: pulumi.Input[str]
    """The VPC of `private_subnet_ids` (AwsNetwork.vpc_id); holds the API clients' security group."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets for the control-plane ENIs and every node (AwsNetwork.private_subnet_ids)."""
    node_pools: Sequence[NodePoolSpec]
    """GPU pools (and any extra CPU pools), validated against ACCELERATORS before any child exists."""
    system_pool: NotRequired[NodePoolSpec]
    """The always-on CPU pool for controllers (default DEFAULT_SYSTEM_POOL); min_nodes at least 1."""
    authorized_cidrs: NotRequired[Sequence[str]]
    """CIDRs allowed to reach a public API endpoint. Empty or absent: private endpoint only. `/0` is rejected."""
    admin_role_arns: NotRequired[Sequence[pulumi.Input[str]]]
    """IAM principals granted cluster admin through access entries. The creator gets no implicit admin, so
    the identity that runs `pulumi up` must be listed here (or granted access otherwise) to install add-ons."""
    addons: NotRequired[AddonsSpec]
    """Add-ons to switch off (all on by default); `autoscaler` off makes GPU pools managed node groups."""
    log_retention_days: NotRequired[int]
    """Days control-plane logs are kept; a CloudWatch retention period (default 365)."""
    tags: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Tags added to every taggable child and to the instances and volumes of every node, Karpenter's too
    (provider default tags never reach instances launched by node groups or Karpenter)."""


def check_gpu_pools(owner: str, pools: Sequence[ResolvedPool]) -> None:
    """Reject a GPU pool whose accelerator count differs from what its instance type carries.

    (The contract itself guarantees every GPU pool carries the exact GPU taint.)

    Raises:
        ValueError: naming the pool and the bad value.
    """
    for pool in pools:
        if not pool.is_gpu:
            continue
        carried = GPUS_PER_INSTANCE_TYPE.get(pool.instance_type)
        if carried is not None and carried != pool.accelerator_count:
            raise ValueError(
                f"{owner}: node pool {pool.name!r}: instance type {pool.instance_type} carries {carried} "
                f"{pool.accelerator_type}, not {pool.accelerator_count}; set accelerator count {carried}"
            )


def ami_type(pool: ResolvedPool) -> str:
    """The EKS managed node group AMI type: AL2023 NVIDIA for GPU pools, AL2023 x86 or ARM otherwise."""
    if pool.is_gpu:
        return "AL2023_x86_64_NVIDIA"
    return "AL2023_ARM_64_STANDARD" if _GRAVITON.match(pool.instance_type) else "AL2023_x86_64_STANDARD"


def service_trust_policy(service: str) -> str:
    """Trust policy letting one AWS service principal assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def cluster_key_policy(account_id: str, partition: str, region: str, cluster_name: str) -> str:
    """KMS key policy: account administration, plus CloudWatch Logs use for this cluster's log group only.

    EKS uses the key for secrets through a grant made with the creator's IAM permissions.
    """
    log_group_arn = (
        f"arn:{partition}:logs:{region}:{account_id}:log-group:{control_plane_log_group(cluster_name)}"
    )
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "ControlPlaneLogsUse",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt",
                        "kms:Decrypt",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
                },
            ],
        }
    )


def control_plane_log_group(cluster_name: str) -> str:
    """The log group EKS writes control-plane logs to; created first so EKS does not make its own."""
    return f"/aws/eks/{cluster_name}/cluster"


def karpenter_controller_policy(
    partition: str, region: str, account_id: str, cluster_name: str, node_role_arn: str, queue_arn: str
) -> str:
    """The Karpenter 1.3 controller policy (its documented CloudFormation policy), for one cluster.

    EC2 writes are scoped by the `kubernetes.io/cluster/<name>` and `karpenter.sh/nodepool` tags, instance
    profiles by the cluster, region and node-class tags, PassRole to the one node role, reads to the region.
    """
    ec2 = f"arn:{partition}:ec2:{region}"
    profiles = f"arn:{partition}:iam::{account_id}:instance-profile/*"
    owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster_name}": "owned"}
    requested = {
        f"aws:RequestTag/kubernetes.io/cluster/{cluster_name}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster_name,
    }
    any_nodepool = {"aws:ResourceTag/karpenter.sh/nodepool": "*"}
    launched = [
        f"{ec2}:*:{kind}/*"
        for kind in (
            "fleet",
            "instance",
            "volume",
            "network-interface",
            "launch-template",
            "spot-instances-request",
        )
    ]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AllowScopedEC2InstanceAccessActions",
            "Effect": "Allow",
            "Resource": [
                f"{ec2}::image/*",
                f"{ec2}::snapshot/*",
                f"{ec2}:*:security-group/*",
                f"{ec2}:*:subnet/*",
                f"{ec2}:*:capacity-reservation/*",
            ],
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
        },
        {
            "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
            "Effect": "Allow",
            "Resource": f"{ec2}:*:launch-template/*",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Condition": {"StringEquals": owned, "StringLike": any_nodepool},
        },
        {
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Resource": [*launched, f"{ec2}:*:capacity-reservation/*"],
            "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            "Condition": {
                "StringEquals": requested,
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Resource": launched,
            "Action": "ec2:CreateTags",
            "Condition": {
                "StringEquals": {
                    **requested,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceTagging",
            "Effect": "Allow",
            "Resource": f"{ec2}:*:instance/*",
            "Action": "ec2:CreateTags",
            "Condition": {
                "StringEquals": owned,
                "StringLike": any_nodepool,
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster_name},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        },
        {
            "Sid": "AllowScopedDeletion",
            "Effect": "Allow",
            "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
            "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            "Condition": {"StringEquals": owned, "StringLike": any_nodepool},
        },
        {
            "Sid": "AllowRegionalReadActions",
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "AllowSSMReadActions",
            "Effect": "Allow",
            "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            "Action": "ssm:GetParameter",
        },
        {
            "Sid": "AllowPricingReadActions",
            "Effect": "Allow",
            "Resource": "*",
            "Action": "pricing:GetProducts",
        },
        {
            "Sid": "AllowInterruptionQueueActions",
            "Effect": "Allow",
            "Resource": queue_arn,
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
        },
        {
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Resource": node_role_arn,
            "Action": "iam:PassRole",
            "Condition": {
                "StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": ["iam:CreateInstanceProfile"],
            "Condition": {
                "StringEquals": {**requested, "aws:RequestTag/topology.kubernetes.io/region": region},
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileTagActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": ["iam:TagInstanceProfile"],
            "Condition": {
                "StringEquals": {
                    **owned,
                    "aws:ResourceTag/topology.kubernetes.io/region": region,
                    **requested,
                    "aws:RequestTag/topology.kubernetes.io/region": region,
                },
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": [
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            "Condition": {
                "StringEquals": {**owned, "aws:ResourceTag/topology.kubernetes.io/region": region},
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowInstanceProfileReadActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": "iam:GetInstanceProfile",
        },
        {
            "Sid": "AllowAPIServerEndpointDiscovery",
            "Effect": "Allow",
            "Resource": f"arn:{partition}:eks:{region}:{account_id}:cluster/{cluster_name}",
            "Action": "eks:DescribeCluster",
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def interruption_queue_policy(queue_arn: str, account_id: str) -> str:
    """Queue policy: only this account's EventBridge rules may send; nothing may use the queue without TLS.

    Tighter than Karpenter's sample (any account's rules, and SQS itself): a forged interruption message
    makes Karpenter drain a node.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "EC2InterruptionPolicy",
            "Statement": [
                {
                    "Sid": "EventBridgeSend",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                },
                {
                    "Sid": "DenyHTTP",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": queue_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def interruption_event_pattern(source: str, detail_type: str) -> str:
    """EventBridge pattern of one interruption event kind."""
    return json.dumps({"source": [source], "detail-type": [detail_type]})


def kubeconfig(
    cluster_name: pulumi.Input[str],
    endpoint: pulumi.Input[str],
    certificate_authority: pulumi.Input[str],
    region: pulumi.Input[str],
) -> dict[str, Any]:
    """A kubeconfig that authenticates with `aws eks get-token` (the caller's AWS identity), never a token."""
    return exec_kubeconfig(
        cluster_name,
        endpoint,
        certificate_authority,
        cluster_name,
        {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "args": [
                "--region",
                region,
                "eks",
                "get-token",
                "--cluster-name",
                cluster_name,
                "--output",
                "json",
            ],
            "interactiveMode": "Never",
        },
    )


def karpenter_values(cluster_name: str, queue_name: pulumi.Input[str], replicas: int) -> dict[str, Any]:
    """Helm values of the Karpenter chart: our IRSA service account, the interruption queue, node repair."""
    return {
        "settings": {
            "clusterName": cluster_name,
            "interruptionQueue": queue_name,
            # Replaces nodes whose GPU the node monitoring agent reports unhealthy (alpha in 1.3).
            "featureGates": {"nodeRepair": True},
        },
        "serviceAccount": {"create": False, "name": KARPENTER_SERVICE_ACCOUNT},
        "replicas": replicas,
        "controller": {
            "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
        },
    }


def karpenter_node_pool(pool: ResolvedPool, nodes: int) -> dict[str, Any]:
    """A Karpenter NodePool for one GPU pool, allowed up to `nodes` nodes' worth of GPUs."""
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": pool.name, "labels": dict(_MANAGED_BY)},
        "spec": {
            "template": {
                "metadata": {"labels": dict(pool.labels)},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": pool.name},
                    "requirements": [
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": [pool.instance_type],
                        },
                        {
                            "key": "karpenter.sh/capacity-type",
                            "operator": "In",
                            "values": ["spot" if pool.spot else "on-demand"],
                        },
                    ],
                    "taints": [
                        {"key": t["key"], "value": t["value"], "effect": TaintEffect(t["effect"]).value}
                        for t in pool.taints
                    ],
                    # Karpenter's default, stated: nodes are replaced monthly, so AMIs stay patched.
                    "expireAfter": "720h",
                },
            },
            "limits": {"nvidia.com/gpu": nodes * pool.accelerator_count},
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": f"{GPU_IDLE_SECONDS}s"},
        },
    }


def karpenter_node_class(
    pool: ResolvedPool,
    role: pulumi.Input[str],
    subnet_selector_terms: pulumi.Input[Sequence[Mapping[str, str]]],
    security_group_id: pulumi.Input[str],
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]],
) -> dict[str, Any]:
    """A Karpenter EC2NodeClass for one GPU pool: private subnets, IMDSv2 hop limit 1, encrypted gp3 root."""
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": pool.name, "labels": dict(_MANAGED_BY)},
        "spec": {
            "role": role,
            "amiSelectorTerms": [{"alias": KARPENTER_AMI_ALIAS}],
            "subnetSelectorTerms": subnet_selector_terms,
            "securityGroupSelectorTerms": [{"id": security_group_id}],
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
                        "volumeSize": f"{pool.disk_size_gb}Gi",
                        "volumeType": "gp3",
                        "encrypted": True,
                        "deleteOnTermination": True,
                    },
                }
            ],
            "tags": tags,
        },
    }


def _issuer_url(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    for identity in identities:
        for oidc in identity.oidcs or ():
            if oidc.issuer:
                return oidc.issuer
    raise ValueError("EKS reported no OIDC issuer for the cluster")


def _cluster_security_group(vpc_config: aws.eks.outputs.ClusterVpcConfig) -> str:
    if not vpc_config.cluster_security_group_id:
        raise ValueError("EKS reported no cluster security group for the cluster")
    return vpc_config.cluster_security_group_id


def _subnet_terms(subnet_ids: Sequence[str]) -> list[dict[str, str]]:
    return [{"id": subnet_id} for subnet_id in subnet_ids]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The plain arguments, validated, with defaults filled in."""

    system_pool: ResolvedPool
    pools: list[ResolvedPool]
    public_cidrs: list[str]
    log_retention_days: int
    enabled_addons: frozenset[str]


def _validated(name: str, args: EksGpuClusterArgs) -> _Plan:
    """Check every plain argument before any child exists; errors start with `EksGpuCluster <name>: `."""
    owner = f"EksGpuCluster {name}"
    if not _CLUSTER_NAME.match(name):
        raise ValueError(
            f"{owner}: {name!r} is not a valid EKS cluster name (letters, digits, - and _, "
            "starting with a letter or digit, at most 100)"
        )
    version = args["kubernetes_version"]
    if not _KUBERNETES_VERSION.match(version):
        raise ValueError(f"{owner}: kubernetes_version {version!r} must be a minor version such as '1.32'")
    system_pool, *pools = resolve_node_pools(
        owner, [args.get("system_pool", DEFAULT_SYSTEM_POOL), *args["node_pools"]], ACCELERATORS
    )
    if system_pool.is_gpu or system_pool.min_nodes < 1:
        raise ValueError(
            f"{owner}: system pool {system_pool.name!r} must be a CPU pool with min_nodes 1 or more "
            "(it runs the controllers that bring up every other node)"
        )
    check_gpu_pools(owner, pools)
    public_cidrs = authorized_cidrs(owner, args.get("authorized_cidrs", ()))
    retention = args.get("log_retention_days", 365)
    if retention not in FLOW_LOG_RETENTION_DAYS:
        raise ValueError(
            f"{owner}: log_retention_days {retention} is not a CloudWatch retention period "
            f"({', '.join(map(str, FLOW_LOG_RETENTION_DAYS))})"
        )
    try:
        enabled = enabled_addons(args.get("addons"))
    except ValueError as err:
        raise ValueError(f"{owner}: {err}") from None
    return _Plan(system_pool, pools, public_cidrs, retention, enabled)


class EksGpuCluster(pulumi.ComponentResource):
    """A private, encrypted, access-entry-only EKS cluster with scale-to-zero GPU pools and GPU add-ons."""

    cluster_name: pulumi.Output[str]
    """The EKS cluster's name (the component's name)."""
    endpoint: pulumi.Output[str]
    """API server URL (private unless authorized_cidrs were given)."""
    oidc_issuer_url: pulumi.Output[str]
    """The cluster's OIDC issuer, for IRSA."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (secret) that authenticates through `aws eks get-token`."""
    gpu_pool_names: pulumi.Output[list[str]]
    """Names of the pools that carry accelerators."""
    node_identity: pulumi.Output[str]
    """ARN of the IAM role managed-node-group nodes run as (Karpenter nodes run as their own role)."""

    oidc_provider_arn: pulumi.Output[str]
    """ARN of the cluster's IAM OIDC provider, for AwsWorkloadIdentity (not a registered output)."""
    kubernetes_provider: k8s.Provider
    """Kubernetes provider for this cluster, for workloads the program adds (not a registered output)."""
    api_client_security_group_id: pulumi.Output[str]
    """Security group that may reach the private API endpoint; put CI runners and bastions in it."""
    node_security_group_id: pulumi.Output[str]
    """The EKS cluster security group, which every node carries (managed node groups get it from EKS,
    Karpenter nodes from their EC2NodeClass): the source to admit in rules for services the pods call, such as
    NFS to a shared file system (not a registered output)."""

    def __init__(
        self, name: str, args: EksGpuClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        plan = _validated(name, args)
        system_pool, pools, version = plan.system_pool, plan.pools, args["kubernetes_version"]
        karpenter = "autoscaler" in plan.enabled_addons
        gpu_pools = [pool for pool in pools if pool.is_gpu]
        tags = args.get("tags")
        subnet_ids = args["private_subnet_ids"]
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)

        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        def managed_policy(policy: str) -> pulumi.Output[str]:
            return partition.apply(lambda p: f"arn:{p}:iam::aws:policy/{policy}")

        # Control plane: key, log group (before the cluster, or EKS creates an unencrypted one), role, cluster.
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts Kubernetes secrets and control-plane logs of EKS cluster {name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account_id, partition, region).apply(
                lambda values: cluster_key_policy(values[0], values[1], values[2], name)
            ),
            tags=name_tagged(tags, f"{name}-key"),
            opts=child,
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=control_plane_log_group(name),
            retention_in_days=plan.log_retention_days,
            kms_key_id=key.arn,
            tags=name_tagged(tags, f"{name}-control-plane-logs"),
            opts=child,
        )
        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            description=f"EKS control plane of {name}",
            assume_role_policy=service_trust_policy("eks.amazonaws.com"),
            tags=name_tagged(tags, f"{name}-cluster-role"),
            opts=child,
        )
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-policy",
            role=cluster_role.name,
            policy_arn=managed_policy("AmazonEKSClusterPolicy"),
            opts=child,
        )
        cluster = aws.eks.Cluster(
            f"{name}-cluster",
            name=name,
            version=version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": subnet_ids,
                "endpoint_private_access": True,
                "endpoint_public_access": bool(plan.public_cidrs),
                "public_access_cidrs": plan.public_cidrs or None,
            },
            access_config={
                "authentication_mode": "API",
                "bootstrap_cluster_creator_admin_permissions": False,
            },
            encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            # STANDARD: at the end of standard support EKS upgrades the pinned version rather than billing
            # extended support (six times the control-plane price) without anyone deciding to.
            upgrade_policy={"support_type": "STANDARD"},
            tags=name_tagged(tags, f"{name}-cluster"),
            # EKS needs its role's policy while it creates (and deletes) the cluster's ENIs and groups.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, cluster_policy]),
        )
        # Joined with the id so a preview shows the group as unknown, not as a nested field still unset.
        cluster_security_group_id = pulumi.Output.all(cluster.id, cluster.vpc_config).apply(
            lambda values: _cluster_security_group(values[1])
        )
        issuer_url = cluster.identities.apply(_issuer_url)
        oidc_provider = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            tags=name_tagged(tags, f"{name}-oidc"),
            opts=child,
        )

        # Access: entries only; the creator is not admin.
        admin_grants: list[pulumi.Resource] = []
        for index, principal in enumerate(args.get("admin_role_arns", ())):
            entry = aws.eks.AccessEntry(
                f"{name}-admin-{index}",
                cluster_name=cluster.name,
                principal_arn=principal,
                type="STANDARD",
                tags=name_tagged(tags, f"{name}-admin-{index}"),
                opts=child,
            )
            admin_grants.append(
                aws.eks.AccessPolicyAssociation(
                    f"{name}-admin-{index}-policy",
                    cluster_name=cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=partition.apply(
                        lambda p: f"arn:{p}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
                    ),
                    access_scope={"type": "cluster"},
                    opts=child,
                )
            )
        # The private endpoint admits only the cluster security group; this group is the door for API
        # clients inside the VPC (CI runners, bastions), which otherwise could not deploy the add-ons.
        api_clients = aws.ec2.SecurityGroup(
            f"{name}-api-clients-sg",
            vpc_id=args["vpc_id"],
            description=f"Clients of the private Kubernetes API of {name}",
            egress=[
                {
                    "description": "HTTPS to the Kubernetes API",
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "security_groups": [cluster_security_group_id],
                }
            ],
            tags=name_tagged(tags, f"{name}-api-clients-sg"),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-api-clients-ingress",
            security_group_id=cluster_security_group_id,
            referenced_security_group_id=api_clients.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            description="HTTPS from API clients",
            tags=name_tagged(tags, f"{name}-api-clients-ingress"),
            opts=child,
        )

        # Managed node groups: the system pool, extra CPU pools, and GPU pools Karpenter does not scale.
        node_role = aws.iam.Role(
            f"{name}-node-role",
            description=f"Managed node groups of EKS cluster {name}",
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            tags=name_tagged(tags, f"{name}-node-role"),
            opts=child,
        )
        node_policies: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-{policy}", role=node_role.name, policy_arn=managed_policy(policy), opts=child
            )
            for policy in NODE_POLICIES
        ]

        def node_group(pool: ResolvedPool, min_nodes: int, max_nodes: int) -> aws.eks.NodeGroup:
            template = aws.ec2.LaunchTemplate(
                f"{name}-{pool.name}-lt",
                description=f"Nodes of pool {pool.name} of EKS cluster {name}",
                update_default_version=True,
                metadata_options={
                    "http_endpoint": "enabled",
                    "http_tokens": "required",
                    "http_put_response_hop_limit": 1,
                },
                block_device_mappings=[
                    {
                        "device_name": "/dev/xvda",
                        "ebs": {
                            "volume_size": pool.disk_size_gb,
                            "volume_type": "gp3",
                            "encrypted": "true",
                            "delete_on_termination": "true",
                        },
                    }
                ],
                tag_specifications=[
                    {"resource_type": kind, "tags": name_tagged(tags, f"{name}-{pool.name}")}
                    for kind in ("instance", "volume", "network-interface")
                ],
                tags=name_tagged(tags, f"{name}-{pool.name}-lt"),
                opts=child,
            )
            return aws.eks.NodeGroup(
                f"{name}-{pool.name}-ng",
                cluster_name=cluster.name,
                node_role_arn=node_role.arn,
                subnet_ids=subnet_ids,
                version=version,
                instance_types=[pool.instance_type],
                ami_type=ami_type(pool),
                capacity_type="SPOT" if pool.spot else "ON_DEMAND",
                scaling_config={"min_size": min_nodes, "max_size": max_nodes, "desired_size": min_nodes},
                labels=dict(pool.labels),
                taints=[
                    {
                        "key": t["key"],
                        "value": t["value"],
                        "effect": _EKS_TAINT_EFFECTS[TaintEffect(t["effect"])],
                    }
                    for t in pool.taints
                ],
                launch_template={"id": template.id, "version": template.latest_version.apply(str)},
                node_repair_config={"enabled": True},
                update_config={"max_unavailable": 1},
                tags=name_tagged(tags, f"{name}-{pool.name}-ng"),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=node_policies,
                    # Whatever scales the group (people, tools) owns the current size; Pulumi owns the bounds.
                    ignore_changes=["scalingConfig.desiredSize"],
                ),
            )

        system_group = node_group(system_pool, system_pool.min_nodes, system_pool.max_nodes)
        for pool in pools:
            if not pool.is_gpu or not karpenter:
                node_group(pool, pool.min_nodes, pool.max_nodes)
            elif pool.min_nodes > 0:
                # Karpenter has no minimum: a managed group holds the always-on nodes, Karpenter the rest.
                node_group(pool, pool.min_nodes, pool.min_nodes)

        # The EKS node monitoring agent reports GPU (XID) and other hardware faults that node auto repair,
        # managed and Karpenter alike, acts on.
        aws.eks.Addon(
            f"{name}-node-monitoring-agent",
            cluster_name=cluster.name,
            addon_name="eks-node-monitoring-agent",
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=name_tagged(tags, f"{name}-node-monitoring-agent"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[system_group]),
        )

        kubeconfig_text: pulumi.Output[str] = pulumi.Output.secret(
            pulumi.Output.json_dumps(
                kubeconfig(
                    cluster.name,
                    cluster.endpoint,
                    cluster.certificate_authority.apply(lambda ca: ca.data or ""),
                    region,
                )
            )
        )
        # Everything on this provider waits for nodes to run on and for the admins' access.
        k8s_provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=kubeconfig_text,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[system_group, *admin_grants]),
        )

        if karpenter:
            karpenter_node_role = aws.iam.Role(
                f"{name}-karpenter-node-role",
                description=f"Nodes Karpenter launches for EKS cluster {name}",
                assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
                tags=name_tagged(tags, f"{name}-karpenter-node-role"),
                opts=child,
            )
            for policy in NODE_POLICIES:
                aws.iam.RolePolicyAttachment(
                    f"{name}-karpenter-node-{policy}",
                    role=karpenter_node_role.name,
                    policy_arn=managed_policy(policy),
                    opts=child,
                )
            # Managed node groups create their role's entry themselves; Karpenter's nodes need one made.
            aws.eks.AccessEntry(
                f"{name}-karpenter-node-access",
                cluster_name=cluster.name,
                principal_arn=karpenter_node_role.arn,
                type="EC2_LINUX",
                tags=name_tagged(tags, f"{name}-karpenter-node-access"),
                opts=child,
            )
            queue = aws.sqs.Queue(
                f"{name}-interruption-queue",
                message_retention_seconds=300,
                sqs_managed_sse_enabled=True,
                tags=name_tagged(tags, f"{name}-interruption-queue"),
                opts=child,
            )
            aws.sqs.QueuePolicy(
                f"{name}-interruption-queue-policy",
                queue_url=queue.url,
                policy=pulumi.Output.all(queue.arn, account_id).apply(
                    lambda values: interruption_queue_policy(values[0], values[1])
                ),
                opts=child,
            )
            for event, (source, detail_type) in INTERRUPTION_EVENTS.items():
                rule = aws.cloudwatch.EventRule(
                    f"{name}-{event}-rule",
                    description=f"{detail_type} events for Karpenter of {name}",
                    event_pattern=interruption_event_pattern(source, detail_type),
                    tags=name_tagged(tags, f"{name}-{event}-rule"),
                    opts=child,
                )
                aws.cloudwatch.EventTarget(
                    f"{name}-{event}-target",
                    rule=rule.name,
                    arn=queue.arn,
                    target_id="KarpenterInterruptionQueueTarget",
                    opts=child,
                )
            controller = AwsWorkloadIdentity(
                f"{name}-karpenter-irsa",
                {
                    "namespace": KARPENTER_NAMESPACE,
                    "service_account": KARPENTER_SERVICE_ACCOUNT,
                    "oidc_provider_arn": oidc_provider.arn,
                    "oidc_issuer_url": issuer_url,
                    "policy_documents": {
                        "KarpenterController": pulumi.Output.all(
                            partition, region, account_id, karpenter_node_role.arn, queue.arn
                        ).apply(lambda v: karpenter_controller_policy(v[0], v[1], v[2], name, v[3], v[4]))
                    },
                    # The controller watches and writes Kubernetes objects: it needs its API token.
                    "automount_service_account_token": True,
                    "tags": tags or {},
                },
                opts=pulumi.ResourceOptions(parent=self, providers=[k8s_provider]),
            )
            release = k8s.helm.v3.Release(
                f"{name}-karpenter",
                name="karpenter",
                chart=KARPENTER_CHART["chart"],
                version=KARPENTER_CHART["version"],
                namespace=KARPENTER_NAMESPACE,
                # Two replicas need two system nodes (the chart spreads them across hosts).
                values=karpenter_values(name, queue.name, min(2, system_pool.min_nodes)),
                atomic=True,
                cleanup_on_fail=True,
                timeout=900,
                opts=pulumi.ResourceOptions(parent=self, provider=k8s_provider, depends_on=[controller]),
            )
            subnet_terms = pulumi.Output.from_input(subnet_ids).apply(_subnet_terms)
            for pool in gpu_pools:
                burst_nodes = pool.max_nodes - pool.min_nodes
                if burst_nodes == 0:
                    continue
                node_class = karpenter_node_class(
                    pool, karpenter_node_role.name, subnet_terms, cluster_security_group_id, tags or {}
                )
                node_class_resource = k8s.apiextensions.CustomResource(
                    f"{name}-{pool.name}-nodeclass",
                    api_version=node_class["apiVersion"],
                    kind=node_class["kind"],
                    metadata=node_class["metadata"],
                    spec=node_class["spec"],
                    opts=pulumi.ResourceOptions(parent=self, provider=k8s_provider, depends_on=[release]),
                )
                node_pool = karpenter_node_pool(pool, burst_nodes)
                k8s.apiextensions.CustomResource(
                    f"{name}-{pool.name}-nodepool",
                    api_version=node_pool["apiVersion"],
                    kind=node_pool["kind"],
                    metadata=node_pool["metadata"],
                    spec=node_pool["spec"],
                    opts=pulumi.ResourceOptions(
                        parent=self, provider=k8s_provider, depends_on=[release, node_class_resource]
                    ),
                )

        ClusterAddons(
            f"{name}-addons",
            {"flavor": ClusterFlavor.EKS, "cluster_name": cluster.name, "addons": args.get("addons", {})},
            opts=pulumi.ResourceOptions(parent=self, providers=[k8s_provider]),
        )

        self.cluster_name = cluster.name
        self.endpoint = cluster.endpoint
        self.oidc_issuer_url = issuer_url
        self.kubeconfig = kubeconfig_text
        self.gpu_pool_names = pulumi.Output.from_input([pool.name for pool in gpu_pools])
        self.node_identity = node_role.arn
        self.oidc_provider_arn = oidc_provider.arn
        self.kubernetes_provider = k8s_provider
        self.api_client_security_group_id = api_clients.id
        self.node_security_group_id = cluster_security_group_id
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "endpoint": self.endpoint,
                "oidc_issuer_url": self.oidc_issuer_url,
                "kubeconfig": self.kubeconfig,
                "gpu_pool_names": self.gpu_pool_names,
                "node_identity": self.node_identity,
            }
        )
