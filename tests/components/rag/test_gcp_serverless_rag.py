"""Behaviour of GcpServerlessRag under the offline engine's mocks.

Its grants are rendered as a golden file in `golden/` (role, member and condition per grant). After an
intended change, rewrite it and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/components/rag/test_gcp_serverless_rag.py -k golden
"""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

import pulumi
import pulumi_gcp as gcp
import pytest

from components.rag.gcp_serverless_rag import TYPE_TOKEN, GcpServerlessRag, GcpServerlessRagArgs
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

NAME = "rag"
PROJECT = "proj"
REGION = "europe-west4"
DIGEST = "0123456789abcdef" * 4
QUERY_IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/rag/rag-query@sha256:{DIGEST}"
INGEST_IMAGE = f"{REGION}-docker.pkg.dev/{PROJECT}/rag/rag-ingest@sha256:{DIGEST}"
DATABASE = f"projects/{PROJECT}/databases/{NAME}-vectors"
CALLER = f"serviceAccount:frontend@{PROJECT}.iam.gserviceaccount.com"

STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:gcp"
SERVICE = "gcp:cloudrunv2/service:Service"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
RUN_INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...


def rag_program(*names: str, **overrides: Any) -> Callable[[], None]:
    def body() -> None:
        provider = gcp.Provider("p", project=PROJECT, region=REGION)
        for name in names or (NAME,):
            args = cast(
                GcpServerlessRagArgs,
                {
                    "region": REGION,
                    "firestore_location": "eur3",
                    "query_image": QUERY_IMAGE,
                    "ingest_image": INGEST_IMAGE,
                    "query_invokers": [CALLER],
                    **overrides,
                },
            )
            GcpServerlessRag(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def rag(pulumi_run: Recorder) -> Recorder:
    pulumi_run.run(rag_program())
    return pulumi_run


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    [found] = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    return found


def sa(role: str, name: str = NAME) -> str:
    return f"serviceAccount:{name}-{role}@{PROJECT}.iam.gserviceaccount.com"


def test_services_scale_to_zero_and_keep_the_invoker_check(rag: Recorder) -> None:
    query = rag.named(f"{NAME}-query")
    ingest = rag.named(f"{NAME}-ingest")

    for service, image, most in ((query, QUERY_IMAGE, 10), (ingest, INGEST_IMAGE, 2)):
        assert service.inputs["template"]["scaling"] == {"minInstanceCount": 0, "maxInstanceCount": most}
        assert service.inputs["scaling"] == {"minInstanceCount": 0}
        assert service.inputs["invokerIamDisabled"] is False
        assert service.inputs["template"]["containers"][0]["image"] == image
    assert query.inputs["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert ingest.inputs["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    assert depends_on(query, "template") == [f"{NAME}-query-sa"]
    assert depends_on(ingest, "template") == [f"{NAME}-documents", f"{NAME}-ingest-sa"]  # DOCUMENTS_BUCKET


def test_services_get_the_workload_store_settings(rag: Recorder) -> None:
    # The names workloads/rag/rag/settings.py reads: RAG_VECTOR_STORE selects FirestoreStore, and only
    # ingest is told the documents bucket (the workload refuses object events without it).
    store = [
        {"name": "RAG_VECTOR_STORE", "value": "firestore"},
        {"name": "FIRESTORE_DATABASE", "value": f"{NAME}-vectors"},
        {"name": "FIRESTORE_COLLECTION", "value": "chunks"},
        {"name": "EMBEDDING_FIELD", "value": "embedding"},
    ]
    assert rag.named(f"{NAME}-query").inputs["template"]["containers"][0]["envs"] == store
    assert rag.named(f"{NAME}-ingest").inputs["template"]["containers"][0]["envs"] == [
        *store,
        {"name": "DOCUMENTS_BUCKET", "value": f"{PROJECT}-{NAME}-documents"},
    ]


def test_only_named_callers_invoke(rag: Recorder) -> None:
    invokers = {r.name: r.inputs for r in rag.of_type(RUN_INVOKER)}

    assert {name: (i["role"], i["member"]) for name, i in invokers.items()} == {
        f"{NAME}-query-invoker-0": ("roles/run.invoker", CALLER),
        f"{NAME}-ingest-invoker": ("roles/run.invoker", sa("trigger")),
    }
    assert not [r for r in rag.resources if r.inputs.get("member") in ("allUsers", "allAuthenticatedUsers")]


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def test_grants_match_golden(rag: Recorder) -> None:
    grants = {
        r.name: {k: r.inputs[k] for k in ("role", "member", "condition", "bucket") if k in r.inputs}
        for r in rag.of_type(PROJECT_MEMBER) + rag.of_type(BUCKET_MEMBER)
    }
    path = GOLDEN_DIR / "gcp_grants.json"
    if UPDATE_GOLDEN:
        path.write_text(json.dumps(grants, indent=2, sort_keys=True) + "\n")
    assert grants == json.loads(path.read_text())
    # Query only reads, and only the RAG's own database.
    query = grants[f"{NAME}-query-firestore"]
    assert query["role"] == "roles/datastore.viewer"
    assert (
        query["condition"]["expression"]
        == f'resource.name == "{DATABASE}" || resource.name.startsWith("{DATABASE}/")'
    )


def test_documents_bucket_private_and_triggers_ingest(rag: Recorder) -> None:
    bucket = rag.named(f"{NAME}-documents")
    triggers = {t.name: t for t in rag.of_type("gcp:eventarc/trigger:Trigger")}

    assert bucket.inputs["name"] == f"{PROJECT}-{NAME}-documents"
    assert bucket.inputs["uniformBucketLevelAccess"] is True
    assert bucket.inputs["publicAccessPrevention"] == "enforced"
    assert "encryption" not in bucket.inputs
    # New objects, and (the bucket being versioned) deleted or replaced ones: archived, or deleted outright.
    assert {name: t.inputs["matchingCriterias"][0]["value"] for name, t in triggers.items()} == {
        f"{NAME}-ingest-trigger": "google.cloud.storage.object.v1.finalized",
        f"{NAME}-ingest-archived-trigger": "google.cloud.storage.object.v1.archived",
        f"{NAME}-ingest-deleted-trigger": "google.cloud.storage.object.v1.deleted",
    }
    for trigger in triggers.values():
        assert trigger.inputs["matchingCriterias"][1] == {
            "attribute": "bucket",
            "value": f"{PROJECT}-{NAME}-documents",
        }
        # workloads/rag/rag/app.py receives the events on POST /.
        assert trigger.inputs["destination"]["cloudRunService"]["path"] == "/"
        assert depends_on(trigger, "destination") == [f"{NAME}-ingest"]
        assert depends_on(trigger, "serviceAccount") == [f"{NAME}-trigger-sa"]


def test_cmek_and_access_logs_are_optional_args(pulumi_run: Recorder) -> None:
    key = "projects/p/locations/europe-west4/keyRings/r/cryptoKeys/k"
    pulumi_run.run(rag_program(kms_key_name=key, access_log_bucket="logs"))
    bucket = pulumi_run.named(f"{NAME}-documents")

    assert bucket.inputs["encryption"] == {"defaultKmsKeyName": key}
    assert bucket.inputs["logging"] == {"logBucket": "logs", "logObjectPrefix": f"{NAME}-documents/"}


def test_firestore_vector_store(rag: Recorder) -> None:
    database = rag.one("gcp:firestore/database:Database")
    index = rag.one("gcp:firestore/index:Index")

    assert (database.inputs["type"], database.inputs["name"]) == ("FIRESTORE_NATIVE", f"{NAME}-vectors")
    assert index.inputs["collection"] == "chunks"
    assert index.inputs["fields"][1] == {
        "fieldPath": "embedding",
        "vectorConfig": {"dimension": 384, "flat": {}},  # the workload's model
    }


def test_logs_retained(rag: Recorder) -> None:
    bucket = rag.one("gcp:logging/projectBucketConfig:ProjectBucketConfig")
    sink = rag.one("gcp:logging/projectSink:ProjectSink")

    assert bucket.inputs["retentionDays"] == 365
    assert f'resource.labels.service_name="{NAME}-query"' in sink.inputs["filter"]
    assert depends_on(sink, "destination") == [f"{NAME}-logs"]


def test_parenting_and_outputs(rag: Recorder) -> None:
    record = component(rag)
    provider = rag.one(PROVIDER)
    others = [r for r in rag.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert rag.children_of(record) == others
    assert all(r.provider == provider.urn and r.name.startswith(f"{NAME}-") for r in others)
    assert record.outputs is not None
    assert record.outputs["ingest_trigger"] == f"gs://{PROJECT}-{NAME}-documents/"


def test_two_instances_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(rag_program("one", "two"))
    urns = [r.urn for r in pulumi_run.resources]
    ones = {r.name for r in pulumi_run.children_of(component(pulumi_run, "one"))}
    twos = {r.name for r in pulumi_run.children_of(component(pulumi_run, "two"))}
    physical = [
        (r.type, r.inputs.get("accountId") or r.inputs.get("name") or r.inputs.get("bucketId"))
        for r in pulumi_run.resources
        if r.type.split(":")[1].split("/")[0]
        in {"serviceaccount", "storage", "firestore", "cloudrunv2", "logging"}
        and r.type not in (BUCKET_MEMBER, RUN_INVOKER, "gcp:firestore/index:Index")
    ]

    assert len(urns) == len(set(urns))
    assert ones.isdisjoint(twos) and len(ones) == len(twos)
    assert len(physical) == 2 * 9
    assert len(physical) == len(set(physical)), "physical names collide within a type"


BAD_ARGS = [
    pytest.param({"query_image": f"{REGION}-docker.pkg.dev/p/r/q:latest"}, "query_image", id="image-tag"),
    pytest.param({"query_invokers": ["allUsers"]}, "'allUsers'", id="all-users"),
    pytest.param({"query_invokers": []}, "query_invokers is empty", id="no-invokers"),
    pytest.param({"log_retention_days": 30}, "log_retention_days 30", id="retention-30"),
    pytest.param({"query_max_instances": 0}, "query_max_instances 0", id="max-0"),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(rag_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert f"GcpServerlessRag {NAME}: " in str(failure.value.cause)
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]
