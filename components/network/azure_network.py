"""AzureNetwork: a private-by-default virtual network for AKS GPU clusters.

One VNet cut into three subnets: nodes (NAT gateway egress, NSG with no inbound from the Internet),
private endpoints (network policies on, so NSGs apply to them) and a small subnet delegated to AKS for
API Server VNet Integration (which a cluster needs to reach a Key Vault that has public access off).
No subnet has default outbound access: the nodes leave through the NAT gateway's static Standard IP,
which is what AKS's `userAssignedNATGateway` outbound type expects. Resource logs and metrics of the
VNet, NSGs, public IP and NAT gateway go to a Log Analytics workspace; VNet flow logs are added when
the caller names a storage account (they need the region's Network Watcher and a storage account,
neither of which a network component should create).

azure-native has no provider default tags, so every taggable child gets `tags` explicitly.
"""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pulumi
from pulumi_azure_native import monitor, network, operationalinsights

TYPE_TOKEN = "mlopshub:index:AzureNetwork"

AKS_POD_CIDR = "10.244.0.0/16"
"""Overlay pod range AksGpuCluster gives Azure CNI Overlay; must not overlap the VNet."""
AKS_SERVICE_CIDR = "10.96.0.0/16"
"""Kubernetes service range AksGpuCluster uses; must not overlap the VNet."""
AKS_DNS_SERVICE_IP = "10.96.0.10"
"""Cluster DNS address, inside AKS_SERVICE_CIDR."""

API_SERVER_DELEGATION = "Microsoft.ContainerService/managedClusters"
"""Service the API server subnet is delegated to (API Server VNet Integration)."""

LOG_RETENTION_DAYS = range(30, 731)
"""Interactive retention a PerGB2018 Log Analytics workspace accepts."""


class AzureFlowLogsArgs(TypedDict):
    """Where VNet flow logs go (they need a storage account and the region's Network Watcher)."""

    storage_account_id: pulumi.Input[str]
    """Storage account (same region) that receives the flow log blobs."""
    network_watcher_name: NotRequired[pulumi.Input[str]]
    """Network Watcher of the region (default `NetworkWatcher_<location>`, the one Azure creates)."""
    network_watcher_resource_group_name: NotRequired[pulumi.Input[str]]
    """Resource group of that Network Watcher (default `NetworkWatcherRG`)."""
    retention_days: NotRequired[int]
    """Days the blobs are kept, 1 to 365 (default 90)."""


class AzureNetworkArgs(TypedDict):
    """Arguments of AzureNetwork."""

    resource_group_name: pulumi.Input[str]
    """Resource group every child is created in (the program creates it)."""
    location: pulumi.Input[str]
    """Azure region, e.g. `westeurope`."""
    address_space: str
    """VNet IPv4 range, a private /16 to /22 (e.g. `10.40.0.0/16`). Plain: it decides the subnet layout."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags put on every taggable child (azure-native has no provider default tags)."""
    log_retention_days: NotRequired[int]
    """Days the Log Analytics workspace keeps network logs, 30 to 730 (default 365)."""
    flow_logs: NotRequired[AzureFlowLogsArgs]
    """VNet flow logs with traffic analytics; off unless given."""


@dataclass(frozen=True, slots=True)
class SubnetLayout:
    """The three subnets cut from the VNet range."""

    nodes: str
    """First half: AKS nodes (pods use the overlay range, so nodes need one address each)."""
    private_endpoints: str
    """Third quarter: private endpoints."""
    api_server: str
    """A /28 at the start of the last quarter, delegated to AKS for API Server VNet Integration."""


def subnet_layout(address_space: str, owner: str = "AzureNetwork") -> SubnetLayout:
    """Cut a VNet range into the nodes, private-endpoints and API server subnets.

    Raises:
        ValueError: the range is not a private IPv4 /16 to /22, or overlaps the ranges AKS uses for
            pods and services (AKS_POD_CIDR, AKS_SERVICE_CIDR).
    """
    try:
        space = ipaddress.IPv4Network(address_space)
    except ValueError as err:
        raise ValueError(f"{owner}: address_space {address_space!r} is not an IPv4 network ({err})") from None
    if not 16 <= space.prefixlen <= 22:
        raise ValueError(f"{owner}: address_space {address_space} must be a /16 to /22")
    if not space.is_private:
        raise ValueError(f"{owner}: address_space {address_space} is not a private (RFC 1918) range")
    for reserved, role in ((AKS_POD_CIDR, "pod"), (AKS_SERVICE_CIDR, "service")):
        if space.overlaps(ipaddress.IPv4Network(reserved)):
            raise ValueError(
                f"{owner}: address_space {address_space} overlaps {reserved}, the AKS {role} range; pick another"
            )
    nodes, rest = space.subnets(prefixlen_diff=1)
    private_endpoints, last = rest.subnets(prefixlen_diff=1)
    api_server = next(last.subnets(new_prefix=28))
    return SubnetLayout(str(nodes), str(private_endpoints), str(api_server))


_DENY_INTERNET_INBOUND: network.SecurityRuleArgsDict = {
    "name": "deny-internet-inbound",
    "description": "Nothing from the Internet reaches this subnet directly",
    "priority": 4096,
    "direction": "Inbound",
    "access": "Deny",
    "protocol": "*",
    "source_address_prefix": "Internet",
    "source_port_range": "*",
    "destination_address_prefix": "*",
    "destination_port_range": "*",
}
"""Spelled out although Azure's default rules already deny it, so policies and readers see it."""

_ALL_LOGS: list[monitor.DiagnosticsLogSettingsArgsDict] = [{"category_group": "allLogs", "enabled": True}]
_ALL_METRICS: list[monitor.DiagnosticsMetricSettingsArgsDict] = [{"category": "AllMetrics", "enabled": True}]


class AzureNetwork(pulumi.ComponentResource):
    """A VNet with nodes, private-endpoint and API server subnets, NAT egress, NSGs and diagnostics."""

    vnet_id: pulumi.Output[str]
    """The virtual network's resource id."""
    nodes_subnet_id: pulumi.Output[str]
    """Subnet for AKS nodes (NAT gateway egress, no inbound from the Internet)."""
    private_endpoints_subnet_id: pulumi.Output[str]
    """Subnet for private endpoints (network policies enabled)."""
    api_server_subnet_id: pulumi.Output[str]
    """/28 subnet delegated to AKS for API Server VNet Integration."""
    nat_gateway_id: pulumi.Output[str]
    """The NAT gateway all node egress leaves through."""
    log_analytics_workspace_id: pulumi.Output[str]
    """Workspace receiving the network's resource logs and metrics."""

    def __init__(self, name: str, args: AzureNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        owner = f"AzureNetwork {name}"
        layout = subnet_layout(args["address_space"], owner)
        retention = args.get("log_retention_days", 365)
        if retention not in LOG_RETENTION_DAYS:
            raise ValueError(f"{owner}: log_retention_days {retention} must be from 30 to 730")
        flow_logs = args.get("flow_logs")
        flow_log_days = flow_logs.get("retention_days", 90) if flow_logs is not None else 90
        if not 1 <= flow_log_days <= 365:
            raise ValueError(f"{owner}: flow_logs retention_days {flow_log_days} must be from 1 to 365")
        resource_group = args["resource_group_name"]
        location = args["location"]
        tags = args["tags"]
        child = pulumi.ResourceOptions(parent=self)

        workspace = operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=resource_group,
            location=location,
            sku={"name": "PerGB2018"},
            retention_in_days=retention,
            # Ingestion and queries through Entra ID only, never the workspace's shared keys.
            features={"disable_local_auth": True},
            tags=tags,
            opts=child,
        )

        vnet = network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=resource_group,
            location=location,
            address_space={"address_prefixes": [args["address_space"]]},
            tags=tags,
            opts=child,
        )
        nodes_nsg = network.NetworkSecurityGroup(
            f"{name}-nodes-nsg",
            resource_group_name=resource_group,
            location=location,
            security_rules=[_DENY_INTERNET_INBOUND],
            tags=tags,
            opts=child,
        )
        endpoints_nsg = network.NetworkSecurityGroup(
            f"{name}-endpoints-nsg",
            resource_group_name=resource_group,
            location=location,
            security_rules=[_DENY_INTERNET_INBOUND],
            tags=tags,
            opts=child,
        )
        egress_ip = network.PublicIPAddress(
            f"{name}-nat-ip",
            resource_group_name=resource_group,
            location=location,
            sku={"name": "Standard", "tier": "Regional"},
            public_ip_allocation_method="Static",
            public_ip_address_version="IPv4",
            tags=tags,
            opts=child,
        )
        nat = network.NatGateway(
            f"{name}-nat",
            resource_group_name=resource_group,
            location=location,
            sku={"name": "Standard"},
            public_ip_addresses=[{"id": egress_ip.id}],
            idle_timeout_in_minutes=4,
            tags=tags,
            opts=child,
        )

        # Subnets of one VNet are created one after another: Azure answers concurrent subnet writes on
        # the same VNet with AnotherOperationInProgress.
        nodes_subnet = network.Subnet(
            f"{name}-nodes",
            resource_group_name=resource_group,
            virtual_network_name=vnet.name,
            address_prefix=layout.nodes,
            network_security_group={"id": nodes_nsg.id},
            nat_gateway={"id": nat.id},
            default_outbound_access=False,
            opts=child,
        )
        endpoints_subnet = network.Subnet(
            f"{name}-private-endpoints",
            resource_group_name=resource_group,
            virtual_network_name=vnet.name,
            address_prefix=layout.private_endpoints,
            network_security_group={"id": endpoints_nsg.id},
            private_endpoint_network_policies="Enabled",
            default_outbound_access=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[nodes_subnet]),
        )
        # No NSG here: the subnet belongs to the AKS control plane, which manages its traffic.
        api_server_subnet = network.Subnet(
            f"{name}-apiserver",
            resource_group_name=resource_group,
            virtual_network_name=vnet.name,
            address_prefix=layout.api_server,
            delegations=[{"name": "aks-apiserver", "service_name": API_SERVER_DELEGATION}],
            default_outbound_access=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[endpoints_subnet]),
        )

        for role, target, logs in (
            ("vnet", vnet.id, True),
            ("nodes-nsg", nodes_nsg.id, True),
            ("endpoints-nsg", endpoints_nsg.id, True),
            ("nat-ip", egress_ip.id, True),
            # NAT gateways emit metrics only.
            ("nat", nat.id, False),
        ):
            monitor.DiagnosticSetting(
                f"{name}-{role}-diagnostics",
                resource_uri=target,
                workspace_id=workspace.id,
                logs=_ALL_LOGS if logs else None,
                metrics=_ALL_METRICS,
                opts=child,
            )

        if flow_logs is not None:
            watcher = flow_logs.get("network_watcher_name") or pulumi.Output.concat(
                "NetworkWatcher_", location
            )
            network.FlowLog(
                f"{name}-flow-log",
                network_watcher_name=watcher,
                resource_group_name=flow_logs.get("network_watcher_resource_group_name", "NetworkWatcherRG"),
                location=location,
                target_resource_id=vnet.id,
                storage_id=flow_logs["storage_account_id"],
                enabled=True,
                format={"type": "JSON", "version": 2},
                retention_policy={"enabled": True, "days": flow_log_days},
                flow_analytics_configuration={
                    "network_watcher_flow_analytics_configuration": {
                        "enabled": True,
                        "workspace_resource_id": workspace.id,
                        "workspace_id": workspace.customer_id,
                        "workspace_region": location,
                        "traffic_analytics_interval": 10,
                    }
                },
                tags=tags,
                opts=child,
            )

        self.vnet_id = vnet.id
        self.nodes_subnet_id = nodes_subnet.id
        self.private_endpoints_subnet_id = endpoints_subnet.id
        self.api_server_subnet_id = api_server_subnet.id
        self.nat_gateway_id = nat.id
        self.log_analytics_workspace_id = workspace.id
        self.register_outputs(
            {
                "vnet_id": self.vnet_id,
                "nodes_subnet_id": self.nodes_subnet_id,
                "private_endpoints_subnet_id": self.private_endpoints_subnet_id,
                "api_server_subnet_id": self.api_server_subnet_id,
                "nat_gateway_id": self.nat_gateway_id,
                "log_analytics_workspace_id": self.log_analytics_workspace_id,
            }
        )
