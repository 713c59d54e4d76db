"""Behaviour of GcpNetwork: its range validation, and what it registers under the offline engine's mocks."""

from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol, cast

import pulumi
import pulumi_gcp as gcp
import pytest

from components.network.gcp_network import (
    DENY_INGRESS_PRIORITY,
    TYPE_TOKEN,
    GcpNetwork,
    GcpNetworkArgs,
    validate_ranges,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

NAME = "net"
PROJECT = "mlops-hub-test"
REGION = "europe-west4"
NODES, PODS, SERVICES = "10.50.0.0/20", "10.52.0.0/14", "10.56.0.0/20"
DEFAULT_LABELS = {
    "environment": "test",
    "team": "ml-platform",
    "cost-center": "cc-42",
    "managed-by": "pulumi",
}

STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:gcp"
NETWORK = "gcp:compute/network:Network"
SUBNETWORK = "gcp:compute/subnetwork:Subnetwork"
ROUTER = "gcp:compute/router:Router"
NAT = "gcp:compute/routerNat:RouterNat"
FIREWALL = "gcp:compute/firewall:Firewall"
EXPECTED_COUNTS = {NETWORK: 1, SUBNETWORK: 1, ROUTER: 1, NAT: 1, FIREWALL: 1}

# tags_of imports pulumi_gcp's compute module whole, which warns about its own deprecated aliases.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulumi_gcp.*")


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
    """A program body: an explicit europe-west4 provider with default labels, and one network per name."""

    def body() -> None:
        provider = gcp.Provider("p", project=PROJECT, region=REGION, default_labels=DEFAULT_LABELS)
        for name in names or (NAME,):
            args = cast(
                GcpNetworkArgs,
                {
                    "region": REGION,
                    "nodes_cidr": NODES,
                    "pods_cidr": PODS,
                    "services_cidr": SERVICES,
                    **overrides,
                },
            )
            GcpNetwork(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def network(pulumi_run: Recorder) -> Recorder:
    """A recorded run of the default network `net`."""
    pulumi_run.run(network_program())
    return pulumi_run


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def children(recorder: Recorder, name: str = NAME) -> list[RecordedResource]:
    return recorder.children_of(component(recorder, name))


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    """Logical names of the resources property `prop` depends on, sorted."""
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


# Range validation, no mocks.


@pytest.mark.parametrize(
    ("nodes", "pods", "services"),
    [
        (NODES, PODS, SERVICES),
        ("10.0.0.0/24", "10.4.0.0/16", "10.8.0.0/22"),
        ("192.168.0.0/29", "10.0.0.0/8", "172.16.0.0/16"),
    ],
)
def test_disjoint_ranges_are_accepted(nodes: str, pods: str, services: str) -> None:
    validate_ranges(nodes, pods, services)


@pytest.mark.parametrize(
    ("nodes", "pods", "services", "message"),
    [
        ("nope", PODS, SERVICES, "nodes_cidr 'nope' is not an IPv4 network"),
        ("10.50.0.1/20", PODS, SERVICES, "nodes_cidr '10.50.0.1/20' is not an IPv4 network"),
        ("fd00::/64", PODS, SERVICES, "nodes_cidr 'fd00::/64' is not an IPv4 network"),
        ("10.50.0.0/30", PODS, SERVICES, "nodes_cidr 10.50.0.0/30 must be a /8 to /29"),
        (NODES, "10.0.0.0/7", SERVICES, "pods_cidr 10.0.0.0/7 must be a /8 to /29"),
        (NODES, "10.48.0.0/12", SERVICES, "nodes_cidr 10.50.0.0/20 overlaps pods_cidr 10.48.0.0/12"),
        (NODES, PODS, "10.50.8.0/24", "nodes_cidr 10.50.0.0/20 overlaps services_cidr 10.50.8.0/24"),
        (NODES, PODS, "10.53.0.0/20", "pods_cidr 10.52.0.0/14 overlaps services_cidr 10.53.0.0/20"),
    ],
)
def test_bad_ranges_are_rejected(nodes: str, pods: str, services: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^GcpNetwork x: ") as raised:
        validate_ranges(nodes, pods, services, "GcpNetwork x")
    assert message in str(raised.value)


# What the component registers (preview, offline mocks).


def test_resource_counts(network: Recorder) -> None:
    assert Counter(r.type for r in children(network)) == EXPECTED_COUNTS


def test_parenting_providers_and_names(network: Recorder) -> None:
    provider = network.one(PROVIDER)
    others = [r for r in network.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert component(network).type == TYPE_TOKEN == "mlopshub:index:GcpNetwork"
    assert children(network) == others
    assert all(r.provider == provider.urn for r in others)
    assert sorted(r.name for r in others) == [
        f"{NAME}-{role}" for role in ("deny-ingress", "nat", "router", "subnet", "vpc")
    ]


def test_vpc_is_custom_mode_with_regional_routing(network: Recorder) -> None:
    assert network.one(NETWORK).inputs == {
        "description": f"GPU cluster network {NAME}",
        "autoCreateSubnetworks": False,
        "routingMode": "REGIONAL",
    }


def test_subnetwork_ranges_google_access_and_flow_logs(network: Recorder) -> None:
    subnetwork = network.one(SUBNETWORK)

    assert subnetwork.inputs == {
        "description": f"Nodes, pods and services of {NAME}",
        "network": "[unknown]",
        "region": REGION,
        "ipCidrRange": NODES,
        "secondaryIpRanges": [
            {"rangeName": "pods", "ipCidrRange": PODS},
            {"rangeName": "services", "ipCidrRange": SERVICES},
        ],
        "stackType": "IPV4_ONLY",
        "privateIpGoogleAccess": True,
        "logConfig": {
            "aggregationInterval": "INTERVAL_5_SEC",
            "flowSampling": 0.5,
            "metadata": "INCLUDE_ALL_METADATA",
        },
    }
    assert depends_on(subnetwork, "network") == [f"{NAME}-vpc"]


def test_cloud_nat_covers_all_subnets_and_logs_errors(network: Recorder) -> None:
    router = network.one(ROUTER)
    nat = network.one(NAT)

    assert router.inputs == {
        "description": f"Cloud NAT router of {NAME}",
        "network": "[unknown]",
        "region": REGION,
    }
    assert depends_on(router, "network") == [f"{NAME}-vpc"]
    assert nat.inputs == {
        "router": "[unknown]",
        "region": REGION,
        "natIpAllocateOption": "AUTO_ONLY",
        "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES",
        "logConfig": {"enable": True, "filter": "ERRORS_ONLY"},
    }
    assert depends_on(nat, "router") == [f"{NAME}-router"]


def test_ingress_from_anywhere_is_denied_at_low_priority(network: Recorder) -> None:
    firewall = network.one(FIREWALL)

    assert firewall.inputs == {
        "description": f"Deny all ingress from anywhere into {NAME} unless a higher-priority rule allows it",
        "network": "[unknown]",
        "direction": "INGRESS",
        "priority": 65534,
        "sourceRanges": ["0.0.0.0/0"],
        "denies": [{"protocol": "all"}],
        "logConfig": {"metadata": "INCLUDE_ALL_METADATA"},
    }
    assert DENY_INGRESS_PRIORITY == 65534
    assert depends_on(firewall, "network") == [f"{NAME}-vpc"]
    # Nothing in the network allows ingress: GKE adds its own scoped rules at priority 1000.
    assert [f for f in network.of_type(FIREWALL) if "allows" in f.inputs] == []


def test_no_child_takes_labels(network: Recorder) -> None:
    # pulumi-gcp 10.2 gives networks, subnetworks, routers, NATs and firewalls no `labels`, so the
    # provider's default labels have nothing to attach to; the policy pack must not expect them here.
    assert {r.name: network.tags_of(r) for r in children(network)} == dict.fromkeys(
        (f"{NAME}-{role}" for role in ("vpc", "subnet", "router", "nat", "deny-ingress")), None
    )


def test_outputs(network: Recorder) -> None:
    assert component(network).outputs == {
        "network_id": "[unknown]",
        "network_name": "[unknown]",
        "subnetwork_id": "[unknown]",
        "subnetwork_name": "[unknown]",
        "pods_range_name": "pods",
        "services_range_name": "services",
    }


def test_two_networks_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(network_program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in children(pulumi_run, "a")}
    names_b = {r.name for r in children(pulumi_run, "b")}

    assert len(urns) == len(set(urns))
    assert len(names_a) == len(names_b) == sum(EXPECTED_COUNTS.values())
    assert names_a.isdisjoint(names_b)
    assert all(name.startswith("a-") for name in names_a)
    assert all(name.startswith("b-") for name in names_b)


@pytest.mark.parametrize(
    ("overrides", "bad_value"),
    [
        pytest.param({"nodes_cidr": "10.50.0.0"}, "nodes_cidr 10.50.0.0/32 must be", id="nodes-size"),
        pytest.param({"pods_cidr": "10.50.0.0/16"}, "overlaps pods_cidr 10.50.0.0/16", id="pods-overlap"),
        pytest.param(
            {"services_cidr": "10.52.4.0/22"}, "overlaps services_cidr 10.52.4.0/22", id="services-overlap"
        ),
        pytest.param({"services_cidr": "x"}, "services_cidr 'x'", id="services-invalid"),
    ],
)
def test_bad_ranges_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(network_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert str(failure.value.cause).startswith(f"GcpNetwork {NAME}: ")
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]


@pytest.mark.parametrize("bad_name", ["Net", "net-", "9net", "n" * 41])
def test_names_that_cannot_prefix_gcp_names_are_rejected(pulumi_run: Recorder, bad_name: str) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(network_program(bad_name))

    assert str(failure.value.cause).startswith(
        f"GcpNetwork {bad_name}: the name {bad_name!r} must be 1 to 40"
    )
    assert [r.type for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [TYPE_TOKEN]
