"""GcpModelRegistry: where trained models, their images and their lineage live on Google Cloud.

A Cloud Storage artifact bucket (uniform bucket-level access, public access prevention enforced, versioned,
noncurrent versions deleted after N days, CMEK), an Artifact Registry Docker repository (immutable tags,
CMEK, keeping the newest N versions), and a Vertex AI ML Metadata store (CMEK), the lineage store Vertex
Experiments and pipelines record runs, artifacts and models in. All three are encrypted with one Cloud KMS
key this component creates (90-day rotation); each Google service agent gets encrypter/decrypter on that key
only.

The Vertex AI Model Registry itself is not a resource: every project has one per region, so
`model_registry_id` is `projects/<project>/locations/<region>`, where models are uploaded.
"""

import functools
import re
from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp

TYPE_TOKEN = "mlopshub:index:GcpModelRegistry"

KEY_ROTATION_PERIOD = "7776000s"
"""90 days, CIS GCP 1.10's upper bound."""
ENCRYPTER_DECRYPTER = "roles/cloudkms.cryptoKeyEncrypterDecrypter"

_REPOSITORY_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")


class GcpModelRegistryArgs(TypedDict):
    """Arguments of GcpModelRegistry. The component's name names the repository and the metadata store."""

    project: pulumi.Input[str]
    """Project holding every child."""
    region: str
    """Region of the bucket, the key, the repository and the Vertex resources (e.g. `europe-west4`)."""
    noncurrent_version_days: NotRequired[int]
    """Days a replaced or deleted artifact version is kept before it is deleted (default 90, 1 to 3650)."""
    images_kept: NotRequired[int]
    """Newest versions kept per image; older ones are deleted (default 50, 1 to 10000)."""
    labels: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Labels on every child that takes them, on top of the provider's default labels."""


def _in_range(owner: str, field: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{owner}: {field} {value!r} must be an integer from {low} to {high}")
    return value


def service_agent(project_number: str, service: str) -> str:
    """The IAM member of a Google service agent of the project (`gs-project-accounts`, `gcp-sa-...`)."""
    return f"serviceAccount:service-{project_number}@{service}.iam.gserviceaccount.com"


def crypto_key_id(project: str, region: str, key_ring: str, key: str) -> str:
    """The resource path of a Cloud KMS key, which is also its Terraform/Pulumi id."""
    return f"projects/{project}/locations/{region}/keyRings/{key_ring}/cryptoKeys/{key}"


SERVICE_AGENTS = {
    "storage": "gs-project-accounts",
    "artifact-registry": "gcp-sa-artifactregistry",
    "vertex": "gcp-sa-aiplatform",
}
"""Service agent domains that use the key: Cloud Storage, Artifact Registry, Vertex AI."""
AGENT_APIS = {"artifact-registry": "artifactregistry.googleapis.com", "vertex": "aiplatform.googleapis.com"}
"""The APIs whose service agents the component has Google create before granting them the key."""


class GcpModelRegistry(pulumi.ComponentResource):
    """Artifact bucket, Artifact Registry repository and Vertex metadata store under one CMEK key."""

    registry_bucket: pulumi.Output[str]
    """Name of the artifact bucket."""
    artifact_uri: pulumi.Output[str]
    """`gs://<bucket>`: where MLflow and training jobs write artifacts."""
    image_registry: pulumi.Output[str]
    """`<region>-docker.pkg.dev/<project>/<repository>`: images are pushed to `<image_registry>/<image>`."""
    model_registry_id: pulumi.Output[str]
    """`projects/<project>/locations/<region>`: the Vertex AI Model Registry models are uploaded to."""
    encryption_key_id: pulumi.Output[str]
    """Id of the Cloud KMS key encrypting artifacts, images and metadata."""

    def __init__(
        self, name: str, args: GcpModelRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        owner = f"GcpModelRegistry {name}"
        if not _REPOSITORY_ID.match(name) or len(name) > 60:
            raise ValueError(
                f"{owner}: name {name!r} must be 1 to 60 lowercase letters, digits and hyphens, starting "
                "with a letter (it is the Artifact Registry repository id)"
            )
        region = args["region"]
        if not _REGION.match(region):
            raise ValueError(f"{owner}: region {region!r} is not a GCP region such as europe-west4")
        noncurrent_days = _in_range(
            owner, "noncurrent_version_days", args.get("noncurrent_version_days", 90), 1, 3650
        )
        images_kept = _in_range(owner, "images_kept", args.get("images_kept", 50), 1, 10000)
        project = args["project"]
        labels = args.get("labels")
        child = pulumi.ResourceOptions(parent=self)

        project_number = gcp.organizations.get_project_output(
            project_id=project, opts=pulumi.InvokeOptions(parent=self)
        ).number

        key_ring = gcp.kms.KeyRing(f"{name}-keyring", name=name, location=region, project=project, opts=child)
        key = gcp.kms.CryptoKey(
            f"{name}-key",
            name=f"{name}-artifacts",
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period=KEY_ROTATION_PERIOD,
            labels=labels,
            opts=child,
        )
        # The key's id is its resource path; derived from the URN it is known in a preview (the policy gate can
        # see every CMEK reference) and still carries the dependency on the key.
        key_id = pulumi.Output.all(key.urn, project).apply(
            lambda values: crypto_key_id(values[1], region, name, f"{name}-artifacts")
        )
        # Artifact Registry's and Vertex AI's service agents are created lazily; make sure they exist before
        # they are granted the key. (Cloud Storage's exists once the project has used Cloud Storage at all.)
        agents = {
            role: gcp.projects.ServiceIdentity(
                f"{name}-{role}-agent", project=project, service=api, opts=child
            )
            for role, api in AGENT_APIS.items()
        }
        bindings = {
            role: gcp.kms.CryptoKeyIAMMember(
                f"{name}-{role}-key-user",
                crypto_key_id=key_id,
                role=ENCRYPTER_DECRYPTER,
                # From the project number rather than the agent's `member` output: known in a preview.
                member=project_number.apply(functools.partial(service_agent, service=domain)),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[agents[role]] if role in agents else []),
            )
            for role, domain in SERVICE_AGENTS.items()
        }

        bucket = gcp.storage.Bucket(
            f"{name}-artifacts",
            project=project,
            location=region.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            encryption={"default_kms_key_name": key_id},
            lifecycle_rules=[
                {
                    "action": {"type": "Delete"},
                    "condition": {"days_since_noncurrent_time": noncurrent_days, "with_state": "ARCHIVED"},
                },
                {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
            ],
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bindings["storage"]]),
        )
        repository = gcp.artifactregistry.Repository(
            f"{name}-images",
            project=project,
            location=region,
            repository_id=name,
            format="DOCKER",
            description=f"Model images of {name}",
            docker_config={"immutable_tags": True},
            kms_key_name=key_id,
            cleanup_policies=[
                {"id": "keep-newest", "action": "KEEP", "most_recent_versions": {"keep_count": images_kept}},
                {"id": "delete-rest", "action": "DELETE", "condition": {"tag_state": "ANY"}},
            ],
            cleanup_policy_dry_run=False,
            vulnerability_scanning_config={"enablement_config": "INHERITED"},
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bindings["artifact-registry"]]),
        )
        gcp.vertex.AiMetadataStore(
            f"{name}-metadata",
            project=project,
            region=region,
            name=name.replace("-", "_"),
            description=f"Lineage of runs, artifacts and models of {name}",
            encryption_spec={"kms_key_name": key_id},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bindings["vertex"]]),
        )

        self.registry_bucket = bucket.name
        self.artifact_uri = pulumi.Output.concat("gs://", bucket.name)
        self.image_registry = pulumi.Output.concat(
            region, "-docker.pkg.dev/", repository.project, "/", repository.repository_id
        )
        self.model_registry_id = pulumi.Output.concat("projects/", repository.project, "/locations/", region)
        self.encryption_key_id = key_id
        self.register_outputs(
            {
                "registry_bucket": self.registry_bucket,
                "artifact_uri": self.artifact_uri,
                "image_registry": self.image_registry,
                "model_registry_id": self.model_registry_id,
                "encryption_key_id": self.encryption_key_id,
            }
        )
