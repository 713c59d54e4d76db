"""Networks the clusters run in."""

from components.network.aws_network import AwsNetwork, AwsNetworkArgs, NatGatewayMode

__all__ = ["AwsNetwork", "AwsNetworkArgs", "NatGatewayMode"]
