"""Behaviour of AwsNetwork: its pure helpers, and what it registers under the offline engine's mocks.

The three rendered policy documents are compared with golden files in `golden/`. After an intended
change to a document, rewrite them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/components/network/test_aws_network.py -k golden
"""

import gc
import ipaddress
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, cast

import pulumi
import pulumi_aws as aws
import pytest

from components.network.aws_network import (
    TYPE_TOKEN,
    AwsNetwork,
    AwsNetworkArgs,
    NatGatewayMode,
    flow_log_assume_role_policy,
    flow_log_key_policy,
    flow_log_role_policy,
    subnet_cidrs,
)
from scripts.hub.offline.engine import DuplicateUrnError, ProgramError, RecordedResource, RunResult

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

NAME = "net"
CIDR = "10.10.0.0/16"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
"""The account the offline getCallerIdentity answer reports."""
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{NAME}-flow-logs"
INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "sts", "logs")

STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:aws"
VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
EIP = "aws:ec2/eip:Eip"
NAT = "aws:ec2/natGateway:NatGateway"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ROUTE_TABLE_ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
FLOW_LOG = "aws:ec2/flowLog:FlowLog"

PRIVATE_CIDRS = ["10.10.0.0/19", "10.10.32.0/19", "10.10.64.0/19"]
PUBLIC_CIDRS = ["10.10.224.0/22", "10.10.228.0/22", "10.10.232.0/22"]


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


def expected_counts(nat_count: int) -> dict[str, int]:
    """Children of a 3-AZ network with the default endpoints, by type."""
    return {
        VPC: 1,
        "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": 1,
        SUBNET: 6,
        "aws:ec2/internetGateway:InternetGateway": 1,
        EIP: nat_count,
        NAT: nat_count,
        ROUTE_TABLE: 4,
        ROUTE_TABLE_ASSOCIATION: 6,
        VPC_ENDPOINT: 5,
        "aws:ec2/securityGroup:SecurityGroup": 1,
        "aws:kms/key:Key": 1,
        "aws:cloudwatch/logGroup:LogGroup": 1,
        "aws:iam/role:Role": 1,
        "aws:iam/rolePolicy:RolePolicy": 1,
        FLOW_LOG: 1,
    }


def expected_name_tags(name: str) -> dict[str, str]:
    """Logical name → `Name` tag of every taggable child of a 3-AZ single-NAT network."""
    tags = {
        f"{name}-{role}": f"{name}-{role}"
        for role in (
            "vpc",
            "igw",
            "public-rt",
            "nat-0",
            "s3-gateway-endpoint",
            "endpoints-sg",
            "flow-logs-key",
            "flow-logs",
            "flow-logs-role",
            "flow-log",
        )
    }
    tags |= {f"{name}-{tier}-{i}": f"{name}-{tier}-{i}" for tier in ("private", "public") for i in range(3)}
    tags |= {f"{name}-private-rt-{i}": f"{name}-private-rt-{i}" for i in range(3)}
    tags[f"{name}-default-sg"] = f"{name}-default-sg"
    tags[f"{name}-nat-eip-0"] = f"{name}-nat-eip-0"
    tags |= {
        f"{name}-{service.replace('.', '-')}-endpoint": f"{name}-{service.replace('.', '-')}-endpoint"
        for service in INTERFACE_SERVICES
    }
    return tags


def network_program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit eu-west-1 provider with default tags, and one network per name."""

    def body() -> None:
        provider = aws.Provider(
            "p", region=REGION, default_tags=aws.ProviderDefaultTagsArgs(tags={"team": "t"})
        )
        for name in names or (NAME,):
            args = cast(AwsNetworkArgs, {"cidr_block": CIDR, "availability_zone_count": 3, **overrides})
            AwsNetwork(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def network(pulumi_run: Recorder) -> Recorder:
    """A recorded run of the default network `net` with one extra tag."""
    pulumi_run.run(network_program(tags={"extra": "x"}))
    return pulumi_run


@pytest.fixture
def collect_failed_runs() -> Iterator[None]:
    """Collect what a run that failed on a duplicate URN left behind, at a known point.

    Such a run leaves SDK futures holding the error that nobody retrieved; asyncio logs each one, with its
    traceback, when the garbage collector frees it. On CPython 3.11 formatting that traceback calls
    `ast.parse`, and if the collector happens to run inside pytest's own `ast.parse` of a failure report,
    pytest stops with INTERNALERROR "AST constructor recursion depth mismatch".
    """
    yield
    gc.collect()


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def children(recorder: Recorder, name: str = NAME) -> list[RecordedResource]:
    return recorder.children_of(component(recorder, name))


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    """Logical names of the resources property `prop` depends on, sorted."""
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def assert_matches_golden(name: str, document: str) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    rendered = json.loads(document)
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(rendered, indent=2) + "\n")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert rendered == json.loads(path.read_text())


# Pure helpers, no mocks.


def test_subnet_cidrs_of_a_16_across_three_zones() -> None:
    assert subnet_cidrs(CIDR, 3) == (PRIVATE_CIDRS, PUBLIC_CIDRS)


@pytest.mark.parametrize(
    ("cidr", "zones"),
    [("10.10.0.0/16", 2), ("10.10.0.0/16", 3), ("172.16.0.0/18", 6), ("192.168.4.0/22", 6)],
)
def test_subnets_are_disjoint_and_inside_the_vpc(cidr: str, zones: int) -> None:
    private, public = subnet_cidrs(cidr, zones)
    vpc = ipaddress.IPv4Network(cidr)
    blocks = [ipaddress.IPv4Network(block) for block in private + public]

    assert (len(private), len(public)) == (zones, zones)
    assert all(block.subnet_of(vpc) for block in blocks)
    assert not any(a.overlaps(b) for i, a in enumerate(blocks) for b in blocks[i + 1 :])
    # The smallest subnet AWS accepts is a /28.
    assert all(block.prefixlen <= 28 for block in blocks)


@pytest.mark.parametrize(
    ("cidr", "zones", "bad_value"),
    [
        ("10.0.0.0/8", 3, "10.0.0.0/8"),
        ("10.0.0.0/24", 3, "10.0.0.0/24"),
        ("nope", 3, "nope"),
        ("10.10.0.1/16", 3, "10.10.0.1/16"),
        (CIDR, 1, "availability_zone_count 1"),
        (CIDR, 7, "availability_zone_count 7"),
    ],
)
def test_subnet_cidrs_rejects_bad_input(cidr: str, zones: int, bad_value: str) -> None:
    with pytest.raises(ValueError, match="AwsNetwork") as raised:
        subnet_cidrs(cidr, zones)
    assert bad_value in str(raised.value)


@pytest.mark.parametrize(
    ("golden", "document"),
    [
        ("flow_log_key_policy", flow_log_key_policy(ACCOUNT, "aws", REGION, "/mlops-hub/vpc-flow-logs/net")),
        ("flow_log_assume_role_policy", flow_log_assume_role_policy(ACCOUNT, "aws", REGION)),
        ("flow_log_role_policy", flow_log_role_policy(LOG_GROUP_ARN)),
    ],
)
def test_policy_document_matches_golden(golden: str, document: str) -> None:
    assert_matches_golden(golden, document)


def test_role_policy_reaches_only_the_log_group_and_its_streams() -> None:
    statements = json.loads(flow_log_role_policy(LOG_GROUP_ARN))["Statement"]

    assert [s["Resource"] for s in statements] == [[LOG_GROUP_ARN, f"{LOG_GROUP_ARN}:*"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    assert not any("*" in s["Resource"] or "*" in s["Action"] for s in statements)


def test_trust_policy_admits_only_vpc_flow_logs_of_this_account() -> None:
    (statement,) = json.loads(flow_log_assume_role_policy(ACCOUNT, "aws", REGION))["Statement"]

    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/*"},
    }


def test_key_policy_lets_cloudwatch_logs_use_the_key_for_the_flow_log_group_only() -> None:
    group = "/mlops-hub/vpc-flow-logs/net"
    administration, logs_use = json.loads(flow_log_key_policy(ACCOUNT, "aws", REGION, group))["Statement"]

    assert administration["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert logs_use["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert logs_use["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
        }
    }


# What the component registers (preview, offline mocks).


@pytest.mark.parametrize(
    ("nat_gateways", "nat_count"),
    [(None, 1), (NatGatewayMode.SINGLE, 1), (NatGatewayMode.PER_AZ, 3)],
)
def test_resource_counts(pulumi_run: Recorder, nat_gateways: NatGatewayMode | None, nat_count: int) -> None:
    overrides = {} if nat_gateways is None else {"nat_gateways": nat_gateways}
    pulumi_run.run(network_program(**overrides))

    assert Counter(r.type for r in children(pulumi_run)) == expected_counts(nat_count)


@pytest.mark.parametrize("nat_gateways", [NatGatewayMode.SINGLE, NatGatewayMode.PER_AZ])
def test_nat_placement_and_private_routes(pulumi_run: Recorder, nat_gateways: NatGatewayMode) -> None:
    pulumi_run.run(network_program(nat_gateways=nat_gateways))
    per_az = nat_gateways is NatGatewayMode.PER_AZ

    for i, nat in enumerate(pulumi_run.of_type(NAT)):
        assert nat.name == f"{NAME}-nat-{i}"
        assert nat.inputs["connectivityType"] == "public"
        assert depends_on(nat, "subnetId") == [f"{NAME}-public-{i}"]
        assert depends_on(nat, "allocationId") == [f"{NAME}-nat-eip-{i}"]
        assert any(urn.endswith(f"::{NAME}-igw") for urn in nat.dependencies)
    assert all(eip.inputs["domain"] == "vpc" for eip in pulumi_run.of_type(EIP))
    for i in range(3):
        table = pulumi_run.named(f"{NAME}-private-rt-{i}")
        assert table.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "natGatewayId": "[unknown]"}]
        assert depends_on(table, "routes") == [f"{NAME}-nat-{i if per_az else 0}"]


def test_subnets_zones_and_cidrs(network: Recorder) -> None:
    for tier, cidrs in (("private", PRIVATE_CIDRS), ("public", PUBLIC_CIDRS)):
        subnets = [network.named(f"{NAME}-{tier}-{i}") for i in range(3)]
        assert [s.inputs["availabilityZone"] for s in subnets] == [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        assert [s.inputs["cidrBlock"] for s in subnets] == cidrs
        assert all(depends_on(s, "vpcId") == [f"{NAME}-vpc"] for s in subnets)


def test_gateway_endpoint_for_s3_on_private_route_tables(network: Recorder) -> None:
    s3 = network.named(f"{NAME}-s3-gateway-endpoint")

    assert s3.inputs["vpcEndpointType"] == "Gateway"
    assert s3.inputs["serviceName"] == f"com.amazonaws.{REGION}.s3"
    assert depends_on(s3, "routeTableIds") == [f"{NAME}-private-rt-{i}" for i in range(3)]
    assert [e for e in network.of_type(VPC_ENDPOINT) if e.inputs["vpcEndpointType"] == "Gateway"] == [s3]


def test_interface_endpoints(network: Recorder) -> None:
    interfaces = [e for e in network.of_type(VPC_ENDPOINT) if e.inputs["vpcEndpointType"] == "Interface"]

    assert sorted(e.inputs["serviceName"] for e in interfaces) == sorted(
        f"com.amazonaws.{REGION}.{service}" for service in INTERFACE_SERVICES
    )
    for endpoint in interfaces:
        assert endpoint.inputs["privateDnsEnabled"] is True
        assert depends_on(endpoint, "subnetIds") == [f"{NAME}-private-{i}" for i in range(3)]
        assert depends_on(endpoint, "securityGroupIds") == [f"{NAME}-endpoints-sg"]


def test_parenting_providers_and_names(network: Recorder) -> None:
    network_record = component(network)
    provider = network.one(PROVIDER)
    others = [r for r in network.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert network_record.type == TYPE_TOKEN == "mlopshub:index:AwsNetwork"
    assert others
    assert children(network) == others
    assert all(r.provider == provider.urn for r in others)
    assert all(r.name.startswith(f"{NAME}-") for r in others)


def test_vpc_and_subnets_are_private_by_default(network: Recorder) -> None:
    vpc = network.one(VPC)

    assert vpc.inputs["cidrBlock"] == CIDR
    assert vpc.inputs["enableDnsHostnames"] is True
    assert vpc.inputs["enableDnsSupport"] is True
    assert [s.inputs["mapPublicIpOnLaunch"] for s in network.of_type(SUBNET)] == [False] * 6


def test_default_security_group_is_stripped(network: Recorder) -> None:
    default_sg = network.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")

    assert default_sg.inputs["ingress"] == []
    assert default_sg.inputs["egress"] == []
    assert depends_on(default_sg, "vpcId") == [f"{NAME}-vpc"]


def test_endpoint_security_group_allows_only_https_from_the_vpc(network: Recorder) -> None:
    group = network.one("aws:ec2/securityGroup:SecurityGroup")

    assert group.inputs["ingress"] == [
        {
            "description": "HTTPS from the VPC",
            "protocol": "tcp",
            "fromPort": 443,
            "toPort": 443,
            "cidrBlocks": [CIDR],
        }
    ]
    assert group.inputs.get("egress", []) == []


def test_public_route_table_routes_to_the_internet_gateway(network: Recorder) -> None:
    table = network.named(f"{NAME}-public-rt")

    assert table.inputs["routes"] == [{"cidrBlock": "0.0.0.0/0", "gatewayId": "[unknown]"}]
    assert depends_on(table, "routes") == [f"{NAME}-igw"]
    associations = {
        r.name: depends_on(r, "routeTableId")
        for r in network.of_type(ROUTE_TABLE_ASSOCIATION)
        if r.name.startswith(f"{NAME}-public-rta-")
    }
    assert associations == {f"{NAME}-public-rta-{i}": [f"{NAME}-public-rt"] for i in range(3)}


def test_flow_logs_encrypted_and_complete(network: Recorder) -> None:
    key = network.one("aws:kms/key:Key")
    log_group = network.one("aws:cloudwatch/logGroup:LogGroup")
    flow_log = network.one(FLOW_LOG)

    assert key.inputs["enableKeyRotation"] is True
    assert json.loads(key.inputs["policy"]) == json.loads(
        flow_log_key_policy(ACCOUNT, "aws", REGION, f"/mlops-hub/vpc-flow-logs/{NAME}")
    )
    assert log_group.inputs["retentionInDays"] == 365
    assert log_group.inputs["kmsKeyId"] == "[unknown]"
    assert depends_on(log_group, "kmsKeyId") == [f"{NAME}-flow-logs-key"]
    assert flow_log.inputs["trafficType"] == "ALL"
    assert flow_log.inputs["logDestinationType"] == "cloud-watch-logs"
    assert depends_on(flow_log, "logDestination") == [f"{NAME}-flow-logs"]
    assert depends_on(flow_log, "iamRoleArn") == [f"{NAME}-flow-logs-role"]
    assert depends_on(flow_log, "vpcId") == [f"{NAME}-vpc"]


def test_flow_log_role_wiring(network: Recorder) -> None:
    role = network.one("aws:iam/role:Role")
    policy = network.one("aws:iam/rolePolicy:RolePolicy")

    assert json.loads(role.inputs["assumeRolePolicy"]) == json.loads(
        flow_log_assume_role_policy(ACCOUNT, "aws", REGION)
    )
    # The log group has a fixed name, so its ARN (and this policy) are known in preview: gates can check them.
    log_group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/mlops-hub/vpc-flow-logs/{NAME}"
    assert (
        network.one("aws:cloudwatch/logGroup:LogGroup").inputs["name"] == f"/mlops-hub/vpc-flow-logs/{NAME}"
    )
    assert json.loads(policy.inputs["policy"]) == json.loads(flow_log_role_policy(log_group_arn))
    assert depends_on(policy, "role") == [f"{NAME}-flow-logs-role"]


@pytest.mark.parametrize("days", [1, 30, 3653])
def test_flow_log_retention_is_passed_through(pulumi_run: Recorder, days: int) -> None:
    pulumi_run.run(network_program(flow_log_retention_days=days))

    assert pulumi_run.one("aws:cloudwatch/logGroup:LogGroup").inputs["retentionInDays"] == days


def test_every_taggable_child_carries_caller_provider_and_name_tags(network: Recorder) -> None:
    tags = {r.name: network.tags_of(r) for r in children(network)}
    taggable = {name: found for name, found in tags.items() if found is not None}

    assert {name for name, found in tags.items() if found is None} == {
        *(f"{NAME}-{tier}-rta-{i}" for tier in ("private", "public") for i in range(3)),
        f"{NAME}-flow-logs-policy",
    }
    assert {name: found["Name"] for name, found in taggable.items()} == expected_name_tags(NAME)
    assert all(found["extra"] == "x" and found["team"] == "t" for found in taggable.values())


@pytest.mark.parametrize(
    ("tier", "role_tag"),
    [("private", "kubernetes.io/role/internal-elb"), ("public", "kubernetes.io/role/elb")],
)
def test_subnets_carry_load_balancer_role_tags(network: Recorder, tier: str, role_tag: str) -> None:
    for i in range(3):
        found = network.tags_of(network.named(f"{NAME}-{tier}-{i}"))
        assert found is not None
        assert (found[role_tag], found["tier"]) == ("1", tier)


def test_outputs(network: Recorder) -> None:
    outputs = component(network).outputs

    assert outputs is not None
    assert set(outputs) == {
        "vpc_id",
        "private_subnet_ids",
        "public_subnet_ids",
        "availability_zones",
        "flow_log_group_name",
        "flow_log_key_arn",
    }
    assert outputs["availability_zones"] == [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
    assert outputs["flow_log_group_name"] == f"/mlops-hub/vpc-flow-logs/{NAME}"
    # Ids and ARNs are assigned by AWS, so a preview cannot know them.
    assert {
        k: outputs[k] for k in ("vpc_id", "private_subnet_ids", "public_subnet_ids", "flow_log_key_arn")
    } == (
        dict.fromkeys(("vpc_id", "private_subnet_ids", "public_subnet_ids", "flow_log_key_arn"), "[unknown]")
    )


def test_two_networks_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(network_program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names_a = {r.name for r in children(pulumi_run, "a")}
    names_b = {r.name for r in children(pulumi_run, "b")}

    assert len(urns) == len(set(urns))
    assert len(names_a) == len(names_b) == sum(expected_counts(1).values())
    assert names_a.isdisjoint(names_b)
    assert all(name.startswith("a-") for name in names_a)
    assert all(name.startswith("b-") for name in names_b)


@pytest.mark.usefixtures("collect_failed_runs")
def test_duplicate_urns_are_detected(pulumi_run: Recorder) -> None:
    def body() -> None:
        aws.ec2.Vpc("same", cidr_block=CIDR)
        aws.ec2.Vpc("same", cidr_block=CIDR)

    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(body)

    assert isinstance(failure.value.cause, DuplicateUrnError)
    assert "'same'" in str(failure.value.cause)


@pytest.mark.usefixtures("collect_failed_runs")
def test_s3_interface_endpoint_beside_the_gateway_endpoint(pulumi_run: Recorder) -> None:
    error = ""
    try:
        pulumi_run.run(network_program(interface_endpoints=["s3"]))
    except ProgramError as failure:
        error = repr(failure.cause)
    # Failed outside the handler and without a traceback, so nothing keeps the failed run alive past
    # collect_failed_runs; its cause says all there is to say.
    if error:
        pytest.fail(f"the run failed: {error}", pytrace=False)

    assert sorted(e.inputs["vpcEndpointType"] for e in pulumi_run.of_type(VPC_ENDPOINT)) == [
        "Gateway",
        "Interface",
    ]


BAD_ARGS = [
    pytest.param({"nat_gateways": "two"}, "nat_gateways 'two'", id="nat_gateways"),
    pytest.param({"flow_log_retention_days": 100}, "flow_log_retention_days 100", id="retention"),
    pytest.param({"cidr_block": "10.0.0.0/8"}, "cidr_block 10.0.0.0/8", id="cidr_block"),
    pytest.param({"availability_zone_count": 7}, "availability_zone_count 7", id="zone_count"),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(network_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert "AwsNetwork" in str(failure.value.cause)
    assert bad_value in str(failure.value.cause)
    # The component itself registers first (super().__init__ comes before validation), nothing else.
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_raise_from_the_constructor(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    raised: list[ValueError] = []

    def body() -> None:
        try:
            network_program(**overrides)()
        except ValueError as err:
            raised.append(err)

    pulumi_run.run(body)

    assert len(raised) == 1
    assert bad_value in str(raised[0])
    assert not [r for r in pulumi_run.resources if r.type.startswith("aws:")]
    assert pulumi_run.children_of(component(pulumi_run)) == []


@pytest.mark.parametrize(
    "overrides", [{"cidr_block": "10.0.0.0/8"}, {"availability_zone_count": 7}], ids=["cidr", "zones"]
)
def test_layout_errors_name_the_instance(pulumi_run: Recorder, overrides: dict[str, Any]) -> None:
    raised: list[ValueError] = []

    def body() -> None:
        try:
            network_program(**overrides)()
        except ValueError as err:
            raised.append(err)

    pulumi_run.run(body)

    assert len(raised) == 1
    assert str(raised[0]).startswith(f"AwsNetwork {NAME}: ")


@pytest.mark.usefixtures("collect_failed_runs")
def test_more_zones_than_the_region_offers_is_a_clear_error(pulumi_run: Recorder) -> None:
    # The offline answer for eu-west-1 lists three zones, as the real region does.
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(network_program(availability_zone_count=4))

    assert isinstance(failure.value.cause, ValueError)
    # The SDK prefixes the input chain it was resolving; the component's own sentence is intact.
    assert (
        f"AwsNetwork {NAME}: availability_zone_count is 4 or more but the region has only 3 zones "
        "that need no opt-in (eu-west-1a, eu-west-1b, eu-west-1c)"
    ) in str(failure.value.cause)
