"""Workload identities whose least privilege is proven by execution against moto, and what moto can prove.

A case is the inline policy documents one workload identity gets, rendered exactly as its component renders
them, plus the names of the resources they are about. Its test module creates those resources in moto with
the admin, turns the documents into a session with `as_identity`, and makes two lists of real calls: the
calls the workload needs (each must succeed) and forbidden probes (each must be refused with AccessDenied).
To add a workload (training, serving...): add its resources dataclass and document builder here, copy
test_workload_identity_example.py, and mark each call moto cannot judge with one of the reasons below.

What moto 5.2.5 enforces (moto/iam/access_control.py, moto/core/authorization.py, moto/core/responses.py):
- Actions: yes, for every service; a call whose action no statement allows is refused.
- Resources: only where moto computes the ARN of the request: S3 (bucket and object), SQS (from QueueUrl),
  IAM (role operations naming a RoleName) and STS AssumeRole. Every other request is authorized against
  `*`, so an Allow scoped to an ARN never matches it (refused where AWS allows) and an Allow on `*` does.
- Conditions in identity policies: none. No request context is passed, so every condition counts as met,
  in Allow and in Deny statements alike.
- Trust policies: the principal of sts:AssumeRole (explicit ARNs only) and sts:ExternalId.
- Resource-based policies: only an explicit Deny in a bucket policy (object operations) and a key policy's
  Deny of kms:DescribeKey; queue policies and every other key-policy statement are ignored.
- iam:PassRole and session policies: not evaluated.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.exceptions import ClientError  # type: ignore[import-untyped]

REGION = "eu-west-1"
"""Every identity is rendered for and called in this region."""
PARTITION = "aws"
"""The partition of every ARN moto hands out here."""

MOTO = "moto 5.2.5"


def unresolved_resource(service: str, scope: str) -> str:
    """Why a call on a resource-scoped grant is refused by moto but would be allowed by AWS."""
    return (
        f"{MOTO} authorizes {service} requests against Resource '*' (only S3, SQS by QueueUrl, IAM roles and "
        f"STS AssumeRole carry their ARN), so the Allow scoped to {scope} never matches; AWS matches it"
    )


CONDITIONS_IGNORED = (
    f"{MOTO} evaluates no Condition of an identity policy (check_action_permitted passes no request context), "
    "so a conditioned Allow acts unconditionally; AWS refuses the request"
)
PASS_ROLE_NOT_CHECKED = (
    f"{MOTO} never checks iam:PassRole (RunInstances with an instance profile succeeds for a caller granted "
    "ec2:RunInstances alone), so neither passing the node role nor refusing another role can be observed"
)
SSE_KMS_NOT_CHECKED = (
    f"{MOTO}'s S3 never calls KMS as the requester for SSE-KMS (it records the key id only), so object reads "
    "and writes prove nothing about kms:Decrypt or kms:GenerateDataKey"
)
GET_QUEUE_URL_UNRESOLVED = (
    f"{MOTO} takes the SQS resource from QueueUrl only; GetQueueUrl sends QueueName, so it is authorized "
    "against '*' and the queue-scoped Allow never matches; AWS matches it"
)
EKS_READS_UNSIGNABLE = (
    f"{MOTO} cannot authenticate a body-less REST request under enforcement: for EKS GET and DELETE it "
    "recomputes the signature over its parsed request data instead of the empty body and answers "
    "SignatureDoesNotMatch whatever the policy says, so no EKS read or delete can be judged"
)
NO_SERVICE_PRINCIPALS = (
    f"{MOTO} cannot assume a role as an AWS service principal (its trust check compares the caller's "
    "ARN with Principal.AWS only), so as_identity assumes the role from an explicitly named principal"
)
WEB_IDENTITY_UNUSABLE = (
    f"{MOTO} cannot exercise the IRSA trust: with enforcement on, an (unsigned) AssumeRoleWithWebIdentity "
    "fails inside moto (IAMRequestBase reads the missing Authorization header), and with enforcement off it "
    "issues credentials for any token without reading the trust's sub and aud conditions"
)


def is_access_denied(error: ClientError) -> bool:
    """Whether an error is an authorization refusal (not a bad key, a bad signature or a missing resource).

    Only a 403 counts: moto's SSM, for one, answers a reserved parameter name with a 400
    AccessDeniedException that says nothing about the caller's policy. moto answers refusals of JSON-protocol
    services (logs, kms, sqs...) with IAM's XML error body, which botocore cannot parse: the code arrives as
    the HTTP status and the XML as the message.
    """
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    if status != 403:
        return False
    return code in ("AccessDenied", "AccessDeniedException") or (
        code == "403" and "<Code>AccessDenied</Code>" in message
    )


T = TypeVar("T")


def allowed(call: Callable[[], T]) -> T:
    """Run a call the identity needs; an AccessDenied fails the test, any other error propagates."""
    try:
        return call()
    except ClientError as error:
        if is_access_denied(error):
            raise AssertionError(f"needed call was refused: {error}") from error
        raise


def denied(call: Callable[[], Any]) -> None:
    """Run a forbidden probe; it must be refused with AccessDenied (not fail for any other reason)."""
    try:
        call()
    except ClientError as error:
        if is_access_denied(error):
            return
        raise
    raise AssertionError("forbidden probe was allowed")


# --- model training ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingStorage:
    """What a model-training job touches: its dataset prefix, its model prefix, the key encrypting both."""

    datasets_bucket: str
    dataset_prefix: str
    """Ends with `/`: the job reads objects under it and lists it."""
    models_bucket: str
    model_prefix: str
    """Ends with `/`: the job writes model artifacts under it and lists it."""
    key_arn: str
    """The KMS key both buckets use for SSE-KMS."""


def model_training_documents(storage: TrainingStorage, region: str = REGION) -> dict[str, str]:
    """The trainer's inline policies, written to pass AwsWorkloadIdentity's construction check.

    Reads one dataset prefix, writes (never deletes or overwrites versions of) one model prefix, lists only
    those prefixes, and uses one key only through S3 in this region.
    """
    s3 = f"arn:{PARTITION}:s3:::"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadDataset",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"{s3}{storage.datasets_bucket}/{storage.dataset_prefix}*",
        },
        {
            "Sid": "ListDataset",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"{s3}{storage.datasets_bucket}",
            "Condition": {"StringLike": {"s3:prefix": f"{storage.dataset_prefix}*"}},
        },
        {
            "Sid": "WriteModels",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{s3}{storage.models_bucket}/{storage.model_prefix}*",
        },
        {
            "Sid": "ListModels",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": f"{s3}{storage.models_bucket}",
            "Condition": {"StringLike": {"s3:prefix": f"{storage.model_prefix}*"}},
        },
        {
            "Sid": "UseStorageKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": storage.key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        },
    ]
    return {"ModelTraining": _document(statements)}


def _document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
