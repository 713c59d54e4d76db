"""AWS: the VPC, then EKS with GPU pools that scale from zero."""

import pulumi

from components.compute.eks_gpu_cluster import EksGpuCluster
from components.network.aws_network import AwsNetwork
from stacks.outputs import StackOutput
from stacks.providers import aws_provider, provider_opts
from stacks.settings import AwsSettings, StackSettings


def aws_platform(settings: StackSettings, block: AwsSettings) -> EksGpuCluster:
    """AWS: the VPC, then EKS with GPU pools that scale from zero."""
    opts = provider_opts(aws_provider(block, settings.tags))
    network = AwsNetwork(
        f"{settings.environment}-network",
        {
            "cidr_block": str(block.vpc_cidr),
            "availability_zone_count": block.availability_zone_count,
            "nat_gateways": block.nat_gateways,
            "flow_log_retention_days": block.flow_log_retention_days,
        },
        opts=opts,
    )
    pulumi.export(StackOutput.AWS_REGION, block.region)
    pulumi.export(StackOutput.AWS_VPC_ID, network.vpc_id)
    pulumi.export(StackOutput.AWS_PRIVATE_SUBNET_IDS, network.private_subnet_ids)
    pulumi.export(StackOutput.AWS_PUBLIC_SUBNET_IDS, network.public_subnet_ids)
    pulumi.export(StackOutput.AWS_FLOW_LOG_GROUP, network.flow_log_group_name)
    if not block.admin_role_arns:
        pulumi.log.warn(
            "mlops-hub:aws.adminRoleArns is empty: no one can administer the EKS cluster, not even `pulumi up` "
            "installing its add-ons; add the deploying role with "
            "`pulumi config set --path 'mlops-hub:aws.adminRoleArns[0]' <role ARN>`"
        )
    return EksGpuCluster(
        f"{settings.environment}-gpu",
        {
            "kubernetes_version": block.kubernetes_version,
            "vpc_id": network.vpc_id,
            "private_subnet_ids": network.private_subnet_ids,
            "node_pools": [pool.to_spec() for pool in block.node_pools],
            "authorized_cidrs": [str(cidr) for cidr in block.authorized_cidrs],
            "admin_role_arns": list(block.admin_role_arns),
            "addons": block.addons.to_spec(),
            # Provider default tags do not reach the instances node groups and Karpenter launch.
            "tags": settings.tags,
        },
        opts=opts,
    )
