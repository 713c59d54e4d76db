"""GcpNetwork: a private-by-default VPC for GKE GPU clusters.

One custom-mode VPC with regional routing, one subnetwork in the cluster's region carrying the node range
and two secondary ranges (pods, services) for a VPC-native cluster, Private Google Access so nodes without
external addresses reach Google APIs and Artifact Registry, sampled VPC flow logs, Cloud NAT for egress,
and an explicit low-priority rule denying ingress from anywhere.
"""

import ipaddress
import re
from typing import TypedDict

import pulumi
import pulumi_gcp as gcp

TYPE_TOKEN = "mlopshub:index:GcpNetwork"

PODS_RANGE_NAME = "pods"
"""Name of the subnetwork's secondary range for pod addresses."""
SERVICES_RANGE_NAME = "services"
"""Name of the subnetwork's secondary range for Service (ClusterIP) addresses."""

DENY_INGRESS_PRIORITY = 65534
"""Just above GCP's implied deny (65535), below every rule GKE creates for itself (1000)."""
FLOW_LOG_SAMPLING = 0.5
"""Share of flows reported; GCP's default, half the log volume of full sampling."""

# Children are autonamed `<name>-<role>-<7 random>`; GCP names are lowercase RFC 1035, 63 characters at most.
_NAME = re.compile(r"^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$")
_LARGEST_PREFIX, _SMALLEST_PREFIX = 8, 29
"""The sizes GCP accepts for a subnetwork's primary and secondary ranges."""


class GcpNetworkArgs(TypedDict):
    """Arguments of GcpNetwork."""

    region: pulumi.Input[str]
    """Region of the subnetwork, router and NAT, e.g. `europe-west4`; the cluster's region."""
    nodes_cidr: str
    """Primary range of the subnetwork, for node addresses, e.g. `10.50.0.0/20`. Plain: it is validated."""
    pods_cidr: str
    """Secondary range `pods`, for pod addresses, e.g. `10.52.0.0/14`."""
    services_cidr: str
    """Secondary range `services`, for Service addresses, e.g. `10.56.0.0/20`."""


def validate_ranges(nodes_cidr: str, pods_cidr: str, services_cidr: str, owner: str = "GcpNetwork") -> None:
    """Check that the three ranges are IPv4 networks GCP accepts (/8 to /29) and do not overlap.

    Args:
        nodes_cidr: the subnetwork's primary range.
        pods_cidr: the pods secondary range.
        services_cidr: the services secondary range.
        owner: `"GcpNetwork <name>"`, put at the start of every error.

    Raises:
        ValueError: naming the owner, the argument and the bad value.
    """
    networks: dict[str, ipaddress.IPv4Network] = {}
    for argument, cidr in (
        ("nodes_cidr", nodes_cidr),
        ("pods_cidr", pods_cidr),
        ("services_cidr", services_cidr),
    ):
        try:
            network = ipaddress.IPv4Network(cidr)
        except ValueError as err:
            raise ValueError(f"{owner}: {argument} {cidr!r} is not an IPv4 network ({err})") from None
        if not _LARGEST_PREFIX <= network.prefixlen <= _SMALLEST_PREFIX:
            raise ValueError(
                f"{owner}: {argument} {network} must be a /{_LARGEST_PREFIX} to /{_SMALLEST_PREFIX}"
            )
        networks[argument] = network
    names = list(networks)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if networks[first].overlaps(networks[second]):
                raise ValueError(
                    f"{owner}: {first} {networks[first]} overlaps {second} {networks[second]}; "
                    "the node, pod and service ranges must be disjoint"
                )


class GcpNetwork(pulumi.ComponentResource):
    """A custom-mode VPC with one subnetwork (nodes, pods, services), Cloud NAT and flow logs."""

    network_id: pulumi.Output[str]
    """The VPC's id (`projects/<project>/global/networks/<name>`)."""
    network_name: pulumi.Output[str]
    """The VPC's name."""
    subnetwork_id: pulumi.Output[str]
    """The subnetwork's id (`projects/<project>/regions/<region>/subnetworks/<name>`)."""
    subnetwork_name: pulumi.Output[str]
    """The subnetwork's name."""
    pods_range_name: pulumi.Output[str]
    """Secondary range for pods, for the cluster's `ip_allocation_policy`."""
    services_range_name: pulumi.Output[str]
    """Secondary range for Services, for the cluster's `ip_allocation_policy`."""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if not _NAME.match(name):
            raise ValueError(
                f"GcpNetwork {name}: the name {name!r} must be 1 to 40 lowercase letters, digits or hyphens, "
                "starting with a letter and not ending with a hyphen (it prefixes the GCP names of its children)"
            )
        validate_ranges(args["nodes_cidr"], args["pods_cidr"], args["services_cidr"], f"GcpNetwork {name}")
        region = args["region"]
        child = pulumi.ResourceOptions(parent=self)

        vpc = gcp.compute.Network(
            f"{name}-vpc",
            description=f"GPU cluster network {name}",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        subnetwork = gcp.compute.Subnetwork(
            f"{name}-subnet",
            description=f"Nodes, pods and services of {name}",
            network=vpc.id,
            region=region,
            ip_cidr_range=args["nodes_cidr"],
            secondary_ip_ranges=[
                {"range_name": PODS_RANGE_NAME, "ip_cidr_range": args["pods_cidr"]},
                {"range_name": SERVICES_RANGE_NAME, "ip_cidr_range": args["services_cidr"]},
            ],
            stack_type="IPV4_ONLY",
            # Private nodes have no external address: Google APIs and image pulls go through this.
            private_ip_google_access=True,
            log_config={
                "aggregation_interval": "INTERVAL_5_SEC",
                "flow_sampling": FLOW_LOG_SAMPLING,
                "metadata": "INCLUDE_ALL_METADATA",
            },
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router",
            description=f"Cloud NAT router of {name}",
            network=vpc.id,
            region=region,
            opts=child,
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            router=router.name,
            region=region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )
        # GCP already denies ingress implicitly; an explicit rule makes the intent visible to scanners and
        # logs what it drops. GKE's own rules (node-to-node, control plane, load-balancer health checks,
        # scoped to the cluster's node tags) sit at priority 1000 and win, so no broad health-check
        # allow is added here.
        gcp.compute.Firewall(
            f"{name}-deny-ingress",
            description=f"Deny all ingress from anywhere into {name} unless a higher-priority rule allows it",
            network=vpc.id,
            direction="INGRESS",
            priority=DENY_INGRESS_PRIORITY,
            source_ranges=["0.0.0.0/0"],
            denies=[{"protocol": "all"}],
            log_config={"metadata": "INCLUDE_ALL_METADATA"},
            opts=child,
        )

        self.network_id = vpc.id
        self.network_name = vpc.name
        self.subnetwork_id = subnetwork.id
        self.subnetwork_name = subnetwork.name
        # From the URN (known in a preview, unlike the id), so the names are known early and still carry
        # the dependency on the subnetwork that holds the ranges.
        self.pods_range_name = subnetwork.urn.apply(lambda _: PODS_RANGE_NAME)
        self.services_range_name = subnetwork.urn.apply(lambda _: SERVICES_RANGE_NAME)
        self.register_outputs(
            {
                "network_id": self.network_id,
                "network_name": self.network_name,
                "subnetwork_id": self.subnetwork_id,
                "subnetwork_name": self.subnetwork_name,
                "pods_range_name": self.pods_range_name,
                "services_range_name": self.services_range_name,
            }
        )
