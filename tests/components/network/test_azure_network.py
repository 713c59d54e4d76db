"""Behaviour of AzureNetwork: its subnet layout, and what it registers under the offline engine's mocks."""

import ipaddress
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, cast

import pulumi
import pulumi_azure_native as azure_native
import pytest

from components.network.azure_network import (
    AKS_POD_CIDR,
    AKS_SERVICE_CIDR,
    API_SERVER_DELEGATION,
    TYPE_TOKEN,
    AzureNetwork,
    AzureNetworkArgs,
    subnet_layout,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

NAME = "net"
SPACE = "10.40.0.0/16"
LOCATION = "westeurope"
RESOURCE_GROUP = "rg-ml"
TAGS = {"environment": "test", "team": "ml", "cost-center": "cc-42", "managed-by": "pulumi"}
STORAGE_ID = "/subscriptions/0000/resourceGroups/rg-logs/providers/Microsoft.Storage/storageAccounts/flowlogs"

STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:azure-native"
SUBNET = "azure-native:network:Subnet"
NSG = "azure-native:network:NetworkSecurityGroup"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
FLOW_LOG = "azure-native:network:FlowLog"

EXPECTED_COUNTS = {
    "azure-native:operationalinsights:Workspace": 1,
    "azure-native:network:VirtualNetwork": 1,
    NSG: 2,
    "azure-native:network:PublicIPAddress": 1,
    "azure-native:network:NatGateway": 1,
    SUBNET: 3,
    DIAGNOSTICS: 5,
}
DENY_INTERNET_INBOUND = {
    "name": "deny-internet-inbound",
    "description": "Nothing from the Internet reaches this subnet directly",
    "priority": 4096,
    "direction": "Inbound",
    "access": "Deny",
    "protocol": "*",
    "sourceAddressPrefix": "Internet",
    "sourcePortRange": "*",
    "destinationAddressPrefix": "*",
    "destinationPortRange": "*",
}


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...
    def tags_of(self, resource: RecordedResource) -> dict[str, Any] | None: ...


def network_program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit westeurope provider and one network per name."""

    def body() -> None:
        provider = azure_native.Provider("p", location=LOCATION)
        for name in names or (NAME,):
            args = cast(
                AzureNetworkArgs,
                {
                    "resource_group_name": RESOURCE_GROUP,
                    "location": LOCATION,
                    "address_space": SPACE,
                    "tags": TAGS,
                    **overrides,
                },
            )
            AzureNetwork(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


_RECORDED: dict[str, Recorder] = {}
"""Runs shared by the tests that only read them: each run of the SDK costs a third of a second."""


@pytest.fixture
def network(pulumi_run: Recorder) -> Recorder:
    """A recorded run of the default network `net`."""
    if NAME not in _RECORDED:
        pulumi_run.run(network_program())
        _RECORDED[NAME] = pulumi_run
    return _RECORDED[NAME]


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def children(recorder: Recorder, name: str = NAME) -> list[RecordedResource]:
    return recorder.children_of(component(recorder, name))


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    """Logical names of the resources property `prop` depends on, sorted."""
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def dependency_names(resource: RecordedResource) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.dependencies)


# Pure helpers, no mocks.


def test_layout_of_a_16() -> None:
    layout = subnet_layout(SPACE)

    assert (layout.nodes, layout.private_endpoints, layout.api_server) == (
        "10.40.0.0/17",
        "10.40.128.0/18",
        "10.40.192.0/28",
    )


@pytest.mark.parametrize("space", ["10.40.0.0/16", "172.16.0.0/20", "192.168.8.0/22"])
def test_subnets_are_disjoint_and_inside_the_vnet(space: str) -> None:
    layout = subnet_layout(space)
    vnet = ipaddress.IPv4Network(space)
    blocks = [ipaddress.IPv4Network(b) for b in (layout.nodes, layout.private_endpoints, layout.api_server)]

    assert all(block.subnet_of(vnet) for block in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    # API Server VNet Integration needs at least a /28.
    assert blocks[2].prefixlen == 28


@pytest.mark.parametrize(
    ("space", "bad_value"),
    [
        ("10.0.0.0/8", "10.0.0.0/8 must be a /16"),
        ("10.40.0.0/24", "10.40.0.0/24 must be a /16"),
        ("nope", "'nope' is not an IPv4 network"),
        ("10.40.0.1/16", "'10.40.0.1/16' is not an IPv4 network"),
        ("20.40.0.0/16", "20.40.0.0/16 is not a private"),
        (AKS_POD_CIDR, f"overlaps {AKS_POD_CIDR}, the AKS pod range"),
        ("10.96.0.0/20", f"overlaps {AKS_SERVICE_CIDR}, the AKS service range"),
    ],
)
def test_subnet_layout_rejects_bad_ranges(space: str, bad_value: str) -> None:
    with pytest.raises(ValueError, match=r"^AzureNetwork: address_space") as raised:
        subnet_layout(space)
    assert bad_value in str(raised.value)


# What the component registers (preview, offline mocks).


def test_resource_counts(network: Recorder) -> None:
    assert Counter(r.type for r in children(network)) == EXPECTED_COUNTS


def test_vnet_and_workspace(network: Recorder) -> None:
    vnet = network.named(f"{NAME}-vnet")
    workspace = network.named(f"{NAME}-logs")

    assert vnet.inputs == {
        "resourceGroupName": RESOURCE_GROUP,
        "location": LOCATION,
        "addressSpace": {"addressPrefixes": [SPACE]},
        "tags": TAGS,
        # The SDK's defaults, spelled out by it.
        "enableDdosProtection": False,
        "enableVmProtection": False,
    }
    assert workspace.inputs == {
        "resourceGroupName": RESOURCE_GROUP,
        "location": LOCATION,
        "sku": {"name": "PerGB2018"},
        "retentionInDays": 365,
        "features": {"disableLocalAuth": True},
        "tags": TAGS,
    }


def test_nodes_subnet_egresses_through_nat_and_has_no_default_outbound(network: Recorder) -> None:
    nodes = network.named(f"{NAME}-nodes")

    assert nodes.inputs == {
        "resourceGroupName": RESOURCE_GROUP,
        "virtualNetworkName": "[unknown]",
        "addressPrefix": "10.40.0.0/17",
        "networkSecurityGroup": {"id": "[unknown]"},
        "natGateway": {"id": "[unknown]"},
        "defaultOutboundAccess": False,
        # The SDK's defaults, spelled out by it.
        "privateEndpointNetworkPolicies": "Disabled",
        "privateLinkServiceNetworkPolicies": "Enabled",
    }
    assert depends_on(nodes, "natGateway") == [f"{NAME}-nat"]
    assert depends_on(nodes, "networkSecurityGroup") == [f"{NAME}-nodes-nsg"]
    assert depends_on(nodes, "virtualNetworkName") == [f"{NAME}-vnet"]


def test_private_endpoints_subnet_applies_network_policies(network: Recorder) -> None:
    endpoints = network.named(f"{NAME}-private-endpoints")

    assert endpoints.inputs["addressPrefix"] == "10.40.128.0/18"
    assert endpoints.inputs["privateEndpointNetworkPolicies"] == "Enabled"
    assert endpoints.inputs["defaultOutboundAccess"] is False
    assert "natGateway" not in endpoints.inputs
    assert depends_on(endpoints, "networkSecurityGroup") == [f"{NAME}-endpoints-nsg"]


def test_api_server_subnet_is_delegated_to_aks(network: Recorder) -> None:
    api_server = network.named(f"{NAME}-apiserver")

    assert api_server.inputs["addressPrefix"] == "10.40.192.0/28"
    assert api_server.inputs["delegations"] == [
        {"name": "aks-apiserver", "serviceName": API_SERVER_DELEGATION}
    ]
    assert api_server.inputs["defaultOutboundAccess"] is False
    assert "networkSecurityGroup" not in api_server.inputs


def test_subnets_are_created_one_after_another(network: Recorder) -> None:
    assert f"{NAME}-nodes" in dependency_names(network.named(f"{NAME}-private-endpoints"))
    assert f"{NAME}-private-endpoints" in dependency_names(network.named(f"{NAME}-apiserver"))


@pytest.mark.parametrize("role", ["nodes-nsg", "endpoints-nsg"])
def test_security_groups_deny_inbound_from_the_internet(network: Recorder, role: str) -> None:
    group = network.named(f"{NAME}-{role}")

    assert group.inputs == {
        "resourceGroupName": RESOURCE_GROUP,
        "location": LOCATION,
        "securityRules": [DENY_INTERNET_INBOUND],
        "tags": TAGS,
    }
    assert not any(
        rule["access"] == "Allow" and rule["direction"] == "Inbound" for rule in group.inputs["securityRules"]
    )


def test_nat_gateway_with_a_static_standard_ip(network: Recorder) -> None:
    address = network.named(f"{NAME}-nat-ip")
    nat = network.named(f"{NAME}-nat")

    assert address.inputs == {
        "resourceGroupName": RESOURCE_GROUP,
        "location": LOCATION,
        "sku": {"name": "Standard", "tier": "Regional"},
        "publicIPAllocationMethod": "Static",
        "publicIPAddressVersion": "IPv4",
        "tags": TAGS,
    }
    assert nat.inputs == {
        "resourceGroupName": RESOURCE_GROUP,
        "location": LOCATION,
        "sku": {"name": "Standard"},
        "publicIpAddresses": [{"id": "[unknown]"}],
        "idleTimeoutInMinutes": 4,
        "tags": TAGS,
    }
    assert depends_on(nat, "publicIpAddresses") == [f"{NAME}-nat-ip"]


def test_diagnostics_of_every_network_resource_go_to_the_workspace(network: Recorder) -> None:
    settings = {r.name: r for r in network.of_type(DIAGNOSTICS)}
    with_logs = {"vnet", "nodes-nsg", "endpoints-nsg", "nat-ip"}

    assert set(settings) == {f"{NAME}-{role}-diagnostics" for role in (*with_logs, "nat")}
    for name, setting in settings.items():
        role = name.removeprefix(f"{NAME}-").removesuffix("-diagnostics")
        assert depends_on(setting, "resourceUri") == [f"{NAME}-{role}"]
        assert depends_on(setting, "workspaceId") == [f"{NAME}-logs"]
        assert setting.inputs["metrics"] == [{"category": "AllMetrics", "enabled": True}]
        expected_logs = [{"categoryGroup": "allLogs", "enabled": True}] if role in with_logs else None
        assert setting.inputs.get("logs") == expected_logs


def test_no_flow_logs_unless_asked(network: Recorder) -> None:
    assert network.of_type(FLOW_LOG) == []


def test_flow_logs_to_the_given_storage_with_traffic_analytics(pulumi_run: Recorder) -> None:
    pulumi_run.run(network_program(flow_logs={"storage_account_id": STORAGE_ID}))
    flow_log = pulumi_run.one(FLOW_LOG)

    assert flow_log.inputs == {
        "networkWatcherName": f"NetworkWatcher_{LOCATION}",
        "resourceGroupName": "NetworkWatcherRG",
        "location": LOCATION,
        "targetResourceId": "[unknown]",
        "storageId": STORAGE_ID,
        "enabled": True,
        "format": {"type": "JSON", "version": 2},
        "retentionPolicy": {"enabled": True, "days": 90},
        "flowAnalyticsConfiguration": {
            "networkWatcherFlowAnalyticsConfiguration": {
                "enabled": True,
                "workspaceResourceId": "[unknown]",
                "workspaceId": "[unknown]",
                "workspaceRegion": LOCATION,
                "trafficAnalyticsInterval": 10,
            }
        },
        "tags": TAGS,
    }
    assert depends_on(flow_log, "targetResourceId") == [f"{NAME}-vnet"]
    assert flow_log.parent == component(pulumi_run).urn
    assert pulumi_run.tags_of(flow_log) == TAGS


def test_flow_logs_with_a_named_watcher(pulumi_run: Recorder) -> None:
    pulumi_run.run(
        network_program(
            flow_logs={
                "storage_account_id": STORAGE_ID,
                "network_watcher_name": "watcher",
                "network_watcher_resource_group_name": "rg-watchers",
                "retention_days": 30,
            }
        )
    )
    flow_log = pulumi_run.one(FLOW_LOG)

    assert (flow_log.inputs["networkWatcherName"], flow_log.inputs["resourceGroupName"]) == (
        "watcher",
        "rg-watchers",
    )
    assert flow_log.inputs["retentionPolicy"] == {"enabled": True, "days": 30}


def test_log_retention_is_passed_through(pulumi_run: Recorder) -> None:
    pulumi_run.run(network_program(log_retention_days=730))

    assert pulumi_run.named(f"{NAME}-logs").inputs["retentionInDays"] == 730


def test_parenting_providers_and_names(network: Recorder) -> None:
    provider = network.one(PROVIDER)
    others = [r for r in network.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert component(network).type == TYPE_TOKEN == "mlopshub:index:AzureNetwork"
    assert children(network) == others
    assert all(r.provider == provider.urn for r in others)
    assert all(r.name.startswith(f"{NAME}-") for r in others)


def test_every_taggable_child_carries_the_tags(network: Recorder) -> None:
    tags = {r.name: network.tags_of(r) for r in children(network)}

    # Subnets and diagnostic settings take no tags in Azure; everything else carries exactly the caller's.
    assert {name for name, found in tags.items() if found is None} == {
        f"{NAME}-nodes",
        f"{NAME}-private-endpoints",
        f"{NAME}-apiserver",
        *(f"{NAME}-{role}-diagnostics" for role in ("vnet", "nodes-nsg", "endpoints-nsg", "nat-ip", "nat")),
    }
    assert all(found == TAGS for found in tags.values() if found is not None)


def test_outputs(network: Recorder) -> None:
    outputs = component(network).outputs

    # Ids are assigned by Azure, so a preview cannot know them.
    assert outputs == dict.fromkeys(
        (
            "vnet_id",
            "nodes_subnet_id",
            "private_endpoints_subnet_id",
            "api_server_subnet_id",
            "nat_gateway_id",
            "log_analytics_workspace_id",
        ),
        "[unknown]",
    )


def test_two_networks_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(network_program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in children(pulumi_run, "a")}
    names_b = {r.name for r in children(pulumi_run, "b")}

    assert len(urns) == len(set(urns))
    assert len(names_a) == len(names_b) == sum(EXPECTED_COUNTS.values())
    assert {n.removeprefix("a-") for n in names_a} == {n.removeprefix("b-") for n in names_b}
    assert all(name.startswith("a-") for name in names_a)


BAD_ARGS = [
    pytest.param({"address_space": "10.0.0.0/8"}, "address_space 10.0.0.0/8", id="too-big"),
    pytest.param({"address_space": "8.8.0.0/16"}, "not a private", id="public-range"),
    pytest.param({"address_space": "10.244.0.0/16"}, "overlaps 10.244.0.0/16", id="pod-range"),
    pytest.param({"log_retention_days": 7}, "log_retention_days 7", id="retention"),
    pytest.param(
        {"flow_logs": {"storage_account_id": STORAGE_ID, "retention_days": 400}},
        "flow_logs retention_days 400",
        id="flow-log-retention",
    ),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(network_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert str(failure.value.cause).startswith(f"AzureNetwork {NAME}: ")
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]
