"""Azure: a resource group, the VNet with NAT egress, then a private AKS cluster."""

from pulumi_azure_native import resources

from components.compute.aks_gpu_cluster import AksGpuCluster, DeployerPrincipalType
from components.network.azure_network import AzureNetwork
from stacks.providers import azure_provider, provider_opts
from stacks.settings import AzureSettings, StackSettings


def azure_platform(settings: StackSettings, block: AzureSettings) -> AksGpuCluster:
    """Azure: a resource group, the VNet with NAT egress, then a private AKS cluster.

    azure-native has no provider default tags, so the stack tags are passed to every component.
    """
    opts = provider_opts(azure_provider(block))
    tags = settings.tags
    group = resources.ResourceGroup(
        f"{settings.environment}-rg", location=block.location, tags=tags, opts=opts
    )
    network = AzureNetwork(
        f"{settings.environment}-vnet",
        {
            "resource_group_name": group.name,
            "location": block.location,
            "address_space": str(block.address_space),
            "tags": tags,
        },
        opts=opts,
    )
    return AksGpuCluster(
        f"{settings.environment}-aks",
        {
            "resource_group_name": group.name,
            "location": block.location,
            "kubernetes_version": block.kubernetes_version,
            "nodes_subnet_id": network.nodes_subnet_id,
            "api_server_subnet_id": network.api_server_subnet_id,
            "node_pools": [pool.to_spec() for pool in block.node_pools],
            "authorized_cidrs": [str(cidr) for cidr in block.authorized_cidrs],
            "admin_group_object_ids": list(block.admin_group_object_ids),
            "addons": block.addons.to_spec(),
            "deployer_principal_type": DeployerPrincipalType(block.deployer_principal_type),
            "tags": tags,
        },
        opts=opts,
    )
