"""GcpServerlessRag: retrieval-augmented generation on GCP that costs nothing while idle.

Two Cloud Run v2 services scaling to zero: `query`, reachable only by the IAM members the caller names
(the invoker check stays on; no `allUsers`), and `ingest`, internal only, called by Eventarc triggers on
the documents bucket's object finalized, archived and deleted events (POST `/`; workloads/rag/rag/app.py
ingests the object as it is then, or deletes its chunks when it is gone). Vectors live in a Firestore native-mode database with a
vector index on the embedding field: Firestore bills per operation and per GB stored, nothing runs while
idle (Vertex AI Vector Search bills its deployed index by the hour). Each service runs as its own service
account. Their logs are routed to a dedicated log bucket kept `log_retention_days`.

Output conventions shared with the AWS and Azure components: `documents_bucket` is the bucket name,
`ingest_trigger` the location whose new objects trigger ingestion (`gs://<bucket>/`), `vector_store_id`
the Firestore database id, the identities the service-account emails.
"""

import re
from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

TYPE_TOKEN = "mlopshub:index:GcpServerlessRag"

IMAGE_BY_DIGEST = re.compile(r"^[a-z0-9.-]+(:\d+)?/[a-z0-9]+(?:[._/-][a-z0-9]+)*@sha256:[0-9a-f]{64}$")
"""A container image reference pinned by digest."""

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,16}[a-z0-9]$")
"""Component names: they prefix service-account ids (30 characters at most) and Cloud Run service names."""

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
MEMBER_PREFIXES = ("serviceAccount:", "group:", "user:", "domain:", "principal:", "principalSet:")
FINALIZED_EVENT = "google.cloud.storage.object.v1.finalized"
DOCUMENT_EVENTS = {
    "": FINALIZED_EVENT,
    "archived": "google.cloud.storage.object.v1.archived",
    "deleted": "google.cloud.storage.object.v1.deleted",
}
"""Trigger name suffix → Cloud Storage event. The bucket is versioned, so deleting or replacing a live
object archives it (a noncurrent version) rather than deleting it; `deleted` covers permanent deletes."""
INGEST_EVENT_PATH = "/"
"""Where the ingest service receives events (workloads/rag/rag/app.py)."""
EMBEDDING_DIMENSION = 384
"""Dimensions of the workload's packaged embedding model (all-MiniLM-L6-v2)."""
EMBEDDING_FIELD = "embedding"
QUERY_READ_ROLE = "roles/datastore.viewer"
INGEST_WRITE_ROLE = "roles/datastore.user"
DOCUMENT_READ_ROLE = "roles/storage.objectViewer"


class GcpServerlessRagArgs(TypedDict):
    """Arguments of GcpServerlessRag."""

    region: str
    """Region of the services, bucket, trigger and log bucket, e.g. `europe-west4`."""
    firestore_location: str
    """Location of the Firestore database, e.g. `eur3` or `europe-west4`."""
    query_image: str
    """Image of the query service, pinned by digest (`<registry>/<repo>@sha256:<64 hex>`)."""
    ingest_image: str
    """Image of the ingest service, pinned by digest."""
    query_invokers: Sequence[str]
    """IAM members allowed to call the query service (`serviceAccount:…`, `group:…`); never allUsers."""
    query_max_instances: NotRequired[int]
    """Most query instances (default 10): bounds cost and query volume."""
    ingest_max_instances: NotRequired[int]
    """Most ingest instances (default 2)."""
    embedding_dimension: NotRequired[int]
    """Dimensions of the stored embeddings (default 384, the workload's model; Firestore accepts up to 2048)."""
    collection: NotRequired[str]
    """Firestore collection holding the chunks (default `chunks`)."""
    kms_key_name: NotRequired[pulumi.Input[str]]
    """Cloud KMS key encrypting the documents bucket (CMEK); Google-managed keys when unset."""
    log_retention_days: NotRequired[int]
    """Days the services' logs are kept in their log bucket (180 to 3650, default 365)."""
    access_log_bucket: NotRequired[pulumi.Input[str]]
    """Bucket receiving usage logs of the documents bucket (prefix `<name>-documents/`); none when unset."""


def _validate(name: str, args: GcpServerlessRagArgs) -> None:
    owner = f"GcpServerlessRag {name}"
    if not NAME_PATTERN.match(name):
        raise ValueError(f"{owner}: name {name!r} must be 3 to 18 lower-case letters, digits or hyphens")
    for key, image in (("query_image", args["query_image"]), ("ingest_image", args["ingest_image"])):
        if not isinstance(image, str) or not IMAGE_BY_DIGEST.match(image):
            raise ValueError(f"{owner}: {key} {image!r} is not an image pinned by digest (@sha256:<64 hex>)")
    invokers = list(args["query_invokers"])
    if not invokers:
        raise ValueError(f"{owner}: query_invokers is empty; name the members allowed to query")
    for member in invokers:
        if member in PUBLIC_MEMBERS or not member.startswith(MEMBER_PREFIXES):
            raise ValueError(f"{owner}: query_invokers member {member!r} is public or not an IAM member")
    for key, value, lowest, highest in (
        ("query_max_instances", args.get("query_max_instances", 10), 1, 1000),
        ("ingest_max_instances", args.get("ingest_max_instances", 2), 1, 1000),
        ("embedding_dimension", args.get("embedding_dimension", EMBEDDING_DIMENSION), 1, 2048),
        ("log_retention_days", args.get("log_retention_days", 365), 180, 3650),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
            raise ValueError(f"{owner}: {key} {value!r} must be an integer from {lowest} to {highest}")


def database_condition_expression(project: str, database: str) -> str:
    """IAM condition limiting a Firestore role to one database."""
    # The trailing slash: a bare prefix would also admit `<database>-other`.
    database_name = f"projects/{project}/databases/{database}"
    return f'resource.name == "{database_name}" || resource.name.startsWith("{database_name}/")'


class GcpServerlessRag(pulumi.ComponentResource):
    """Cloud Run query and ingest services at zero instances when idle, Eventarc ingestion, Firestore vectors."""

    query_url: pulumi.Output[str]
    """HTTPS URL of the query service (an identity token of a query invoker is required)."""
    ingest_trigger: pulumi.Output[str]
    """Location whose new objects trigger ingestion (`gs://<bucket>/`)."""
    documents_bucket: pulumi.Output[str]
    """Name of the documents bucket."""
    vector_store_id: pulumi.Output[str]
    """Id of the Firestore database (`projects/<project>/databases/<database>`)."""
    query_identity: pulumi.Output[str]
    """Email of the query service's service account."""
    ingest_identity: pulumi.Output[str]
    """Email of the ingest service's service account."""

    def __init__(
        self, name: str, args: GcpServerlessRagArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        _validate(name, args)
        region = args["region"]
        collection = args.get("collection", "chunks")
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        project = gcp.organizations.get_client_config_output(opts=invoke).project
        project_number = gcp.organizations.get_project_output(project_id=project, opts=invoke).number

        accounts = {
            role: gcp.serviceaccount.Account(
                f"{name}-{role}-sa",
                account_id=f"{name}-{role}",
                display_name=f"RAG {name} {role}",
                description=description,
                opts=child,
            )
            for role, description in (
                ("query", "Query service: reads the vector database"),
                ("ingest", "Ingest service: reads documents, writes the vector database"),
                ("trigger", "Eventarc trigger: invokes the ingest service"),
            )
        }

        def account_member(role: str) -> pulumi.Output[str]:
            # Spelled out rather than read from the account: known in preview, so the gate can check grants.
            return pulumi.Output.concat(
                "serviceAccount:", f"{name}-{role}@", project, ".iam.gserviceaccount.com"
            )

        bucket = gcp.storage.Bucket(
            f"{name}-documents",
            name=project.apply(lambda p: f"{p}-{name}-documents"),
            location=region.upper(),
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            encryption={"default_kms_key_name": args["kms_key_name"]} if "kms_key_name" in args else None,
            logging=(
                {"log_bucket": args["access_log_bucket"], "log_object_prefix": f"{name}-documents/"}
                if "access_log_bucket" in args
                else None
            ),
            opts=child,
        )
        gcp.storage.BucketIAMMember(
            f"{name}-ingest-reads-documents",
            bucket=bucket.name,
            role=DOCUMENT_READ_ROLE,
            member=account_member("ingest"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[accounts["ingest"]]),
        )

        database_name = f"{name}-vectors"
        database = gcp.firestore.Database(
            f"{name}-vectors",
            name=database_name,
            location_id=args["firestore_location"],
            type="FIRESTORE_NATIVE",
            concurrency_mode="OPTIMISTIC",
            point_in_time_recovery_enablement="POINT_IN_TIME_RECOVERY_ENABLED",
            delete_protection_state="DELETE_PROTECTION_ENABLED",
            opts=child,
        )
        gcp.firestore.Index(
            f"{name}-vector-index",
            database=database.name,
            collection=collection,
            query_scope="COLLECTION",
            fields=[
                {"field_path": "__name__", "order": "ASCENDING"},
                {
                    "field_path": EMBEDDING_FIELD,
                    "vector_config": {
                        "dimension": args.get("embedding_dimension", EMBEDDING_DIMENSION),
                        "flat": {},
                    },
                },
            ],
            opts=child,
        )
        for role, grant in (("query", QUERY_READ_ROLE), ("ingest", INGEST_WRITE_ROLE)):
            gcp.projects.IAMMember(
                f"{name}-{role}-firestore",
                project=project,
                role=grant,
                member=account_member(role),
                condition={
                    "title": f"{name}-{role}-vectors-only",
                    "description": f"Only the vector database of RAG {name}",
                    "expression": project.apply(lambda p: database_condition_expression(p, database_name)),
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[accounts[role]]),
            )

        def service(
            role: str,
            image: str,
            ingress: str,
            max_instances: int,
            extra_envs: list[gcp.cloudrunv2.ServiceTemplateContainerEnvArgsDict] | None = None,
        ) -> gcp.cloudrunv2.Service:
            return gcp.cloudrunv2.Service(
                f"{name}-{role}",
                name=f"{name}-{role}",
                location=region,
                ingress=ingress,
                invoker_iam_disabled=False,
                deletion_protection=False,
                template={
                    "service_account": accounts[role].email,
                    "scaling": {"min_instance_count": 0, "max_instance_count": max_instances},
                    "containers": [
                        {
                            "image": image,
                            "envs": [
                                {"name": "RAG_VECTOR_STORE", "value": "firestore"},
                                {"name": "FIRESTORE_DATABASE", "value": database_name},
                                {"name": "FIRESTORE_COLLECTION", "value": collection},
                                {"name": "EMBEDDING_FIELD", "value": EMBEDDING_FIELD},
                                *(extra_envs or []),
                            ],
                        }
                    ],
                },
                scaling={"min_instance_count": 0},
                opts=child,
            )

        # Query callers arrive from outside the project with identity tokens: ingress all, IAM check on.
        query = service(
            "query", args["query_image"], "INGRESS_TRAFFIC_ALL", args.get("query_max_instances", 10)
        )
        # Only Eventarc calls ingest, from inside Google's network.
        ingest = service(
            "ingest",
            args["ingest_image"],
            "INGRESS_TRAFFIC_INTERNAL_ONLY",
            args.get("ingest_max_instances", 2),
            # The workload accepts object events only for this bucket, and only where it is set.
            [{"name": "DOCUMENTS_BUCKET", "value": bucket.name}],
        )
        for index, member in enumerate(args["query_invokers"]):
            gcp.cloudrunv2.ServiceIamMember(
                f"{name}-query-invoker-{index}",
                name=query.name,
                location=region,
                role="roles/run.invoker",
                member=member,
                opts=child,
            )
        invoker = gcp.cloudrunv2.ServiceIamMember(
            f"{name}-ingest-invoker",
            name=ingest.name,
            location=region,
            role="roles/run.invoker",
            member=account_member("trigger"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[accounts["trigger"]]),
        )
        receiver = gcp.projects.IAMMember(
            f"{name}-trigger-receiver",
            project=project,
            role="roles/eventarc.eventReceiver",
            member=account_member("trigger"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[accounts["trigger"]]),
        )
        # Cloud Storage events reach Eventarc through Pub/Sub, published by the project's GCS service agent.
        publisher = gcp.projects.IAMMember(
            f"{name}-gcs-publisher",
            project=project,
            role="roles/pubsub.publisher",
            member=project_number.apply(
                lambda n: f"serviceAccount:service-{n}@gs-project-accounts.iam.gserviceaccount.com"
            ),
            opts=child,
        )
        # One trigger per event type (a trigger matches exactly one); the finalized one keeps its first name.
        for suffix, event_type in DOCUMENT_EVENTS.items():
            infix = f"-{suffix}" if suffix else ""
            gcp.eventarc.Trigger(
                f"{name}-ingest{infix}-trigger",
                name=f"{name}-ingest{infix}",
                location=region,
                matching_criterias=[
                    {"attribute": "type", "value": event_type},
                    {"attribute": "bucket", "value": bucket.name},
                ],
                destination={
                    "cloud_run_service": {"service": ingest.name, "region": region, "path": INGEST_EVENT_PATH}
                },
                service_account=accounts["trigger"].email,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[invoker, receiver, publisher]),
            )

        log_bucket = gcp.logging.ProjectBucketConfig(
            f"{name}-logs",
            project=project,
            location=region,
            bucket_id=f"{name}-rag-logs",
            retention_days=args.get("log_retention_days", 365),
            opts=child,
        )
        gcp.logging.ProjectSink(
            f"{name}-logs-sink",
            name=f"{name}-rag-logs",
            destination=pulumi.Output.concat("logging.googleapis.com/", log_bucket.id),
            filter=(
                f'resource.type="cloud_run_revision" AND '
                f'(resource.labels.service_name="{name}-query" OR resource.labels.service_name="{name}-ingest")'
            ),
            unique_writer_identity=True,
            opts=child,
        )

        self.query_url = query.uri
        self.ingest_trigger = pulumi.Output.concat("gs://", bucket.name, "/")
        self.documents_bucket = bucket.name
        self.vector_store_id = database.id
        self.query_identity = accounts["query"].email
        self.ingest_identity = accounts["ingest"].email
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
