"""AwsNetwork: a private-by-default VPC for GPU clusters.

Three (or more) availability zones, one private and one public subnet in each, NAT for egress, gateway and
interface endpoints so image pulls, S3 reads and STS calls never leave AWS's network, the default security
group stripped of rules, and VPC flow logs to a KMS-encrypted CloudWatch log group.
"""

import functools
import ipaddress
import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.tags import name_tagged

TYPE_TOKEN = "mlopshub:index:AwsNetwork"

DEFAULT_INTERFACE_ENDPOINTS = ("ecr.api", "ecr.dkr", "sts", "logs")
"""Interface endpoints private nodes need: image pulls (ECR API + registry), IRSA token exchange, logs."""


FLOW_LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
"""The retention periods CloudWatch Logs accepts."""


class NatGatewayMode(StrEnum):
    """How many NAT gateways the network runs."""

    SINGLE = "single"
    """One NAT gateway for all private subnets (cheap; its AZ is a single point of failure)."""
    PER_AZ = "per-az"
    """One NAT gateway per availability zone (resilient; one hourly charge per AZ)."""


class AwsNetworkArgs(TypedDict):
    """Arguments of AwsNetwork."""

    cidr_block: str
    """VPC CIDR, /16 to /22. Plain: it decides the subnet layout."""
    availability_zone_count: int
    """Availability zones to span (2 to 6); one private and one public subnet in each."""
    nat_gateways: NotRequired[NatGatewayMode]
    """`single` (default) or `per-az`."""
    flow_log_retention_days: NotRequired[int]
    """Days flow logs are kept; a CloudWatch retention period (default 365)."""
    interface_endpoints: NotRequired[Sequence[str]]
    """AWS services reached through interface endpoints (default DEFAULT_INTERFACE_ENDPOINTS)."""
    tags: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Tags added to every taggable child, on top of the provider's default tags."""


def subnet_cidrs(cidr_block: str, zone_count: int, owner: str = "AwsNetwork") -> tuple[list[str], list[str]]:
    """Split a VPC CIDR into `zone_count` private and `zone_count` public subnets.

    The VPC is cut in eight: the first `zone_count` eighths are the private subnets (where nodes and pods
    live, so they get the space); the last eighth is cut in eight again for the small public subnets
    (load balancers and NAT gateways only).
    """
    try:
        network = ipaddress.IPv4Network(cidr_block)
    except ValueError as err:
        raise ValueError(f"{owner}: cidr_block {cidr_block!r} is not an IPv4 network ({err})") from None
    if not 16 <= network.prefixlen <= 22:
        raise ValueError(f"{owner}: cidr_block {cidr_block} must be a /16 to /22")
    if not 2 <= zone_count <= 6:
        raise ValueError(f"{owner}: availability_zone_count {zone_count} must be from 2 to 6")
    eighths = list(network.subnets(prefixlen_diff=3))
    public_blocks = list(eighths[-1].subnets(prefixlen_diff=3))
    return [str(s) for s in eighths[:zone_count]], [str(s) for s in public_blocks[:zone_count]]


def flow_log_key_policy(account_id: str, partition: str, region: str, log_group_name: str) -> str:
    """KMS key policy: account administration, plus CloudWatch Logs use for the one flow-log group."""
    account_root = f"arn:{partition}:iam::{account_id}:root"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": account_root},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsUse",
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
                    "Condition": {
                        "ArnEquals": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{partition}:logs:{region}:{account_id}:log-group:{log_group_name}"
                            )
                        }
                    },
                },
            ],
        }
    )


def flow_log_assume_role_policy(account_id: str, partition: str, region: str) -> str:
    """Trust policy: only the VPC flow-logs service, only for this account's flow logs (confused deputy)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:ec2:{region}:{account_id}:vpc-flow-log/*"
                        },
                    },
                }
            ],
        }
    )


def flow_log_role_policy(log_group_arn: str) -> str:
    """Permissions: write streams and events to the one flow-log group, nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                }
            ],
        }
    )


def _zone(names: Sequence[str], index: int, owner: str) -> str:
    if index >= len(names):
        raise ValueError(
            f"{owner}: availability_zone_count is {index + 1} or more but the region has only "
            f"{len(names)} zones that need no opt-in ({', '.join(names)})"
        )
    return names[index]


def _service_name(region: str, service: str) -> str:
    """The VPC endpoint service name of an AWS service in `region`."""
    return f"com.amazonaws.{region}.{service}"


class AwsNetwork(pulumi.ComponentResource):
    """A VPC over several AZs with private and public subnets, NAT, endpoints and encrypted flow logs."""

    vpc_id: pulumi.Output[str]
    """The VPC id."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnet ids, one per AZ, in AZ order (for nodes and pods)."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnet ids, one per AZ, in AZ order (for load balancers and NAT only)."""
    availability_zones: pulumi.Output[list[str]]
    """The AZ names used, in order."""
    flow_log_group_name: pulumi.Output[str]
    """CloudWatch log group receiving the VPC flow logs."""
    flow_log_key_arn: pulumi.Output[str]
    """KMS key encrypting the flow logs."""

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        zone_count = args["availability_zone_count"]
        private_cidrs, public_cidrs = subnet_cidrs(args["cidr_block"], zone_count, f"AwsNetwork {name}")
        nat_value = args.get("nat_gateways", NatGatewayMode.SINGLE)
        if nat_value not in set(NatGatewayMode):
            allowed = ", ".join(m.value for m in NatGatewayMode)
            raise ValueError(f"AwsNetwork {name}: nat_gateways {nat_value!r} is not one of {allowed}")
        nat_mode = NatGatewayMode(nat_value)
        retention = args.get("flow_log_retention_days", 365)
        if retention not in FLOW_LOG_RETENTION_DAYS:
            raise ValueError(
                f"AwsNetwork {name}: flow_log_retention_days {retention} is not a CloudWatch retention period "
                f"({', '.join(map(str, FLOW_LOG_RETENTION_DAYS))})"
            )
        endpoint_services = list(args.get("interface_endpoints", DEFAULT_INTERFACE_ENDPOINTS))
        tags = args.get("tags")
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)

        zones = aws.get_availability_zones_output(
            state="available",
            filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
            opts=invoke,
        )
        zone_names = [
            zones.names.apply(functools.partial(_zone, index=i, owner=f"AwsNetwork {name}"))
            for i in range(zone_count)
        ]
        region = aws.get_region_output(opts=invoke).region
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke).partition

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args["cidr_block"],
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=name_tagged(tags, f"{name}-vpc"),
            opts=child,
        )
        # A VPC's default security group allows all traffic between its members; strip it (CIS AWS 5.4).
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=name_tagged(tags, f"{name}-default-sg"),
            opts=child,
        )

        private_subnets = [
            aws.ec2.Subnet(
                f"{name}-private-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone_names[i],
                map_public_ip_on_launch=False,
                tags=name_tagged(
                    tags, f"{name}-private-{i}", {"kubernetes.io/role/internal-elb": "1", "tier": "private"}
                ),
                opts=child,
            )
            for i, cidr in enumerate(private_cidrs)
        ]
        # Public subnets hold only NAT gateways and internet-facing load balancers: no automatic public IPs.
        public_subnets = [
            aws.ec2.Subnet(
                f"{name}-public-{i}",
                vpc_id=vpc.id,
                cidr_block=cidr,
                availability_zone=zone_names[i],
                map_public_ip_on_launch=False,
                tags=name_tagged(
                    tags, f"{name}-public-{i}", {"kubernetes.io/role/elb": "1", "tier": "public"}
                ),
                opts=child,
            )
            for i, cidr in enumerate(public_cidrs)
        ]

        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=name_tagged(tags, f"{name}-igw"), opts=child
        )
        public_routes = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
            tags=name_tagged(tags, f"{name}-public-rt"),
            opts=child,
        )
        for i, subnet in enumerate(public_subnets):
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{i}", subnet_id=subnet.id, route_table_id=public_routes.id, opts=child
            )

        nat_count = zone_count if nat_mode is NatGatewayMode.PER_AZ else 1
        nat_gateways = []
        for i in range(nat_count):
            address = aws.ec2.Eip(
                f"{name}-nat-eip-{i}", domain="vpc", tags=name_tagged(tags, f"{name}-nat-eip-{i}"), opts=child
            )
            nat_gateways.append(
                aws.ec2.NatGateway(
                    f"{name}-nat-{i}",
                    allocation_id=address.id,
                    subnet_id=public_subnets[i].id,
                    connectivity_type="public",
                    tags=name_tagged(tags, f"{name}-nat-{i}"),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                )
            )
        private_route_tables = []
        for i, subnet in enumerate(private_subnets):
            nat = nat_gateways[i if nat_mode is NatGatewayMode.PER_AZ else 0]
            table = aws.ec2.RouteTable(
                f"{name}-private-rt-{i}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags=name_tagged(tags, f"{name}-private-rt-{i}"),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{i}", subnet_id=subnet.id, route_table_id=table.id, opts=child
            )
            private_route_tables.append(table)

        # "-gateway-": an interface endpoint for s3 may be asked for too, and must not collide.
        aws.ec2.VpcEndpoint(
            f"{name}-s3-gateway-endpoint",
            vpc_id=vpc.id,
            service_name=region.apply(functools.partial(_service_name, service="s3")),
            vpc_endpoint_type="Gateway",
            route_table_ids=[t.id for t in private_route_tables],
            tags=name_tagged(tags, f"{name}-s3-gateway-endpoint"),
            opts=child,
        )
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{name}-endpoints-sg",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to interface endpoints",
            ingress=[
                {
                    "description": "HTTPS from the VPC",
                    "protocol": "tcp",
                    "from_port": 443,
                    "to_port": 443,
                    "cidr_blocks": [args["cidr_block"]],
                }
            ],
            tags=name_tagged(tags, f"{name}-endpoints-sg"),
            opts=child,
        )
        for service in endpoint_services:
            endpoint_name = f"{name}-{service.replace('.', '-')}-endpoint"
            aws.ec2.VpcEndpoint(
                endpoint_name,
                vpc_id=vpc.id,
                service_name=region.apply(functools.partial(_service_name, service=service)),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in private_subnets],
                security_group_ids=[endpoint_sg.id],
                tags=name_tagged(tags, endpoint_name),
                opts=child,
            )

        # A fixed name makes the group's ARN known before deployment, so the key and role policies below
        # can be pinned to it and checked by the policy gate in preview.
        log_group_name = f"/mlops-hub/vpc-flow-logs/{name}"
        key = aws.kms.Key(
            f"{name}-flow-logs-key",
            description=f"Encrypts VPC flow logs of {name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(identity.account_id, partition, region).apply(
                lambda values: flow_log_key_policy(values[0], values[1], values[2], log_group_name)
            ),
            tags=name_tagged(tags, f"{name}-flow-logs-key"),
            opts=child,
        )
        log_group_arn = pulumi.Output.all(partition, region, identity.account_id).apply(
            lambda parts: f"arn:{parts[0]}:logs:{parts[1]}:{parts[2]}:log-group:{log_group_name}"
        )
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=log_group_name,
            retention_in_days=retention,
            kms_key_id=key.arn,
            tags=name_tagged(tags, f"{name}-flow-logs"),
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description=f"Lets VPC flow logs of {name} write to their log group",
            assume_role_policy=pulumi.Output.all(identity.account_id, partition, region).apply(
                lambda values: flow_log_assume_role_policy(*values)
            ),
            tags=name_tagged(tags, f"{name}-flow-logs-role"),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=log_group_arn.apply(flow_log_role_policy),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=name_tagged(tags, f"{name}-flow-log"),
            opts=child,
        )

        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.availability_zones = pulumi.Output.all(*zone_names)
        self.flow_log_group_name = log_group.name
        self.flow_log_key_arn = key.arn
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "availability_zones": self.availability_zones,
                "flow_log_group_name": self.flow_log_group_name,
                "flow_log_key_arn": self.flow_log_key_arn,
            }
        )
