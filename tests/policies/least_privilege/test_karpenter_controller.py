"""The Karpenter controller identity of EksGpuCluster, acting in moto with exactly the policy the component renders.

Proven here: the controller's regional EC2 reads succeed; it receives and deletes messages of its own
interruption queue but cannot send to it (a forged interruption drains a node), purge it or read another
queue; it cannot create IAM roles or users, widen its own or the node role's policies, list buckets, write
objects, decrypt, or terminate instances through a `*` grant. Marked with moto's reason instead (not
provable in moto 5.2.5): every call on a resource-scoped grant outside SQS (EC2 launches, tags and deletions,
SSM public parameters, sqs:GetQueueUrl), eks:DescribeCluster, iam:PassRole in either direction,
pricing:GetProducts, ec2:DescribeCapacityReservations, and every Condition (shown twice with a call that AWS
refuses and moto allows).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from components.compute.eks_gpu_cluster import (
    interruption_queue_policy,
    karpenter_controller_policy,
    service_trust_policy,
)
from components.identity.aws_workload_identity import check_policy_document
from tests.policies.least_privilege.cases import (
    CONDITIONS_IGNORED,
    EKS_READS_UNSIGNABLE,
    GET_QUEUE_URL_UNRESOLVED,
    PARTITION,
    PASS_ROLE_NOT_CHECKED,
    REGION,
    allowed,
    denied,
    unresolved_resource,
)

if TYPE_CHECKING:
    from tests.policies.least_privilege.conftest import MotoAws, MotoSession

CLUSTER = "gpu-lp"
NODE_POOL = "gpu-burst"
CONTROLLER_ROLE = f"{CLUSTER}-karpenter-controller"
OWNED = {f"kubernetes.io/cluster/{CLUSTER}": "owned", "karpenter.sh/nodepool": NODE_POOL}
LAUNCH_TAGS = {**OWNED, "eks:eks-cluster-name": CLUSTER}
GPU_INSTANCE = "g5.xlarge"


@dataclass(frozen=True)
class Cluster:
    controller: "MotoSession"
    document: str
    node_profile: str
    queue_url: str
    other_queue_url: str
    image_id: str
    subnet_id: str
    karpenter_instance: str
    untagged_instance: str
    launch_template_id: str
    bucket: str
    key_arn: str
    ciphertext: bytes


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


@pytest.fixture(scope="module")
def cluster(moto_aws: "MotoAws") -> Cluster:
    admin = moto_aws.admin
    iam, ec2, sqs = admin.client("iam"), admin.client("ec2"), admin.client("sqs")
    ec2_trust = service_trust_policy("ec2.amazonaws.com")
    node_role = iam.create_role(RoleName=f"{CLUSTER}-karpenter-node", AssumeRolePolicyDocument=ec2_trust)
    iam.create_instance_profile(InstanceProfileName=f"{CLUSTER}-node-profile")
    iam.add_role_to_instance_profile(
        InstanceProfileName=f"{CLUSTER}-node-profile", RoleName=f"{CLUSTER}-karpenter-node"
    )

    queue_url = sqs.create_queue(QueueName=f"{CLUSTER}-interruption")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": interruption_queue_policy(queue_arn, moto_aws.account_id)}
    )
    other_queue_url = sqs.create_queue(QueueName="billing-events")["QueueUrl"]

    subnet_id = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    image_id = ec2.register_image(Name="amazon-eks-node-al2023-x86_64-nvidia-1.31")["ImageId"]

    def launch(tags: dict[str, str] | None) -> str:
        specs = [{"ResourceType": "instance", "Tags": _tag_list(tags)}] if tags else []
        instance = ec2.run_instances(
            ImageId=image_id, InstanceType=GPU_INSTANCE, MinCount=1, MaxCount=1, TagSpecifications=specs
        )
        instance_id: str = instance["Instances"][0]["InstanceId"]
        return instance_id

    template_id = ec2.create_launch_template(
        LaunchTemplateName=f"karpenter.k8s.aws/{NODE_POOL}",
        LaunchTemplateData={"ImageId": image_id, "InstanceType": GPU_INSTANCE},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": _tag_list(OWNED)}],
    )["LaunchTemplate"]["LaunchTemplateId"]

    admin.client("s3").create_bucket(
        Bucket="mlops-models-lp", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    kms = admin.client("kms")
    key_arn = kms.create_key(Description="model signing")["KeyMetadata"]["Arn"]
    ciphertext = kms.encrypt(KeyId=key_arn, Plaintext=b"model signing secret")["CiphertextBlob"]

    document = karpenter_controller_policy(
        PARTITION, REGION, moto_aws.account_id, CLUSTER, node_role["Role"]["Arn"], queue_arn
    )
    controller = moto_aws.as_identity({"KarpenterController": document}, name=CONTROLLER_ROLE)
    return Cluster(
        controller=controller,
        document=document,
        node_profile=f"{CLUSTER}-node-profile",
        queue_url=queue_url,
        other_queue_url=other_queue_url,
        image_id=image_id,
        subnet_id=subnet_id,
        karpenter_instance=launch(LAUNCH_TAGS),
        untagged_instance=launch(None),
        launch_template_id=template_id,
        bucket="mlops-models-lp",
        key_arn=key_arn,
        ciphertext=ciphertext,
    )


def test_the_document_passes_the_workload_identity_check(cluster: Cluster) -> None:
    # EksGpuCluster hands this document to AwsWorkloadIdentity as an Output, which skips the check at
    # construction; run the check on the rendered text.
    check_policy_document(
        f"AwsWorkloadIdentity {CLUSTER}-karpenter-irsa", "KarpenterController", cluster.document
    )


Ec2Call = Callable[[Any, Cluster], Any]
"""A call on the controller's EC2 client."""

REGIONAL_READS: dict[str, Ec2Call] = {
    "ec2:DescribeImages": lambda ec2, c: ec2.describe_images(ImageIds=[c.image_id]),
    "ec2:DescribeInstances": lambda ec2, _: ec2.describe_instances(
        Filters=[{"Name": f"tag:kubernetes.io/cluster/{CLUSTER}", "Values": ["owned"]}]
    ),
    "ec2:DescribeInstanceTypeOfferings": lambda ec2, _: ec2.describe_instance_type_offerings(
        LocationType="availability-zone", Filters=[{"Name": "instance-type", "Values": [GPU_INSTANCE]}]
    ),
    "ec2:DescribeInstanceTypes": lambda ec2, _: ec2.describe_instance_types(InstanceTypes=[GPU_INSTANCE]),
    "ec2:DescribeLaunchTemplates": lambda ec2, c: ec2.describe_launch_templates(
        LaunchTemplateIds=[c.launch_template_id]
    ),
    "ec2:DescribeSecurityGroups": lambda ec2, _: ec2.describe_security_groups(),
    "ec2:DescribeSpotPriceHistory": lambda ec2, _: ec2.describe_spot_price_history(
        InstanceTypes=[GPU_INSTANCE], MaxResults=5
    ),
    "ec2:DescribeSubnets": lambda ec2, c: ec2.describe_subnets(SubnetIds=[c.subnet_id]),
}


@pytest.mark.parametrize("call", [pytest.param(call, id=action) for action, call in REGIONAL_READS.items()])
def test_regional_reads_succeed(cluster: Cluster, call: Ec2Call) -> None:
    allowed(lambda: call(cluster.controller.client("ec2"), cluster))


@pytest.mark.skip(reason="moto 5.2.5 does not implement ec2:DescribeCapacityReservations")
def test_capacity_reservation_reads_succeed() -> None:
    """Karpenter 1.3 reads capacity reservations for node classes that select them."""


def test_interruption_messages_are_received_and_deleted(moto_aws: "MotoAws", cluster: Cluster) -> None:
    moto_aws.admin.client("sqs").send_message(QueueUrl=cluster.queue_url, MessageBody='{"detail-type": "x"}')
    sqs = cluster.controller.client("sqs")
    messages = allowed(lambda: sqs.receive_message(QueueUrl=cluster.queue_url, WaitTimeSeconds=0))["Messages"]
    assert len(messages) == 1
    allowed(
        lambda: sqs.delete_message(QueueUrl=cluster.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
    )


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=GET_QUEUE_URL_UNRESOLVED)
def test_the_interruption_queue_url_resolves(cluster: Cluster) -> None:
    allowed(lambda: cluster.controller.client("sqs").get_queue_url(QueueName=f"{CLUSTER}-interruption"))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=unresolved_resource("SSM", "public parameters under /aws/service/"),
)
def test_public_ami_parameters_are_read(cluster: Cluster) -> None:
    # moto ships no /aws/service/eks/optimized-ami/... parameters; this public one sits under the same grant.
    name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    allowed(lambda: cluster.controller.client("ssm").get_parameter(Name=name))


@pytest.mark.skip(reason="moto 5.2.5 has no Pricing API (no backend answers pricing:GetProducts)")
def test_on_demand_prices_are_read() -> None:
    """Karpenter reads on-demand prices from the Pricing API in us-east-1."""


@pytest.mark.skip(reason=EKS_READS_UNSIGNABLE)
def test_the_api_server_endpoint_is_discovered() -> None:
    """eks:DescribeCluster on this cluster only; moto could not judge it either way."""


LAUNCHES: dict[str, Ec2Call] = {
    "ec2:RunInstances": lambda ec2, c: ec2.run_instances(
        ImageId=c.image_id,
        InstanceType=GPU_INSTANCE,
        MinCount=1,
        MaxCount=1,
        SubnetId=c.subnet_id,
        IamInstanceProfile={"Name": c.node_profile},
        TagSpecifications=[
            {"ResourceType": kind, "Tags": _tag_list(LAUNCH_TAGS)} for kind in ("instance", "volume")
        ],
    ),
    "ec2:CreateFleet": lambda ec2, c: ec2.create_fleet(
        Type="instant",
        LaunchTemplateConfigs=[
            {"LaunchTemplateSpecification": {"LaunchTemplateId": c.launch_template_id, "Version": "$Latest"}}
        ],
        TargetCapacitySpecification={"TotalTargetCapacity": 1, "DefaultTargetCapacityType": "on-demand"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tag_list(LAUNCH_TAGS)}],
    ),
    "ec2:CreateLaunchTemplate": lambda ec2, c: ec2.create_launch_template(
        LaunchTemplateName="karpenter.k8s.aws/new",
        LaunchTemplateData={"ImageId": c.image_id},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": _tag_list(LAUNCH_TAGS)}],
    ),
    "ec2:CreateTags": lambda ec2, c: ec2.create_tags(
        Resources=[c.karpenter_instance], Tags=[{"Key": "karpenter.sh/nodeclaim", "Value": "gpu-burst-x1"}]
    ),
    "ec2:TerminateInstances": lambda ec2, c: ec2.terminate_instances(InstanceIds=[c.karpenter_instance]),
}


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=unresolved_resource("EC2", "images, subnets, launch templates and the cluster's instances"),
)
@pytest.mark.parametrize("call", [pytest.param(call, id=action) for action, call in LAUNCHES.items()])
def test_launching_tagging_and_terminating_its_nodes_succeed(cluster: Cluster, call: Ec2Call) -> None:
    allowed(lambda: call(cluster.controller.client("ec2"), cluster))


@pytest.mark.skip(reason=PASS_ROLE_NOT_CHECKED)
@pytest.mark.parametrize("role", ["the node role (allowed)", "data-platform-admin (denied)"])
def test_pass_role_reaches_only_the_node_role(role: str) -> None:
    """RunInstances with another role's instance profile must be refused for lack of iam:PassRole."""


Probe = Callable[["MotoSession", Cluster], Any]
"""A call made with the controller's session."""

PROBES: dict[str, Probe] = {
    "sqs:ReceiveMessage another queue": lambda s, c: s.client("sqs").receive_message(
        QueueUrl=c.other_queue_url, WaitTimeSeconds=0
    ),
    "sqs:SendMessage own queue (forged interruption)": lambda s, c: s.client("sqs").send_message(
        QueueUrl=c.queue_url, MessageBody='{"detail-type": "EC2 Spot Instance Interruption Warning"}'
    ),
    "sqs:PurgeQueue own queue": lambda s, c: s.client("sqs").purge_queue(QueueUrl=c.queue_url),
    "iam:CreateRole": lambda s, _: s.client("iam").create_role(
        RoleName="karpenter-escape", AssumeRolePolicyDocument=service_trust_policy("ec2.amazonaws.com")
    ),
    "iam:AttachRolePolicy node role": lambda s, _: s.client("iam").attach_role_policy(
        RoleName=f"{CLUSTER}-karpenter-node", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    ),
    "iam:PutRolePolicy own role": lambda s, _: s.client("iam").put_role_policy(
        RoleName=CONTROLLER_ROLE,
        PolicyName="more",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    ),
    "iam:CreateUser": lambda s, _: s.client("iam").create_user(UserName="karpenter-backdoor"),
    # In moto this fails only for a grant on `*`: untagged and tagged instances are refused alike.
    "ec2:TerminateInstances untagged instance": lambda s, c: s.client("ec2").terminate_instances(
        InstanceIds=[c.untagged_instance]
    ),
    "s3:ListBuckets": lambda s, _: s.client("s3").list_buckets(),
    "s3:PutObject": lambda s, c: s.client("s3").put_object(Bucket=c.bucket, Key="model.pt", Body=b"x"),
    "kms:Decrypt": lambda s, c: s.client("kms").decrypt(CiphertextBlob=c.ciphertext, KeyId=c.key_arn),
}


@pytest.mark.parametrize("probe", [pytest.param(probe, id=action) for action, probe in PROBES.items()])
def test_forbidden_probes_are_denied(cluster: Cluster, probe: Probe) -> None:
    denied(lambda: probe(cluster.controller, cluster))


# --- what moto does with conditions -------------------------------------------------------------------------


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=CONDITIONS_IGNORED)
def test_regional_reads_are_denied_in_another_region(cluster: Cluster) -> None:
    # AllowRegionalReadActions is conditioned on aws:RequestedRegion == eu-west-1.
    ec2 = cluster.controller.in_region("us-east-1").client("ec2")
    denied(ec2.describe_instances)


@pytest.fixture(scope="module")
def tag_conditioned(moto_aws: "MotoAws") -> "MotoSession":
    """An identity allowed to terminate only instances tagged as this cluster's, the way Karpenter is."""
    statement = {
        "Effect": "Allow",
        "Action": "ec2:TerminateInstances",
        "Resource": "*",
        "Condition": {"StringEquals": {f"aws:ResourceTag/kubernetes.io/cluster/{CLUSTER}": "owned"}},
    }
    return moto_aws.as_identity(
        {"TerminateOwned": json.dumps({"Version": "2012-10-17", "Statement": [statement]})}
    )


def test_a_tag_conditioned_allow_lets_the_tagged_instance_go(
    moto_aws: "MotoAws", tag_conditioned: "MotoSession", cluster: Cluster
) -> None:
    """The control for the next test: the identity works, so only the condition can make it refuse."""
    ec2 = moto_aws.admin.client("ec2")
    tagged = ec2.run_instances(
        ImageId=cluster.image_id,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": _tag_list(OWNED)}],
    )["Instances"][0]["InstanceId"]
    allowed(lambda: tag_conditioned.client("ec2").terminate_instances(InstanceIds=[tagged]))


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=CONDITIONS_IGNORED)
def test_a_tag_conditioned_allow_denies_an_instance_without_the_tag(
    moto_aws: "MotoAws", tag_conditioned: "MotoSession", cluster: Cluster
) -> None:
    untagged = moto_aws.admin.client("ec2").run_instances(
        ImageId=cluster.image_id,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "billing"}]}],
    )["Instances"][0]["InstanceId"]
    denied(lambda: tag_conditioned.client("ec2").terminate_instances(InstanceIds=[untagged]))
