"""AwsServerlessRag: retrieval-augmented generation on AWS that costs nothing while idle.

Two Lambda functions from container images pinned by digest: `query`, behind an API Gateway HTTP API
(JWT or IAM authorization on the route, stage throttling, access logs), and `ingest`, invoked by the
documents bucket's ObjectCreated and ObjectRemoved events (workloads/rag/rag/lambda_handler.py: it
ingests the object as it is then, or deletes its chunks when it is gone). Vectors live in S3 Vectors (a vector bucket and one index): it
bills per request and per GB stored, with no capacity running while idle, unlike OpenSearch Serverless or
a provisioned database. One customer-managed KMS key (rotated) encrypts the documents, the vectors and
every log group.

Output conventions shared with the GCP and Azure components: `documents_bucket` is the bucket name to
upload to, `ingest_trigger` the URL of the location whose new objects trigger ingestion (`s3://<bucket>/`),
`vector_store_id` the vector index ARN, the identities the two execution role ARNs.
"""

import json
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from components.s3 import secure_bucket_settings
from components.tags import name_tagged

TYPE_TOKEN = "mlopshub:index:AwsServerlessRag"

LOG_RETENTION_DAYS = (180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
"""The CloudWatch retention periods of at least 180 days (log-retention-at-least-180-days)."""

ECR_IMAGE_BY_DIGEST = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9]+(?:[._/-][a-z0-9]+)*@sha256:[0-9a-f]{64}$"
)
"""An ECR image URI pinned by digest: the only image reference Lambda accepts that cannot change under it."""

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
"""Component names: they become Lambda, bucket and vector-bucket names, which are lower-case and short."""

LAMBDA_ENTRY_POINT = ("python", "-m", "awslambdaric")
"""The AWS Lambda runtime interface client, installed in the RAG image (workloads/rag/requirements.txt)."""
LAMBDA_HANDLER = "rag.lambda_handler.handler"
"""One handler for both functions: it tells query requests from object events by the event's shape."""
QUERY_ROUTE = "POST /query"
"""The route workloads/rag/rag/lambda_handler.py answers questions on."""
DOCUMENT_EVENTS = ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
"""Object events that invoke ingest: new or replaced documents are ingested, deleted ones removed."""
EMBEDDING_DIMENSION = 384
"""Dimensions of the workload's packaged embedding model (all-MiniLM-L6-v2)."""
DISTANCE_METRIC = "cosine"
"""The only metric the workload's grounding threshold (RAG_MAX_DISTANCE, a cosine distance) means anything in."""

TEXT_METADATA_KEY = "text"
"""Vector metadata key holding the chunk's text (workloads/rag/rag/s3vectors_store.py writes it)."""

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "principal": "$context.authorizer.claims.sub",
        "caller": "$context.identity.caller",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
    }
)
"""API Gateway access-log line: who called, when, what route, with what result."""


class QueryAuthorization(StrEnum):
    """How callers of the query route authenticate."""

    AWS_IAM = "AWS_IAM"
    """SigV4-signed requests from IAM principals allowed execute-api:Invoke."""
    JWT = "JWT"
    """Bearer tokens from an OIDC issuer, checked against `jwt_issuer` and `jwt_audience`."""


class AwsServerlessRagArgs(TypedDict):
    """Arguments of AwsServerlessRag."""

    query_image_uri: str
    """ECR image of the query function, pinned by digest (`<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<64 hex>`)."""
    ingest_image_uri: str
    """ECR image of the ingest function, pinned by digest."""
    throttling_burst_limit: int
    """Requests the API stage admits in a burst (> 0): caps extraction of the model by query volume."""
    throttling_rate_limit: float
    """Steady requests per second the API stage admits (> 0)."""
    authorization: NotRequired[QueryAuthorization]
    """`AWS_IAM` (default) or `JWT` on the query route; never NONE."""
    jwt_issuer: NotRequired[str]
    """OIDC issuer URL (https) of the bearer tokens; required with `JWT`."""
    jwt_audience: NotRequired[Sequence[str]]
    """Audiences the tokens must carry; required with `JWT`."""
    query_reserved_concurrency: NotRequired[int]
    """Concurrent executions reserved for (and capping) the query function (default 10, at least 1)."""
    ingest_reserved_concurrency: NotRequired[int]
    """Concurrent executions reserved for (and capping) the ingest function (default 2, at least 1)."""
    embedding_dimension: NotRequired[int]
    """Dimensions of the stored embeddings (default 384, the workload's model; S3 Vectors accepts 1 to 4096)."""
    distance_metric: NotRequired[str]
    """`cosine`, the default and only value: the workload's grounding threshold is a cosine distance."""
    log_retention_days: NotRequired[int]
    """Days function and access logs are kept; a CloudWatch period of at least 180 (default 365)."""
    memory_size_mb: NotRequired[int]
    """Memory of each function in MB (default 2048)."""
    timeout_seconds: NotRequired[int]
    """Timeout of each function in seconds (default 60; at most 900)."""
    noncurrent_version_days: NotRequired[int]
    """Days replaced or deleted document versions are kept before S3 expires them (default 90)."""
    access_log_bucket: NotRequired[pulumi.Input[str]]
    """Bucket receiving S3 server access logs of the documents bucket (prefix `<name>-documents/`); none when unset."""
    tags: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Tags added to every taggable child, on top of the provider's default tags."""


def _statement(sid: str, actions: list[str], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources, **extra}


def key_policy(
    account_id: str,
    partition: str,
    region: str,
    log_group_names: Sequence[str],
    vector_bucket: str,
    role_names: tuple[str, str],
) -> str:
    """KMS key policy: account administration, CloudWatch Logs for the named groups, S3 Vectors indexing,
    and the two execution roles (`(query, ingest)` role names).

    The roles' key use is granted here rather than in their identity policies: the key's ARN is only
    known after creation, and identity policies naming it could not be checked by the gate in preview.
    Query may only decrypt (vectors, environment); ingest also generates data keys (documents, vectors).
    """
    query_role, ingest_role = (f"arn:{partition}:iam::{account_id}:role/{role}" for role in role_names)
    logs_arns = [f"arn:{partition}:logs:{region}:{account_id}:log-group:{group}" for group in log_group_names]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
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
                    "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": logs_arns}},
                },
                {
                    "Sid": "QueryFunctionDecrypt",
                    "Effect": "Allow",
                    "Principal": {"AWS": query_role},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                },
                {
                    "Sid": "IngestFunctionUse",
                    "Effect": "Allow",
                    "Principal": {"AWS": ingest_role},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                },
                {
                    # S3 Vectors' background indexing reads the vectors it is handed under this key.
                    "Sid": "S3VectorsIndexing",
                    "Effect": "Allow",
                    "Principal": {"Service": "indexing.s3vectors.amazonaws.com"},
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account_id},
                        "ArnLike": {
                            "aws:SourceArn": f"arn:{partition}:s3vectors:{region}:{account_id}:bucket/{vector_bucket}"
                        },
                    },
                },
            ],
        }
    )


def lambda_assume_role_policy(account_id: str) -> str:
    """Trust policy: the Lambda service, for functions of this account only (confused deputy)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        }
    )


def query_role_policy(log_group_arn: str, index_arn: str) -> str:
    """Query permissions: its own logs and reading the vector index (the key policy lets it decrypt)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                _statement("OwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"]),
                _statement("ReadIndex", ["s3vectors:GetVectors", "s3vectors:QueryVectors"], [index_arn]),
            ],
        }
    )


def ingest_role_policy(
    log_group_arn: str, documents_bucket_arn: str, index_arn: str, dead_letter_queue_arn: str
) -> str:
    """Ingest permissions: its own logs, read the documents, write the vector index, dead-letter failed
    events (key use: key policy).

    `s3:ListBucket` makes S3 answer a deleted document's lookup with 404 rather than 403, so a removal can
    be told from a denied read. No `s3vectors:ListVectors`: ingestion never counts the index (a paged scan
    billed per request), it only writes and deletes by key.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                _statement("OwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"]),
                _statement(
                    "ReadDocuments", ["s3:GetObject", "s3:GetObjectVersion"], [f"{documents_bucket_arn}/*"]
                ),
                _statement("ListDocuments", ["s3:ListBucket"], [documents_bucket_arn]),
                _statement(
                    "WriteIndex",
                    ["s3vectors:PutVectors", "s3vectors:DeleteVectors", "s3vectors:GetVectors"],
                    [index_arn],
                ),
                _statement("DeadLetter", ["sqs:SendMessage"], [dead_letter_queue_arn]),
            ],
        }
    )


def documents_bucket_policy(bucket_arn: str) -> str:
    """Bucket policy: deny every request that does not use TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _check_int(owner: str, key: str, value: object, lowest: int, highest: int | None = None) -> None:
    """Raise unless `value` is an int from `lowest` to `highest` (no upper bound when None)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < lowest
        or (highest is not None and value > highest)
    ):
        bounds = f"from {lowest} to {highest}" if highest is not None else f"at least {lowest}"
        raise ValueError(f"{owner}: {key} {value!r} must be an integer {bounds}")


def _validate_authorization(owner: str, args: AwsServerlessRagArgs) -> None:
    authorization = args.get("authorization", QueryAuthorization.AWS_IAM)
    if authorization not in set(QueryAuthorization):
        allowed = ", ".join(a.value for a in QueryAuthorization)
        raise ValueError(f"{owner}: authorization {authorization!r} is not one of {allowed}")
    if authorization == QueryAuthorization.JWT:
        issuer = args.get("jwt_issuer")
        if not isinstance(issuer, str) or not issuer.startswith("https://"):
            raise ValueError(f"{owner}: authorization JWT needs jwt_issuer as an https URL, got {issuer!r}")
        if not list(args.get("jwt_audience", [])):
            raise ValueError(f"{owner}: authorization JWT needs a non-empty jwt_audience")


def _validate(name: str, args: AwsServerlessRagArgs) -> None:
    owner = f"AwsServerlessRag {name}"
    if not NAME_PATTERN.match(name):
        raise ValueError(f"{owner}: name {name!r} must be 3 to 24 lower-case letters, digits or hyphens")
    for key, uri in (
        ("query_image_uri", args["query_image_uri"]),
        ("ingest_image_uri", args["ingest_image_uri"]),
    ):
        if not isinstance(uri, str) or not ECR_IMAGE_BY_DIGEST.match(uri):
            raise ValueError(
                f"{owner}: {key} {uri!r} is not an ECR image pinned by digest (@sha256:<64 hex>)"
            )
    _check_int(owner, "throttling_burst_limit", args["throttling_burst_limit"], 1)
    rate = args["throttling_rate_limit"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
        raise ValueError(f"{owner}: throttling_rate_limit {rate!r} must be positive")
    _validate_authorization(owner, args)
    # 0 reserved concurrency would switch the function off rather than scale it.
    _check_int(owner, "query_reserved_concurrency", args.get("query_reserved_concurrency", 10), 1)
    _check_int(owner, "ingest_reserved_concurrency", args.get("ingest_reserved_concurrency", 2), 1)
    retention = args.get("log_retention_days", 365)
    if retention not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{owner}: log_retention_days {retention!r} is not a CloudWatch retention period of at least 180 "
            f"days ({', '.join(map(str, LOG_RETENTION_DAYS))})"
        )
    _check_int(owner, "embedding_dimension", args.get("embedding_dimension", EMBEDDING_DIMENSION), 1, 4096)
    metric = args.get("distance_metric", DISTANCE_METRIC)
    if metric != DISTANCE_METRIC:
        raise ValueError(
            f"{owner}: distance_metric {metric!r} is not cosine, the metric of the workload's grounding "
            "threshold (RAG_MAX_DISTANCE)"
        )
    _check_int(owner, "timeout_seconds", args.get("timeout_seconds", 60), 1, 900)
    _check_int(owner, "memory_size_mb", args.get("memory_size_mb", 2048), 128, 10240)
    _check_int(owner, "noncurrent_version_days", args.get("noncurrent_version_days", 90), 1)


class AwsServerlessRag(pulumi.ComponentResource):
    """Query and ingest Lambdas, an authenticated throttled HTTP API, a documents bucket and S3 Vectors."""

    query_url: pulumi.Output[str]
    """HTTPS URL of the query route (POST; JWT or SigV4 required)."""
    ingest_trigger: pulumi.Output[str]
    """Location whose new objects trigger ingestion (`s3://<bucket>/`)."""
    documents_bucket: pulumi.Output[str]
    """Name of the documents bucket."""
    vector_store_id: pulumi.Output[str]
    """ARN of the S3 Vectors index."""
    query_identity: pulumi.Output[str]
    """ARN of the query function's execution role."""
    ingest_identity: pulumi.Output[str]
    """ARN of the ingest function's execution role."""

    def __init__(
        self, name: str, args: AwsServerlessRagArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        _validate(name, args)
        authorization = QueryAuthorization(args.get("authorization", QueryAuthorization.AWS_IAM))
        retention = args.get("log_retention_days", 365)
        tags = args.get("tags")
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)

        account = aws.get_caller_identity_output(opts=invoke).account_id
        region = aws.get_region_output(opts=invoke).region
        partition = aws.get_partition_output(opts=invoke).partition

        # Fixed names make ARNs known before deployment, so policies can be pinned and gated in preview.
        query_function_name = f"{name}-query"
        ingest_function_name = f"{name}-ingest"
        query_log_name = f"/aws/lambda/{query_function_name}"
        ingest_log_name = f"/aws/lambda/{ingest_function_name}"
        access_log_name = f"/mlops-hub/rag/{name}/api-access"
        vector_bucket_name = f"{name}-vectors"
        index_name = "documents"
        dead_letter_queue_name = f"{name}-ingest-dead-letters"
        query_role_name = f"{name}-rag-query"
        ingest_role_name = f"{name}-rag-ingest"

        def account_arn(service: str, resource: str) -> pulumi.Output[str]:
            return pulumi.Output.all(partition, region, account).apply(
                lambda v: f"arn:{v[0]}:{service}:{v[1]}:{v[2]}:{resource}"
            )

        trust = account.apply(lambda_assume_role_policy)
        query_role = aws.iam.Role(
            f"{name}-query-role",
            description=f"Runs the query function of RAG {name}: reads the vector index only",
            name=query_role_name,
            assume_role_policy=trust,
            tags=name_tagged(tags, f"{name}-query-role"),
            opts=child,
        )
        ingest_role = aws.iam.Role(
            f"{name}-ingest-role",
            description=f"Runs the ingest function of RAG {name}: reads documents, writes the vector index",
            name=ingest_role_name,
            assume_role_policy=trust,
            tags=name_tagged(tags, f"{name}-ingest-role"),
            opts=child,
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts documents, vectors and logs of RAG {name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account, partition, region).apply(
                lambda v: key_policy(
                    v[0],
                    v[1],
                    v[2],
                    [query_log_name, ingest_log_name, access_log_name],
                    vector_bucket_name,
                    (query_role_name, ingest_role_name),
                )
            ),
            tags=name_tagged(tags, f"{name}-key"),
            # KMS rejects a key policy naming principals that do not exist yet.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[query_role, ingest_role]),
        )
        log_groups = {
            role: aws.cloudwatch.LogGroup(
                f"{name}-{role}-logs",
                name=group,
                retention_in_days=retention,
                kms_key_id=key.arn,
                tags=name_tagged(tags, f"{name}-{role}-logs"),
                opts=child,
            )
            for role, group in (
                ("query", query_log_name),
                ("ingest", ingest_log_name),
                ("access", access_log_name),
            )
        }

        bucket_name = pulumi.Output.all(account, region).apply(lambda v: f"{name}-documents-{v[0]}-{v[1]}")
        bucket_arn = pulumi.Output.all(partition, bucket_name).apply(lambda v: f"arn:{v[0]}:s3:::{v[1]}")
        bucket = aws.s3.Bucket(
            f"{name}-documents", bucket=bucket_name, tags=name_tagged(tags, f"{name}-documents"), opts=child
        )
        secure_bucket_settings(
            f"{name}-documents",
            bucket,
            key.arn,
            args.get("noncurrent_version_days", 90),
            child,
            lifecycle_rule_id="expire-noncurrent-versions",
        )
        if "access_log_bucket" in args:
            aws.s3.BucketLogging(
                f"{name}-documents-access-logs",
                bucket=bucket.id,
                target_bucket=args["access_log_bucket"],
                target_prefix=f"{name}-documents/",
                opts=child,
            )
        aws.s3.BucketPolicy(
            f"{name}-documents-tls-only",
            bucket=bucket.id,
            policy=bucket_arn.apply(documents_bucket_policy),
            opts=child,
        )

        vector_bucket = aws.s3.VectorsVectorBucket(
            f"{name}-vectors",
            vector_bucket_name=vector_bucket_name,
            encryption_configurations=[{"sse_type": "aws:kms", "kms_key_arn": key.arn}],
            tags=name_tagged(tags, f"{name}-vectors"),
            opts=child,
        )
        index = aws.s3.VectorsIndex(
            f"{name}-index",
            vector_bucket_name=vector_bucket.vector_bucket_name,
            index_name=index_name,
            data_type="float32",
            dimension=args.get("embedding_dimension", EMBEDDING_DIMENSION),
            distance_metric=DISTANCE_METRIC,
            # Filterable metadata is capped at 2 KB per vector; a chunk's text can be longer, and the
            # workload never filters on it.
            metadata_configuration={"non_filterable_metadata_keys": [TEXT_METADATA_KEY]},
            tags=name_tagged(tags, f"{name}-index"),
            opts=child,
        )
        index_arn = account_arn("s3vectors", f"bucket/{vector_bucket_name}/index/{index_name}")

        query_policy = aws.iam.RolePolicy(
            f"{name}-query-policy",
            role=query_role.id,
            policy=pulumi.Output.all(account_arn("logs", f"log-group:{query_log_name}"), index_arn).apply(
                lambda v: query_role_policy(*v)
            ),
            opts=child,
        )
        ingest_policy = aws.iam.RolePolicy(
            f"{name}-ingest-policy",
            role=ingest_role.id,
            policy=pulumi.Output.all(
                account_arn("logs", f"log-group:{ingest_log_name}"),
                bucket_arn,
                index_arn,
                account_arn("sqs", dead_letter_queue_name),
            ).apply(lambda v: ingest_role_policy(*v)),
            opts=child,
        )

        # S3 invokes ingest asynchronously: events that keep failing land here instead of vanishing.
        dead_letters = aws.sqs.Queue(
            f"{name}-ingest-dead-letters",
            name=dead_letter_queue_name,
            kms_master_key_id=key.arn,
            message_retention_seconds=14 * 24 * 3600,
            tags=name_tagged(tags, f"{name}-ingest-dead-letters"),
            opts=child,
        )

        def function(
            role_name: str,
            function_name: str,
            image: str,
            role: aws.iam.Role,
            reserved: int,
            policy: aws.iam.RolePolicy,
            dead_letters: aws.sqs.Queue | None = None,
            documents_bucket: pulumi.Output[str] | None = None,
        ) -> aws.lambda_.Function:
            return aws.lambda_.Function(
                f"{name}-{role_name}",
                name=function_name,
                package_type="Image",
                image_uri=image,
                # The RAG image's default command is its HTTP server (Cloud Run, Container Apps); on Lambda
                # the same image runs the runtime interface client with the one handler for both roles.
                image_config={
                    "entry_points": list(LAMBDA_ENTRY_POINT),
                    "commands": [LAMBDA_HANDLER],
                    "working_directory": "/app",
                },
                role=role.arn,
                reserved_concurrent_executions=reserved,
                memory_size=args.get("memory_size_mb", 2048),
                timeout=args.get("timeout_seconds", 60),
                logging_config={"log_format": "JSON", "log_group": log_groups[role_name].name},
                environment={
                    "variables": {
                        "RAG_VECTOR_STORE": "s3vectors",
                        "VECTOR_BUCKET": vector_bucket_name,
                        "VECTOR_INDEX": index_name,
                        # Only ingest reads documents; the workload refuses object events without it.
                        **({"DOCUMENTS_BUCKET": documents_bucket} if documents_bucket is not None else {}),
                    }
                },
                kms_key_arn=key.arn,
                # The queue's ARN spelled out (known in preview) rather than read from it, hence depends_on.
                dead_letter_config={"target_arn": account_arn("sqs", dead_letter_queue_name)}
                if dead_letters is not None
                else None,
                tags=name_tagged(tags, f"{name}-{role_name}"),
                # The role's permissions must exist before the first invocation, and the log group before
                # Lambda would create an unencrypted one of the same name.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[policy, log_groups[role_name], *([dead_letters] if dead_letters else [])],
                ),
            )

        query_function = function(
            "query", query_function_name, args["query_image_uri"], query_role,
            args.get("query_reserved_concurrency", 10), query_policy,
        )  # fmt: skip
        ingest_function = function(
            "ingest", ingest_function_name, args["ingest_image_uri"], ingest_role,
            args.get("ingest_reserved_concurrency", 2), ingest_policy, dead_letters, bucket_name,
        )  # fmt: skip

        ingest_permission = aws.lambda_.Permission(
            f"{name}-ingest-from-documents",
            action="lambda:InvokeFunction",
            function=ingest_function.name,
            principal="s3.amazonaws.com",
            source_arn=bucket_arn,
            source_account=account,
            opts=child,
        )
        aws.s3.BucketNotification(
            f"{name}-documents-notification",
            bucket=bucket.id,
            lambda_functions=[{"lambda_function_arn": ingest_function.arn, "events": DOCUMENT_EVENTS}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ingest_permission]),
        )

        api = aws.apigatewayv2.Api(
            f"{name}-api",
            protocol_type="HTTP",
            description=f"Query API of RAG {name}",
            tags=name_tagged(tags, f"{name}-api"),
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-query-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_uri=query_function.arn,
            payload_format_version="2.0",
            opts=child,
        )
        authorizer_id: pulumi.Output[str] | None = None
        if authorization is QueryAuthorization.JWT:
            authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-jwt-authorizer",
                api_id=api.id,
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration={"issuer": args["jwt_issuer"], "audiences": list(args["jwt_audience"])},
                opts=child,
            )
            authorizer_id = authorizer.id
        aws.apigatewayv2.Route(
            f"{name}-query-route",
            api_id=api.id,
            route_key=QUERY_ROUTE,
            authorization_type=authorization.value,
            authorizer_id=authorizer_id,
            target=integration.id.apply(lambda i: f"integrations/{i}"),
            opts=child,
        )
        aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings={
                "throttling_burst_limit": args["throttling_burst_limit"],
                "throttling_rate_limit": float(args["throttling_rate_limit"]),
            },
            access_log_settings={"destination_arn": log_groups["access"].arn, "format": ACCESS_LOG_FORMAT},
            tags=name_tagged(tags, f"{name}-stage"),
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-query-from-api",
            action="lambda:InvokeFunction",
            function=query_function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(api.execution_arn, "/*/", QUERY_ROUTE.replace(" ", "")),
            opts=child,
        )

        self.query_url = pulumi.Output.concat(api.api_endpoint, "/query")
        self.ingest_trigger = pulumi.Output.concat("s3://", bucket.bucket, "/")
        self.documents_bucket = bucket.bucket
        self.vector_store_id = index.index_arn
        self.query_identity = query_role.arn
        self.ingest_identity = ingest_role.arn
        self.register_outputs(
            {
                "query_url": self.query_url,
                "ingest_trigger": self.ingest_trigger,
                "documents_bucket": self.documents_bucket,
                "vector_store_id": self.vector_store_id,
                "query_identity": self.query_identity,
                "ingest_identity": self.ingest_identity,
            }
        )
