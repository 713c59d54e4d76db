"""Behaviour of AwsServerlessRag, and the output contract the three ServerlessRag components share.

The rendered policy documents are compared with golden files in `golden/`. After an intended change to a
document, rewrite them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/components/rag/test_aws_serverless_rag.py -k golden
"""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure
import pulumi_gcp as gcp
import pytest

from components.rag.aws_serverless_rag import (
    TYPE_TOKEN,
    AwsServerlessRag,
    AwsServerlessRagArgs,
    QueryAuthorization,
    documents_bucket_policy,
    ingest_role_policy,
    key_policy,
    lambda_assume_role_policy,
    query_role_policy,
)
from components.rag.azure_serverless_rag import AzureServerlessRag
from components.rag.gcp_serverless_rag import GcpServerlessRag
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

NAME = "rag"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
"""The account the offline getCallerIdentity answer reports."""
DIGEST = "0123456789abcdef" * 4
QUERY_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/rag-query@sha256:{DIGEST}"
INGEST_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/rag-ingest@sha256:{DIGEST}"
BUCKET = f"{NAME}-documents-{ACCOUNT}-{REGION}"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
INDEX_ARN = f"arn:aws:s3vectors:{REGION}:{ACCOUNT}:bucket/{NAME}-vectors/index/documents"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{NAME}-ingest-dead-letters"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"

OUTPUT_NAMES = {
    "query_url",
    "ingest_trigger",
    "documents_bucket",
    "vector_store_id",
    "query_identity",
    "ingest_identity",
}
"""The outputs every ServerlessRag component registers, whatever the cloud."""

STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:aws"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROUTE = "aws:apigatewayv2/route:Route"
STAGE = "aws:apigatewayv2/stage:Stage"
PERMISSION = "aws:lambda/permission:Permission"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


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


def base_args(**overrides: Any) -> AwsServerlessRagArgs:
    return cast(
        AwsServerlessRagArgs,
        {
            "query_image_uri": QUERY_IMAGE,
            "ingest_image_uri": INGEST_IMAGE,
            "throttling_burst_limit": 20,
            "throttling_rate_limit": 10.0,
            **overrides,
        },
    )


def rag_program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit eu-west-1 provider with default tags, and one component per name."""

    def body() -> None:
        provider = aws.Provider(
            "p", region=REGION, default_tags=aws.ProviderDefaultTagsArgs(tags={"team": "t"})
        )
        for name in names or (NAME,):
            AwsServerlessRag(name, base_args(**overrides), opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def rag(pulumi_run: Recorder) -> Recorder:
    pulumi_run.run(rag_program(tags={"extra": "x"}))
    return pulumi_run


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def assert_matches_golden(name: str, document: str | dict[str, Any]) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    rendered = json.loads(document) if isinstance(document, str) else document
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(rendered, indent=2) + "\n")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert rendered == json.loads(path.read_text())


# Pure helpers, no mocks.


@pytest.mark.parametrize(
    ("golden", "render"),
    [
        ("aws_query_role_policy", lambda: query_role_policy(f"{LOGS}/aws/lambda/rag-query", INDEX_ARN)),
        (
            "aws_ingest_role_policy",
            lambda: ingest_role_policy(f"{LOGS}/aws/lambda/rag-ingest", BUCKET_ARN, INDEX_ARN, DLQ_ARN),
        ),
        (
            "aws_key_policy",
            lambda: key_policy(
                ACCOUNT,
                "aws",
                REGION,
                ["/aws/lambda/rag-query", "/aws/lambda/rag-ingest", "/mlops-hub/rag/rag/api-access"],
                "rag-vectors",
                ("rag-rag-query", "rag-rag-ingest"),
            ),
        ),
        ("aws_lambda_assume_role_policy", lambda: lambda_assume_role_policy(ACCOUNT)),
        ("aws_documents_bucket_policy", lambda: documents_bucket_policy(BUCKET_ARN)),
    ],
)
def test_documents_match_golden(golden: str, render: Callable[[], str]) -> None:
    assert_matches_golden(golden, render())


def test_query_reads_the_index_only_and_ingest_cannot_touch_anything_else() -> None:
    query = json.loads(query_role_policy(f"{LOGS}q", INDEX_ARN))["Statement"]
    ingest = json.loads(ingest_role_policy(f"{LOGS}i", BUCKET_ARN, INDEX_ARN, DLQ_ARN))["Statement"]

    assert {a for s in query for a in s["Action"] if a.startswith("s3vectors:")} == {
        "s3vectors:GetVectors",
        "s3vectors:QueryVectors",
    }
    assert not [a for s in query for a in s["Action"] if a.startswith("s3:")]
    # Ingest writes and deletes by key and never counts: no ListVectors (tests/workloads/rag checks the
    # event path makes no such call).
    assert {a for s in ingest for a in s["Action"] if a.startswith("s3vectors:")} == {
        "s3vectors:PutVectors",
        "s3vectors:DeleteVectors",
        "s3vectors:GetVectors",
    }
    # ListBucket on the bucket only: a deleted document's lookup is then a 404, not a 403.
    assert [s["Resource"] for s in ingest if "s3:ListBucket" in s["Action"]] == [[BUCKET_ARN]]
    for statement in query + ingest:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
        assert all(resource != "*" for resource in statement["Resource"])


# What the component registers (preview, offline mocks).


def test_role_policies_are_known_in_preview_and_match_golden(rag: Recorder) -> None:
    # The policies name spelled-out ARNs, so the gate can check them before anything exists.
    assert_matches_golden(
        "aws_query_role_policy", json.loads(rag.named(f"{NAME}-query-policy").inputs["policy"])
    )
    assert_matches_golden(
        "aws_ingest_role_policy", json.loads(rag.named(f"{NAME}-ingest-policy").inputs["policy"])
    )
    assert json.loads(rag.named(f"{NAME}-key").inputs["policy"]) == json.loads(
        (GOLDEN_DIR / "aws_key_policy.json").read_text()
    )


def test_vector_store_is_s3_vectors_and_nothing_provisioned(rag: Recorder) -> None:
    vector_bucket = rag.one("aws:s3/vectorsVectorBucket:VectorsVectorBucket")
    index = rag.one("aws:s3/vectorsIndex:VectorsIndex")

    assert vector_bucket.inputs["vectorBucketName"] == f"{NAME}-vectors"
    assert vector_bucket.inputs["encryptionConfigurations"] == [
        {"sseType": "aws:kms", "kmsKeyArn": "[unknown]"}
    ]
    assert (index.inputs["indexName"], index.inputs["dataType"]) == ("documents", "float32")
    # The workload's model (all-MiniLM-L6-v2) and its grounding threshold's metric.
    assert (index.inputs["dimension"], index.inputs["distanceMetric"]) == (384, "cosine")
    # The workload stores chunk text as metadata; filterable metadata is capped at 2 KB per vector.
    assert index.inputs["metadataConfiguration"] == {"nonFilterableMetadataKeys": ["text"]}
    # Nothing that bills by the hour while idle.
    assert not [r for r in rag.resources if r.type.startswith(("aws:rds/", "aws:opensearch/", "aws:ec2/"))]


def test_functions_scale_to_zero_with_reserved_concurrency(rag: Recorder) -> None:
    query = rag.named(f"{NAME}-query")
    ingest = rag.named(f"{NAME}-ingest")

    assert (query.inputs["packageType"], query.inputs["imageUri"]) == ("Image", QUERY_IMAGE)
    assert (ingest.inputs["packageType"], ingest.inputs["imageUri"]) == ("Image", INGEST_IMAGE)
    assert query.inputs["reservedConcurrentExecutions"] == 10
    assert ingest.inputs["reservedConcurrentExecutions"] == 2
    assert "provisionedConcurrentExecutions" not in query.inputs
    assert not rag.of_type("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig")
    assert ingest.inputs["deadLetterConfig"] == {"targetArn": DLQ_ARN}
    assert depends_on(query, "role") == [f"{NAME}-query-role"]
    assert depends_on(ingest, "role") == [f"{NAME}-ingest-role"]


def test_functions_get_the_workload_store_settings(rag: Recorder) -> None:
    # The names workloads/rag/rag/settings.py reads: RAG_VECTOR_STORE selects S3VectorsStore, and only
    # ingest is told the documents bucket (the workload refuses object events without it).
    store = {"RAG_VECTOR_STORE": "s3vectors", "VECTOR_BUCKET": f"{NAME}-vectors", "VECTOR_INDEX": "documents"}
    assert rag.named(f"{NAME}-query").inputs["environment"] == {"variables": store}
    assert rag.named(f"{NAME}-ingest").inputs["environment"] == {
        "variables": {**store, "DOCUMENTS_BUCKET": BUCKET}
    }


def test_functions_run_the_image_under_the_lambda_runtime_client(rag: Recorder) -> None:
    # The image's own CMD is the HTTP server; on Lambda both functions start awslambdaric with the one handler.
    expected = {
        "entryPoints": ["python", "-m", "awslambdaric"],
        "commands": ["rag.lambda_handler.handler"],
        "workingDirectory": "/app",
    }
    assert rag.named(f"{NAME}-query").inputs["imageConfig"] == expected
    assert rag.named(f"{NAME}-ingest").inputs["imageConfig"] == expected


def test_reserved_concurrency_is_an_argument(pulumi_run: Recorder) -> None:
    pulumi_run.run(rag_program(query_reserved_concurrency=50, ingest_reserved_concurrency=1))

    assert pulumi_run.named(f"{NAME}-query").inputs["reservedConcurrentExecutions"] == 50
    assert pulumi_run.named(f"{NAME}-ingest").inputs["reservedConcurrentExecutions"] == 1


def test_query_route_requires_iam_by_default(rag: Recorder) -> None:
    route = rag.one(ROUTE)

    assert route.inputs["routeKey"] == "POST /query"
    assert route.inputs["authorizationType"] == "AWS_IAM"
    assert not rag.of_type("aws:apigatewayv2/authorizer:Authorizer")
    assert rag.one("aws:apigatewayv2/api:Api").inputs["protocolType"] == "HTTP"


def test_query_route_with_jwt(pulumi_run: Recorder) -> None:
    pulumi_run.run(
        rag_program(
            authorization=QueryAuthorization.JWT,
            jwt_issuer="https://issuer.example.com/",
            jwt_audience=["rag"],
        )
    )
    route = pulumi_run.one(ROUTE)
    authorizer = pulumi_run.one("aws:apigatewayv2/authorizer:Authorizer")

    assert route.inputs["authorizationType"] == "JWT"
    assert depends_on(route, "authorizerId") == [f"{NAME}-jwt-authorizer"]
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["jwtConfiguration"] == {
        "issuer": "https://issuer.example.com/",
        "audiences": ["rag"],
    }


def test_stage_throttles_and_logs_access(rag: Recorder) -> None:
    stage = rag.one(STAGE)

    assert stage.inputs["defaultRouteSettings"] == {"throttlingBurstLimit": 20, "throttlingRateLimit": 10.0}
    assert stage.inputs["name"] == "$default"
    assert depends_on(stage, "accessLogSettings") == [f"{NAME}-access-logs"]
    assert json.loads(stage.inputs["accessLogSettings"]["format"])["requestId"] == "$context.requestId"


def test_logs_encrypted_and_retained(rag: Recorder) -> None:
    groups = {r.name: r for r in rag.of_type(LOG_GROUP)}

    assert {name: g.inputs["name"] for name, g in groups.items()} == {
        f"{NAME}-query-logs": f"/aws/lambda/{NAME}-query",
        f"{NAME}-ingest-logs": f"/aws/lambda/{NAME}-ingest",
        f"{NAME}-access-logs": f"/mlops-hub/rag/{NAME}/api-access",
    }
    assert all(g.inputs["retentionInDays"] == 365 for g in groups.values())
    assert all(depends_on(g, "kmsKeyId") == [f"{NAME}-key"] for g in groups.values())
    assert rag.one("aws:kms/key:Key").inputs["enableKeyRotation"] is True


def test_documents_bucket_hardened_and_triggers_ingest(rag: Recorder) -> None:
    bucket = rag.named(f"{NAME}-documents")
    access = rag.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    encryption = rag.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    notification = rag.one("aws:s3/bucketNotification:BucketNotification")
    permission = rag.named(f"{NAME}-ingest-from-documents")

    assert bucket.inputs["bucket"] == BUCKET
    assert all(access.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
    assert access.inputs["restrictPublicBuckets"] is True
    [rule] = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert rule["bucketKeyEnabled"] is True
    assert depends_on(encryption, "rules") == [f"{NAME}-key"]
    assert rag.one("aws:s3/bucketVersioning:BucketVersioning").inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    assert json.loads(rag.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"]) == json.loads(
        documents_bucket_policy(BUCKET_ARN)
    )
    # Removals too: the workload deletes a removed document's chunks.
    assert notification.inputs["lambdaFunctions"][0]["events"] == ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]
    assert depends_on(notification, "lambdaFunctions") == [f"{NAME}-ingest"]
    assert (permission.inputs["principal"], permission.inputs["sourceArn"]) == (
        "s3.amazonaws.com",
        BUCKET_ARN,
    )
    assert permission.inputs["sourceAccount"] == ACCOUNT


def test_api_may_invoke_only_the_query_route(rag: Recorder) -> None:
    permission = rag.named(f"{NAME}-query-from-api")

    assert permission.inputs["principal"] == "apigateway.amazonaws.com"
    assert depends_on(permission, "function") == [f"{NAME}-query"]
    assert depends_on(permission, "sourceArn") == [f"{NAME}-api"]


def test_parenting_providers_names_and_tags(rag: Recorder) -> None:
    record = component(rag)
    provider = rag.one(PROVIDER)
    others = [r for r in rag.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert record.type == TYPE_TOKEN == "mlopshub:index:AwsServerlessRag"
    assert rag.children_of(record) == others
    assert all(r.provider == provider.urn for r in others)
    assert all(r.name.startswith(f"{NAME}-") for r in others)
    for resource in others:
        found = rag.tags_of(resource)
        if found is not None:
            assert (found["extra"], found["team"], found["Name"]) == ("x", "t", resource.name)


def test_outputs(rag: Recorder) -> None:
    outputs = component(rag).outputs

    assert outputs is not None
    assert set(outputs) == OUTPUT_NAMES
    assert outputs["documents_bucket"] == BUCKET
    assert outputs["ingest_trigger"] == f"s3://{BUCKET}/"


def test_two_instances_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(rag_program("one", "two"))
    urns = [r.urn for r in pulumi_run.resources]
    names = {n: {r.name for r in pulumi_run.children_of(component(pulumi_run, n))} for n in ("one", "two")}
    # Names that are unique per account and region (or globally, for buckets).
    named = {
        FUNCTION: "name",
        LOG_GROUP: "name",
        "aws:iam/role:Role": "name",
        "aws:sqs/queue:Queue": "name",
        "aws:s3/bucket:Bucket": "bucket",
        "aws:s3/vectorsVectorBucket:VectorsVectorBucket": "vectorBucketName",
    }
    physical = [r.inputs[named[r.type]] for r in pulumi_run.resources if r.type in named]

    assert len(urns) == len(set(urns))
    assert names["one"].isdisjoint(names["two"])
    assert len(names["one"]) == len(names["two"])
    assert len(physical) == 20
    assert len(physical) == len(set(physical)), "physical names collide"


BAD_ARGS = [
    pytest.param(
        {"query_image_uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/rag-query:latest"},
        "query_image_uri",
        id="image-tag",
    ),
    pytest.param(
        {"ingest_image_uri": f"docker.io/library/rag@sha256:{DIGEST}"}, "ingest_image_uri", id="not-ecr"
    ),
    pytest.param({"throttling_burst_limit": 0}, "throttling_burst_limit 0", id="burst-0"),
    pytest.param({"throttling_rate_limit": -1}, "throttling_rate_limit -1", id="rate-negative"),
    pytest.param({"log_retention_days": 90}, "log_retention_days 90", id="retention-90"),
    pytest.param({"query_reserved_concurrency": 0}, "query_reserved_concurrency 0", id="concurrency-0"),
    pytest.param({"authorization": "NONE"}, "authorization 'NONE'", id="auth-none"),
    pytest.param(
        {"distance_metric": "euclidean"}, "distance_metric 'euclidean' is not cosine", id="euclidean"
    ),
    pytest.param({"authorization": QueryAuthorization.JWT}, "jwt_issuer", id="jwt-without-issuer"),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(rag_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert f"AwsServerlessRag {NAME}: " in str(failure.value.cause)
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]


# The contract the three clouds share.

GCP_DIGEST_IMAGE = f"europe-west4-docker.pkg.dev/p/rag/rag@sha256:{DIGEST}"


def _aws() -> None:
    provider = aws.Provider("p", region=REGION)
    AwsServerlessRag(NAME, base_args(), opts=pulumi.ResourceOptions(providers=[provider]))


def _gcp() -> None:
    provider = gcp.Provider("p", project="proj", region="europe-west4")
    GcpServerlessRag(
        NAME,
        {
            "region": "europe-west4",
            "firestore_location": "eur3",
            "query_image": GCP_DIGEST_IMAGE,
            "ingest_image": GCP_DIGEST_IMAGE,
            "query_invokers": ["serviceAccount:caller@proj.iam.gserviceaccount.com"],
        },
        opts=pulumi.ResourceOptions(providers=[provider]),
    )


def _azure() -> None:
    provider = azure.Provider("p", location="westeurope")
    AzureServerlessRag(
        NAME,
        {
            "resource_group_name": "rg",
            "location": "westeurope",
            "query_image": f"acr.azurecr.io/rag@sha256:{DIGEST}",
            "ingest_image": f"acr.azurecr.io/rag@sha256:{DIGEST}",
            "infrastructure_subnet_id": "/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/a",
            "tags": {"team": "t"},
        },
        opts=pulumi.ResourceOptions(providers=[provider]),
    )


@pytest.mark.parametrize(
    ("cls", "body"),
    [(AwsServerlessRag, _aws), (GcpServerlessRag, _gcp), (AzureServerlessRag, _azure)],
    ids=["aws", "gcp", "azure"],
)
def test_every_cloud_registers_the_same_outputs(
    pulumi_run: Recorder, cls: type, body: Callable[[], None]
) -> None:
    pulumi_run.run(body)
    [record] = [r for r in pulumi_run.resources if r.type == f"mlopshub:index:{cls.__name__}"]

    assert record.outputs is not None
    assert set(record.outputs) == OUTPUT_NAMES
    assert set(cls.__annotations__) == OUTPUT_NAMES
