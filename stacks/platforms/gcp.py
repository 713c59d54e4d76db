"""GCP: the VPC with pod and service ranges and Cloud NAT, then a regional private GKE cluster."""

from components.compute.gke_gpu_cluster import GkeGpuCluster
from components.network.gcp_network import GcpNetwork
from stacks.providers import gcp_provider, provider_opts
from stacks.settings import GcpSettings, StackSettings


def gcp_platform(settings: StackSettings, block: GcpSettings) -> GkeGpuCluster:
    """GCP: the VPC with pod and service ranges and Cloud NAT, then a regional private GKE cluster."""
    opts = provider_opts(gcp_provider(block, settings.tags))
    network = GcpNetwork(
        f"{settings.environment}-net",
        {
            "region": block.region,
            "nodes_cidr": str(block.nodes_cidr),
            "pods_cidr": str(block.pods_cidr),
            "services_cidr": str(block.services_cidr),
        },
        opts=opts,
    )
    return GkeGpuCluster(
        f"{settings.environment}-gke",
        {
            "project": block.project,
            "location": block.region,
            "kubernetes_version": block.kubernetes_version,
            "network": network.network_id,
            "subnetwork": network.subnetwork_id,
            "pods_range_name": network.pods_range_name,
            "services_range_name": network.services_range_name,
            "node_pools": [pool.to_spec() for pool in block.node_pools],
            "authorized_cidrs": [str(cidr) for cidr in block.authorized_cidrs],
            "addons": block.addons.to_spec(),
            "labels": settings.tags,
        },
        opts=opts,
    )
