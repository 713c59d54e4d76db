"""Networks the clusters run in: one per cloud."""

from components.network.aws_network import AwsNetwork, AwsNetworkArgs, NatGatewayMode
from components.network.gcp_network import GcpNetwork, GcpNetworkArgs

__all__ = ["AwsNetwork", "AwsNetworkArgs", "GcpNetwork", "GcpNetworkArgs", "NatGatewayMode"]
