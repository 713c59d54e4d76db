"""AzureServerlessRag: retrieval-augmented generation on Azure that costs nothing while idle.

Two Container Apps at zero replicas when idle, each under its own user-assigned managed identity:
`query`, with external ingress that demands client certificates (or internal ingress behind the caller's
authenticating gateway), and `ingest`, without ingress, scaled by KEDA on a storage queue and running the
workload's queue worker (`python -m rag.queue_worker`). New and deleted blobs in the documents container
raise Event Grid `BlobCreated`/`BlobDeleted` events that a system topic delivers, with its own identity, to
that queue: Event Grid cannot push to an app that demands client certificates and has no
ingress, and a queue keeps events while ingest is at zero. Vectors live in Cosmos DB for NoSQL in
serverless mode (billed per request unit and GB stored, nothing while idle) with a vector embedding policy
and a vector index. Local (key) auth is off on Cosmos DB and storage; all access is by Entra role.

Output conventions shared with the AWS and GCP components: `documents_bucket` is the storage account name,
`ingest_trigger` the URL of the container whose new blobs trigger ingestion, `vector_store_id` the Cosmos DB
account id, the identities the principal ids of the managed identities.
"""

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import NotRequired, TypedDict

import pulumi
import pulumi_azure_native as azure

TYPE_TOKEN = "mlopshub:index:AzureServerlessRag"

IMAGE_BY_DIGEST = re.compile(r"^[a-z0-9.-]+(:\d+)?/[a-z0-9]+(?:[._/-][a-z0-9]+)*@sha256:[0-9a-f]{64}$")
"""A container image reference pinned by digest."""

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]{2,12}$")
"""Component names: they prefix the storage account name (lower-case letters and digits, 24 at most)."""

STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR = "8a0f0c08-91a1-4084-bc3d-661d67233fed"
STORAGE_QUEUE_DATA_MESSAGE_SENDER = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"
COSMOS_DATA_READER = "00000000-0000-0000-0000-000000000001"
"""Cosmos DB Built-in Data Reader (data plane)."""
COSMOS_DATA_CONTRIBUTOR = "00000000-0000-0000-0000-000000000002"
"""Cosmos DB Built-in Data Contributor (data plane)."""
EMBEDDING_PATH = "/embedding"
DOCUMENTS_CONTAINER = "documents"
INGEST_QUEUE = "ingest"
DOCUMENT_EVENTS = ["Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted"]
"""Blob events queued for ingest: new or replaced documents are ingested, deleted ones removed."""
INGEST_COMMAND = ["python", "-m", "rag.queue_worker"]
"""The ingest app's process: the workload's queue worker instead of the image's HTTP server."""
EMBEDDING_DIMENSION = 384
"""Dimensions of the workload's packaged embedding model (all-MiniLM-L6-v2)."""


class QueryIngress(StrEnum):
    """How the query app is reached."""

    EXTERNAL_CLIENT_CERTIFICATE = "external-client-certificate"
    """From the Internet, TLS with a client certificate required (mutual TLS)."""
    INTERNAL = "internal"
    """From inside the environment's network only, behind the caller's authenticating gateway."""


class AzureServerlessRagArgs(TypedDict):
    """Arguments of AzureServerlessRag."""

    resource_group_name: pulumi.Input[str]
    """Resource group holding every child."""
    location: pulumi.Input[str]
    """Azure region of every child, e.g. `westeurope`."""
    query_image: str
    """Image of the query app, pinned by digest (`<registry>/<repo>@sha256:<64 hex>`)."""
    ingest_image: str
    """Image of the ingest app, pinned by digest."""
    infrastructure_subnet_id: pulumi.Input[str]
    """Subnet the Container Apps environment runs in (a /23 for a consumption-only environment), with the
    `Microsoft.Storage` and `Microsoft.AzureCosmosDB` service endpoints: storage and Cosmos DB admit only it."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags put on every taggable child (azure-native has no provider default tags)."""
    query_ingress: NotRequired[QueryIngress]
    """`external-client-certificate` (default) or `internal`."""
    query_max_replicas: NotRequired[int]
    """Most query replicas (default 10): bounds cost and query volume."""
    ingest_max_replicas: NotRequired[int]
    """Most ingest replicas (default 2)."""
    embedding_dimension: NotRequired[int]
    """Dimensions of the stored embeddings (default 384, the workload's model; Cosmos DB accepts up to 4096)."""
    log_retention_days: NotRequired[int]
    """Days the Log Analytics workspace keeps the apps' logs (180 to 730, default 365)."""


def _validate(name: str, args: AzureServerlessRagArgs) -> None:
    owner = f"AzureServerlessRag {name}"
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"{owner}: name {name!r} must be 3 to 13 lower-case letters or digits, first a letter"
        )
    for key, image in (("query_image", args["query_image"]), ("ingest_image", args["ingest_image"])):
        if not isinstance(image, str) or not IMAGE_BY_DIGEST.match(image):
            raise ValueError(f"{owner}: {key} {image!r} is not an image pinned by digest (@sha256:<64 hex>)")
    ingress = args.get("query_ingress", QueryIngress.EXTERNAL_CLIENT_CERTIFICATE)
    if ingress not in set(QueryIngress):
        allowed = ", ".join(i.value for i in QueryIngress)
        raise ValueError(f"{owner}: query_ingress {ingress!r} is not one of {allowed}")
    for key, value, lowest, highest in (
        ("query_max_replicas", args.get("query_max_replicas", 10), 1, 300),
        ("ingest_max_replicas", args.get("ingest_max_replicas", 2), 1, 300),
        ("embedding_dimension", args.get("embedding_dimension", EMBEDDING_DIMENSION), 1, 4096),
        ("log_retention_days", args.get("log_retention_days", 365), 180, 730),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
            raise ValueError(f"{owner}: {key} {value!r} must be an integer from {lowest} to {highest}")


def _one_item(identity_id: pulumi.Output[str]) -> pulumi.Output[list[str]]:
    """One Output rather than a list holding one: Azure answers with a map keyed by id, and a preview that
    echoes inputs as state (the offline engine's) cannot turn a list into it."""
    return identity_id.apply(lambda value: [value])


class AzureServerlessRag(pulumi.ComponentResource):
    """Container Apps at zero replicas when idle, queue-driven ingestion, Cosmos DB serverless vectors."""

    query_url: pulumi.Output[str]
    """HTTPS URL of the query app (client certificate required, or internal only)."""
    ingest_trigger: pulumi.Output[str]
    """URL of the blob container whose new blobs trigger ingestion."""
    documents_bucket: pulumi.Output[str]
    """Name of the documents storage account."""
    vector_store_id: pulumi.Output[str]
    """Resource id of the Cosmos DB account."""
    query_identity: pulumi.Output[str]
    """Principal id of the query app's managed identity."""
    ingest_identity: pulumi.Output[str]
    """Principal id of the ingest app's managed identity."""

    def __init__(
        self, name: str, args: AzureServerlessRagArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        _validate(name, args)
        ingress = QueryIngress(args.get("query_ingress", QueryIngress.EXTERNAL_CLIENT_CERTIFICATE))
        group = args["resource_group_name"]
        location = args["location"]
        tags = args["tags"]
        child = pulumi.ResourceOptions(parent=self)
        client = azure.authorization.get_client_config_output(opts=pulumi.InvokeOptions(parent=self))

        def role_definition(guid: str) -> pulumi.Output[str]:
            return pulumi.Output.concat(
                "/subscriptions/",
                client.subscription_id,
                "/providers/Microsoft.Authorization/roleDefinitions/",
                guid,
            )

        identities = {
            role: azure.managedidentity.UserAssignedIdentity(
                f"{name}-{role}-identity",
                resource_group_name=group,
                location=location,
                tags=tags,
                opts=child,
            )
            for role in ("query", "ingest")
        }

        workspace = azure.operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=group,
            location=location,
            sku={"name": "PerGB2018"},
            retention_in_days=args.get("log_retention_days", 365),
            features={"disable_local_auth": True},
            tags=tags,
            opts=child,
        )
        # azure-monitor + a diagnostic setting: no workspace shared key is handed to the environment.
        environment = azure.app.ManagedEnvironment(
            f"{name}-env",
            resource_group_name=group,
            location=location,
            app_logs_configuration={"destination": "azure-monitor"},
            vnet_configuration={
                "infrastructure_subnet_id": args["infrastructure_subnet_id"],
                "internal": ingress is QueryIngress.INTERNAL,
            },
            tags=tags,
            opts=child,
        )
        azure.monitor.DiagnosticSetting(
            f"{name}-env-diagnostics",
            resource_uri=environment.id,
            workspace_id=workspace.id,
            logs=[{"category_group": "allLogs", "enabled": True}],
            opts=child,
        )

        account = azure.storage.StorageAccount(
            f"{name}-documents",
            # Storage account names are global, lower-case letters and digits only: no autonaming suffix fits.
            account_name=f"{name}ragdocs",
            resource_group_name=group,
            location=location,
            kind="StorageV2",
            sku={"name": "Standard_ZRS"},
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            # Only the apps' subnet, plus trusted services: Event Grid delivers to the queue with its identity.
            network_rule_set={
                "default_action": azure.storage.DefaultAction.DENY,
                "bypass": "AzureServices",
                "virtual_network_rules": [{"virtual_network_resource_id": args["infrastructure_subnet_id"]}],
            },
            tags=tags,
            opts=child,
        )
        container = azure.storage.BlobContainer(
            f"{name}-documents-container",
            account_name=account.name,
            resource_group_name=group,
            container_name=DOCUMENTS_CONTAINER,
            public_access=azure.storage.PublicAccess.NONE,
            opts=child,
        )
        queue = azure.storage.Queue(
            f"{name}-ingest-queue",
            account_name=account.name,
            resource_group_name=group,
            queue_name=INGEST_QUEUE,
            opts=child,
        )
        topic = azure.eventgrid.SystemTopic(
            f"{name}-documents-events",
            resource_group_name=group,
            location=location,
            source=account.id,
            topic_type="Microsoft.Storage.StorageAccounts",
            identity={"type": "SystemAssigned"},
            tags=tags,
            opts=child,
        )
        sender = azure.authorization.RoleAssignment(
            f"{name}-events-send-queue",
            principal_id=topic.identity.apply(lambda i: i.principal_id if i else ""),
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(STORAGE_QUEUE_DATA_MESSAGE_SENDER),
            scope=queue.id,
            opts=child,
        )
        azure.eventgrid.SystemTopicEventSubscription(
            f"{name}-blob-created",
            resource_group_name=group,
            system_topic_name=topic.name,
            event_delivery_schema="EventGridSchema",
            filter={
                "included_event_types": DOCUMENT_EVENTS,
                "subject_begins_with": f"/blobServices/default/containers/{DOCUMENTS_CONTAINER}/",
            },
            delivery_with_resource_identity={
                "identity": {"type": "SystemAssigned"},
                "destination": {
                    "endpoint_type": "StorageQueue",
                    "resource_id": account.id,
                    "queue_name": INGEST_QUEUE,
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[sender]),
        )

        # Spelled out (Cosmos DB account names are global) so role ids and scopes are known in preview.
        cosmos_name = f"{name}-rag-vectors"
        cosmos_id = pulumi.Output.concat(
            "/subscriptions/", client.subscription_id, "/resourceGroups/", group,
            "/providers/Microsoft.DocumentDB/databaseAccounts/", cosmos_name,
        )  # fmt: skip
        cosmos = azure.cosmosdb.DatabaseAccount(
            f"{name}-vectors",
            account_name=cosmos_name,
            resource_group_name=group,
            location=location,
            kind="GlobalDocumentDB",
            database_account_offer_type=azure.cosmosdb.DatabaseAccountOfferType.STANDARD,
            locations=[azure.cosmosdb.LocationArgsDict(location_name=location, failover_priority=0)],
            capabilities=[{"name": "EnableServerless"}, {"name": "EnableNoSQLVectorSearch"}],
            consistency_policy={"default_consistency_level": azure.cosmosdb.DefaultConsistencyLevel.SESSION},
            disable_local_auth=True,
            disable_key_based_metadata_write_access=True,
            # Reachable only from the apps' subnet (service endpoint); no IP ranges, no other networks.
            public_network_access="Enabled",
            is_virtual_network_filter_enabled=True,
            virtual_network_rules=[{"id": args["infrastructure_subnet_id"]}],
            minimal_tls_version="Tls12",
            tags=tags,
            opts=child,
        )
        database = azure.cosmosdb.SqlResourceSqlDatabase(
            f"{name}-database",
            resource_group_name=group,
            account_name=cosmos.name,
            database_name="rag",
            resource={"id": "rag"},
            tags=tags,
            opts=child,
        )
        azure.cosmosdb.SqlResourceSqlContainer(
            f"{name}-chunks",
            resource_group_name=group,
            account_name=cosmos.name,
            database_name=database.name,
            container_name="chunks",
            resource={
                "id": "chunks",
                "partition_key": {"paths": ["/documentId"], "kind": "Hash"},
                "vector_embedding_policy": {
                    "vector_embeddings": [
                        {
                            "path": EMBEDDING_PATH,
                            "data_type": "float32",
                            "dimensions": args.get("embedding_dimension", EMBEDDING_DIMENSION),
                            "distance_function": "cosine",
                        }
                    ]
                },
                "indexing_policy": {
                    "indexing_mode": "consistent",
                    "included_paths": [{"path": "/*"}],
                    "excluded_paths": [{"path": f"{EMBEDDING_PATH}/*"}],
                    "vector_indexes": [{"path": EMBEDDING_PATH, "type": "diskANN"}],
                },
            },
            tags=tags,
            opts=child,
        )

        def principal(role: str) -> pulumi.Output[str]:
            return identities[role].principal_id

        azure.authorization.RoleAssignment(
            f"{name}-ingest-reads-documents",
            principal_id=principal("ingest"),
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(STORAGE_BLOB_DATA_READER),
            scope=container.id,
            opts=child,
        )
        azure.authorization.RoleAssignment(
            f"{name}-ingest-processes-queue",
            principal_id=principal("ingest"),
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(STORAGE_QUEUE_DATA_MESSAGE_PROCESSOR),
            scope=queue.id,
            opts=child,
        )
        for role, definition in (("query", COSMOS_DATA_READER), ("ingest", COSMOS_DATA_CONTRIBUTOR)):
            azure.cosmosdb.SqlResourceSqlRoleAssignment(
                f"{name}-{role}-cosmos",
                resource_group_name=group,
                account_name=cosmos.name,
                principal_id=principal(role),
                role_definition_id=pulumi.Output.concat(cosmos_id, "/sqlRoleDefinitions/", definition),
                scope=pulumi.Output.concat(cosmos_id, "/dbs/rag"),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[database]),
            )

        env_vars: list[azure.app.EnvironmentVarArgsDict] = [
            {"name": "RAG_VECTOR_STORE", "value": "cosmos"},
            {"name": "COSMOS_ENDPOINT", "value": cosmos.document_endpoint},
            {"name": "COSMOS_DATABASE", "value": "rag"},
            {"name": "COSMOS_CONTAINER", "value": "chunks"},
        ]
        query = azure.app.ContainerApp(
            f"{name}-query",
            resource_group_name=group,
            location=location,
            managed_environment_id=environment.id,
            identity={"type": "UserAssigned", "user_assigned_identities": _one_item(identities["query"].id)},
            configuration=azure.app.ConfigurationArgsDict(
                ingress={
                    "external": ingress is QueryIngress.EXTERNAL_CLIENT_CERTIFICATE,
                    "target_port": 8080,
                    "transport": "http",
                    "allow_insecure": False,
                    "client_certificate_mode": "require",
                }
            ),
            template=azure.app.TemplateArgsDict(
                containers=[
                    {
                        "name": "query",
                        "image": args["query_image"],
                        "env": [
                            *env_vars,
                            {"name": "AZURE_CLIENT_ID", "value": identities["query"].client_id},
                        ],
                    }
                ],
                scale={"min_replicas": 0, "max_replicas": args.get("query_max_replicas", 10)},
            ),
            tags=tags,
            opts=child,
        )
        azure.app.ContainerApp(
            f"{name}-ingest",
            resource_group_name=group,
            location=location,
            managed_environment_id=environment.id,
            identity={"type": "UserAssigned", "user_assigned_identities": _one_item(identities["ingest"].id)},
            template=azure.app.TemplateArgsDict(
                containers=[
                    {
                        "name": "ingest",
                        "image": args["ingest_image"],
                        "command": INGEST_COMMAND,
                        "env": [
                            *env_vars,
                            {"name": "AZURE_CLIENT_ID", "value": identities["ingest"].client_id},
                            {"name": "DOCUMENTS_ACCOUNT", "value": account.name},
                            {"name": "DOCUMENTS_CONTAINER", "value": DOCUMENTS_CONTAINER},
                            {"name": "INGEST_QUEUE", "value": INGEST_QUEUE},
                        ],
                    }
                ],
                scale={
                    "min_replicas": 0,
                    "max_replicas": args.get("ingest_max_replicas", 2),
                    "rules": [
                        {
                            "name": "ingest-queue",
                            "azure_queue": {
                                "account_name": account.name,
                                "queue_name": INGEST_QUEUE,
                                "queue_length": 5,
                                "identity": identities["ingest"].id,
                            },
                        }
                    ],
                },
            ),
            tags=tags,
            opts=child,
        )

        # The app's stable FQDN; reading it from `configuration.ingress.fqdn` would tie the output to the
        # shape of the whole configuration output.
        internal = ".internal" if ingress is QueryIngress.INTERNAL else ""
        self.query_url = pulumi.Output.concat(
            "https://", query.name, internal, ".", environment.default_domain
        )
        self.ingest_trigger = pulumi.Output.concat(
            "https://", account.name, ".blob.core.windows.net/", DOCUMENTS_CONTAINER
        )
        self.documents_bucket = account.name
        self.vector_store_id = cosmos.id
        self.query_identity = principal("query")
        self.ingest_identity = principal("ingest")
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
