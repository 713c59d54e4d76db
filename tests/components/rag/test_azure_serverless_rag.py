"""Behaviour of AzureServerlessRag under the offline engine's mocks.

Its role assignments are rendered as a golden file in `golden/` (role, scope owner and principal owner per
assignment). After an intended change, rewrite it and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/components/rag/test_azure_serverless_rag.py -k golden
"""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

import pulumi
import pulumi_azure_native as azure
import pytest

from components.rag.azure_serverless_rag import (
    TYPE_TOKEN,
    AzureServerlessRag,
    AzureServerlessRagArgs,
    QueryIngress,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

NAME = "rag"
DIGEST = "0123456789abcdef" * 4
QUERY_IMAGE = f"acr.azurecr.io/rag-query@sha256:{DIGEST}"
INGEST_IMAGE = f"acr.azurecr.io/rag-ingest@sha256:{DIGEST}"
SUBNET = "/subscriptions/s/resourceGroups/n/providers/Microsoft.Network/virtualNetworks/v/subnets/apps"
TAGS = {"environment": "dev", "team": "t", "cost-center": "c", "managed-by": "pulumi"}

STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:azure-native"
APP = "azure-native:app:ContainerApp"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
COSMOS_ASSIGNMENT = "azure-native:cosmosdb:SqlResourceSqlRoleAssignment"


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


def rag_program(*names: str, **overrides: Any) -> Callable[[], None]:
    def body() -> None:
        provider = azure.Provider("p", location="westeurope")
        for name in names or (NAME,):
            args = cast(
                AzureServerlessRagArgs,
                {
                    "resource_group_name": "rg",
                    "location": "westeurope",
                    "query_image": QUERY_IMAGE,
                    "ingest_image": INGEST_IMAGE,
                    "infrastructure_subnet_id": SUBNET,
                    "tags": TAGS,
                    **overrides,
                },
            )
            AzureServerlessRag(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def rag(pulumi_run: Recorder) -> Recorder:
    pulumi_run.run(rag_program())
    return pulumi_run


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    [found] = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    return found


def owners(resource: RecordedResource, prop: str) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def test_apps_scale_to_zero_under_their_own_identities(rag: Recorder) -> None:
    query = rag.named(f"{NAME}-query")
    ingest = rag.named(f"{NAME}-ingest")

    assert query.inputs["template"]["scale"] == {"minReplicas": 0, "maxReplicas": 10}
    assert ingest.inputs["template"]["scale"]["minReplicas"] == 0
    assert ingest.inputs["template"]["scale"]["maxReplicas"] == 2
    assert ingest.inputs["template"]["scale"]["rules"][0]["azureQueue"]["queueName"] == "ingest"
    assert owners(ingest, "template") == sorted(
        [f"{NAME}-documents", f"{NAME}-ingest-identity", f"{NAME}-vectors"]
    )
    assert owners(query, "identity") == [f"{NAME}-query-identity"]
    assert owners(ingest, "identity") == [f"{NAME}-ingest-identity"]
    assert query.inputs["template"]["containers"][0]["image"] == QUERY_IMAGE


def test_apps_get_the_workload_store_settings(rag: Recorder) -> None:
    # The names workloads/rag/rag/settings.py reads: RAG_VECTOR_STORE selects CosmosStore.
    for role in ("query", "ingest"):
        env = {
            e["name"]: e.get("value")
            for e in rag.named(f"{NAME}-{role}").inputs["template"]["containers"][0]["env"]
        }
        assert {k: env[k] for k in ("RAG_VECTOR_STORE", "COSMOS_DATABASE", "COSMOS_CONTAINER")} == {
            "RAG_VECTOR_STORE": "cosmos",
            "COSMOS_DATABASE": "rag",
            "COSMOS_CONTAINER": "chunks",
        }
        assert "COSMOS_ENDPOINT" in env and "AZURE_CLIENT_ID" in env
    # The ingest app runs the workload's queue worker, told where documents and events are.
    [ingest] = rag.named(f"{NAME}-ingest").inputs["template"]["containers"]
    assert ingest["command"] == ["python", "-m", "rag.queue_worker"]
    env = {e["name"]: e.get("value") for e in ingest["env"]}
    assert (env["DOCUMENTS_CONTAINER"], env["INGEST_QUEUE"]) == ("documents", "ingest")
    assert "DOCUMENTS_ACCOUNT" in env
    assert "command" not in rag.named(f"{NAME}-query").inputs["template"]["containers"][0]


def test_query_ingress_demands_client_certificates(rag: Recorder) -> None:
    ingress = rag.named(f"{NAME}-query").inputs["configuration"]["ingress"]

    assert ingress["external"] is True
    assert ingress["clientCertificateMode"] == "require"
    assert ingress["allowInsecure"] is False
    assert "configuration" not in rag.named(f"{NAME}-ingest").inputs


def test_internal_query_ingress(pulumi_run: Recorder) -> None:
    pulumi_run.run(rag_program(query_ingress=QueryIngress.INTERNAL))

    assert pulumi_run.named(f"{NAME}-query").inputs["configuration"]["ingress"]["external"] is False
    assert pulumi_run.one("azure-native:app:ManagedEnvironment").inputs["vnetConfiguration"] == {
        "infrastructureSubnetId": SUBNET,
        "internal": True,
    }


def test_logs_retained(rag: Recorder) -> None:
    workspace = rag.one("azure-native:operationalinsights:Workspace")
    diagnostics = rag.one("azure-native:monitor:DiagnosticSetting")

    assert workspace.inputs["retentionInDays"] == 365
    assert rag.one("azure-native:app:ManagedEnvironment").inputs["appLogsConfiguration"] == {
        "destination": "azure-monitor"
    }
    assert owners(diagnostics, "workspaceId") == [f"{NAME}-logs"]
    assert diagnostics.inputs["logs"] == [{"categoryGroup": "allLogs", "enabled": True}]


def test_storage_private_and_keyless(rag: Recorder) -> None:
    account = rag.one("azure-native:storage:StorageAccount")

    assert account.inputs["allowBlobPublicAccess"] is False
    assert account.inputs["allowSharedKeyAccess"] is False
    assert account.inputs["enableHttpsTrafficOnly"] is True
    assert account.inputs["minimumTlsVersion"] == "TLS1_2"
    assert account.inputs["networkRuleSet"] == {
        "defaultAction": "Deny",
        "bypass": "AzureServices",
        "virtualNetworkRules": [{"virtualNetworkResourceId": SUBNET}],
    }
    assert rag.one("azure-native:storage:BlobContainer").inputs["publicAccess"] == "None"


def test_blob_events_reach_the_ingest_queue(rag: Recorder) -> None:
    subscription = rag.one("azure-native:eventgrid:SystemTopicEventSubscription")

    assert subscription.inputs["filter"] == {
        "includedEventTypes": ["Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted"],
        "subjectBeginsWith": "/blobServices/default/containers/documents/",
    }
    delivery = subscription.inputs["deliveryWithResourceIdentity"]
    assert delivery["identity"] == {"type": "SystemAssigned"}
    assert delivery["destination"]["endpointType"] == "StorageQueue"
    assert delivery["destination"]["queueName"] == "ingest"


def test_cosmos_serverless_vector_search(rag: Recorder) -> None:
    account = rag.one("azure-native:cosmosdb:DatabaseAccount")
    container = rag.one("azure-native:cosmosdb:SqlResourceSqlContainer").inputs["resource"]

    assert account.inputs["capabilities"] == [
        {"name": "EnableServerless"},
        {"name": "EnableNoSQLVectorSearch"},
    ]
    assert account.inputs["disableLocalAuth"] is True
    assert account.inputs["isVirtualNetworkFilterEnabled"] is True
    assert account.inputs["virtualNetworkRules"] == [{"id": SUBNET}]
    assert "ipRules" not in account.inputs
    assert container["vectorEmbeddingPolicy"] == {
        "vectorEmbeddings": [
            {"path": "/embedding", "dataType": "float32", "dimensions": 384, "distanceFunction": "cosine"}
        ]
    }
    assert container["indexingPolicy"]["vectorIndexes"] == [{"path": "/embedding", "type": "diskANN"}]


def test_role_assignments_match_golden(rag: Recorder) -> None:
    rendered = {
        r.name: {
            "role": r.inputs["roleDefinitionId"],
            "scope": r.inputs["scope"] if r.inputs["scope"] != "[unknown]" else owners(r, "scope"),
            "principal": owners(r, "principalId"),
        }
        for r in rag.of_type(ROLE_ASSIGNMENT) + rag.of_type(COSMOS_ASSIGNMENT)
    }
    path = GOLDEN_DIR / "azure_role_assignments.json"
    if UPDATE_GOLDEN:
        path.write_text(json.dumps(rendered, indent=2, sort_keys=True) + "\n")
    assert rendered == json.loads(path.read_text())


def test_every_taggable_child_carries_the_tags(rag: Recorder) -> None:
    children = rag.children_of(component(rag))
    untagged = {r.name for r in children if rag.tags_of(r) is None}

    assert all(rag.tags_of(r) == TAGS for r in children if r.name not in untagged)
    assert untagged == {
        f"{NAME}-{role}"
        for role in (
            "env-diagnostics",
            "documents-container",
            "ingest-queue",
            "events-send-queue",
            "blob-created",
            "ingest-reads-documents",
            "ingest-processes-queue",
            "query-cosmos",
            "ingest-cosmos",
            "chunks",
            "database",
        )
    } - {r.name for r in children if "tags" in r.inputs}


def test_parenting_and_outputs(rag: Recorder) -> None:
    record = component(rag)
    provider = rag.one(PROVIDER)
    others = [r for r in rag.resources if r.type not in {STACK, PROVIDER, TYPE_TOKEN}]

    assert rag.children_of(record) == others
    assert all(r.provider == provider.urn and r.name.startswith(f"{NAME}-") for r in others)
    assert record.outputs is not None
    # Azure reports the account's name back only once it exists; the name asked for is known.
    assert rag.one("azure-native:storage:StorageAccount").inputs["accountName"] == f"{NAME}ragdocs"
    assert record.outputs["documents_bucket"] == "[unknown]"
    assert record.outputs["vector_store_id"] == "[unknown]"


def test_two_instances_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(rag_program("one", "two"))
    urns = [r.urn for r in pulumi_run.resources]
    ones = {r.name for r in pulumi_run.children_of(component(pulumi_run, "one"))}
    twos = {r.name for r in pulumi_run.children_of(component(pulumi_run, "two"))}
    accounts = [r.inputs["accountName"] for r in pulumi_run.of_type("azure-native:storage:StorageAccount")]

    assert len(urns) == len(set(urns))
    assert ones.isdisjoint(twos) and len(ones) == len(twos)
    assert sorted(accounts) == ["oneragdocs", "tworagdocs"]


BAD_ARGS = [
    pytest.param({"query_image": "acr.azurecr.io/rag-query:1.0"}, "query_image", id="image-tag"),
    pytest.param({"log_retention_days": 90}, "log_retention_days 90", id="retention-90"),
    pytest.param({"query_max_replicas": 0}, "query_max_replicas 0", id="replicas-0"),
    pytest.param({"query_ingress": "external"}, "query_ingress 'external'", id="ingress-anonymous"),
]


@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(rag_program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert f"AzureServerlessRag {NAME}: " in str(failure.value.cause)
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]
