"""The VPC flow-logs writer role of AwsNetwork, acting in moto with exactly the policy the component renders.

Proven here: what a stolen writer credential would try is refused (deleting the group or a stream, shortening
retention, detaching the key, creating an IAM user, listing buckets, decrypting with another key), and the
three write calls are not granted on `*`. Not provable in moto (marked, with the reason): that the three calls
succeed on the role's own group, and so that the grant stops at that group (moto authorizes Logs requests
against `*` and refuses them on every group alike); the service trust (`vpc-flow-logs.amazonaws.com`).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from components.network.aws_network import flow_log_key_policy, flow_log_role_policy
from tests.policies.least_privilege.cases import (
    NO_SERVICE_PRINCIPALS,
    PARTITION,
    REGION,
    allowed,
    denied,
    unresolved_resource,
)

if TYPE_CHECKING:
    from tests.policies.least_privilege.conftest import MotoAws, MotoSession

NETWORK = "lp"
OWN_GROUP = f"/mlops-hub/vpc-flow-logs/{NETWORK}"  # AwsNetwork's fixed name for network `lp`
OTHER_GROUP = "/mlops-hub/audit/other-team"
STREAM = "eni-0a1b2c3d-all"


@dataclass(frozen=True)
class FlowLogs:
    writer: "MotoSession"
    own_group_arn: str
    other_key_arn: str
    other_key_ciphertext: bytes


@pytest.fixture(scope="module")
def flow_logs(moto_aws: "MotoAws", as_identity: Callable[..., "MotoSession"]) -> FlowLogs:
    kms = moto_aws.admin.client("kms")
    logs = moto_aws.admin.client("logs")
    flow_key = kms.create_key(
        Description="flow logs of lp",
        Policy=flow_log_key_policy(moto_aws.account_id, PARTITION, REGION, OWN_GROUP),
    )["KeyMetadata"]["Arn"]
    other_key = kms.create_key(Description="another team's data")["KeyMetadata"]["Arn"]
    ciphertext = kms.encrypt(KeyId=other_key, Plaintext=b"another team's secret")["CiphertextBlob"]
    for group in (OWN_GROUP, OTHER_GROUP):
        logs.create_log_group(logGroupName=group, kmsKeyId=flow_key)
        logs.create_log_stream(logGroupName=group, logStreamName=STREAM)
    own_group_arn = moto_aws.arn("logs", f"log-group:{OWN_GROUP}")
    writer = as_identity({"flow-logs": flow_log_role_policy(own_group_arn)})
    return FlowLogs(writer, own_group_arn, other_key, ciphertext)


LogCall = Callable[[Any], Any]
"""A call on a Logs client."""
Probe = Callable[["MotoSession", FlowLogs], Any]
"""A call made with the writer's session."""


def _writes(group: str) -> list[Any]:
    event = {"timestamp": 1_700_000_000_000, "message": "2 123456789012 eni-0a1b2c3d - - - - - - - ACCEPT OK"}
    calls: dict[str, LogCall] = {
        "logs:CreateLogStream": lambda logs: logs.create_log_stream(
            logGroupName=group, logStreamName="eni-new"
        ),
        "logs:PutLogEvents": lambda logs: logs.put_log_events(
            logGroupName=group, logStreamName=STREAM, logEvents=[event]
        ),
        "logs:DescribeLogStreams": lambda logs: logs.describe_log_streams(logGroupName=group),
    }
    return [pytest.param(call, id=action) for action, call in calls.items()]


def test_the_writer_is_the_assumed_role(flow_logs: FlowLogs) -> None:
    identity = flow_logs.writer.client("sts").get_caller_identity()
    assert ":assumed-role/identity-" in identity["Arn"]


@pytest.mark.xfail(
    strict=True, raises=AssertionError, reason=unresolved_resource("CloudWatch Logs", "the flow-log group")
)
@pytest.mark.parametrize("call", _writes(OWN_GROUP))
def test_writes_to_its_own_group_succeed(flow_logs: FlowLogs, call: LogCall) -> None:
    allowed(lambda: call(flow_logs.writer.client("logs")))


@pytest.mark.parametrize("call", _writes(OTHER_GROUP))
def test_writes_to_another_group_are_denied(flow_logs: FlowLogs, call: LogCall) -> None:
    """In moto this fails only for a grant on `*`: moto refuses the writer's own group too (see above)."""
    denied(lambda: call(flow_logs.writer.client("logs")))


PROBES: dict[str, Probe] = {
    "logs:DeleteLogGroup": lambda s, _: s.client("logs").delete_log_group(logGroupName=OWN_GROUP),
    "logs:PutRetentionPolicy": lambda s, _: s.client("logs").put_retention_policy(
        logGroupName=OWN_GROUP, retentionInDays=1
    ),
    "logs:DeleteLogStream": lambda s, _: s.client("logs").delete_log_stream(
        logGroupName=OWN_GROUP, logStreamName=STREAM
    ),
    "logs:DisassociateKmsKey": lambda s, _: s.client("logs").disassociate_kms_key(logGroupName=OWN_GROUP),
    "iam:CreateUser": lambda s, _: s.client("iam").create_user(UserName="flow-logs-backdoor"),
    "s3:ListBuckets": lambda s, _: s.client("s3").list_buckets(),
    "kms:Decrypt another key": lambda s, f: s.client("kms").decrypt(
        CiphertextBlob=f.other_key_ciphertext, KeyId=f.other_key_arn
    ),
}


@pytest.mark.parametrize("probe", [pytest.param(p, id=action) for action, p in PROBES.items()])
def test_forbidden_probes_are_denied(flow_logs: FlowLogs, probe: Probe) -> None:
    denied(lambda: probe(flow_logs.writer, flow_logs))


def test_the_other_keys_ciphertext_decrypts_for_its_owner(moto_aws: "MotoAws", flow_logs: FlowLogs) -> None:
    # The kms:Decrypt probe must be refused for who calls it, not fail on a bad ciphertext.
    kms = moto_aws.admin.client("kms")
    assert kms.decrypt(CiphertextBlob=flow_logs.other_key_ciphertext)["Plaintext"] == b"another team's secret"


@pytest.mark.skip(reason=NO_SERVICE_PRINCIPALS)
def test_only_the_flow_logs_service_of_this_account_assumes_the_role() -> None:
    """The trust is flow_log_assume_role_policy: vpc-flow-logs.amazonaws.com, aws:SourceAccount pinned."""
