"""GCP: the VPC with pod and service ranges and Cloud NAT, a regional private GKE cluster, the model
registry, MLflow and the ML workloads on GKE (sharing a Filestore volume), and serverless RAG."""

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components.compute.gke_gpu_cluster import GkeGpuCluster
from components.identity.gcp_workload_identity import GcpWorkloadIdentity
from components.network.gcp_network import GcpNetwork
from components.rag.gcp_serverless_rag import GcpServerlessRag
from components.registry.gcp_model_registry import GcpModelRegistry
from stacks.platforms import Platform
from stacks.platforms.tracking import (
    MLFLOW_NAMESPACE,
    MLFLOW_SERVICE_ACCOUNT,
    mlflow_namespace,
    mlflow_server,
    warn_placeholder_images,
)
from stacks.platforms.workloads import EMBEDDING_DIMENSION, ML_NAMESPACE, ml_workloads, workloads_namespace
from stacks.providers import gcp_provider, provider_opts
from stacks.residency import Cloud
from stacks.settings import GcpSettings, StackSettings

MLFLOW_BUCKET_ROLE = "roles/storage.objectUser"
"""MLflow's grant on the artifact bucket only: list, read, write and delete objects, nothing on the bucket."""
STORAGE_API = "storage.googleapis.com"
FILESTORE_CLASS = "filestore-basic-hdd"
"""The workloads' ReadWriteMany class: Filestore Basic HDD on the stack's VPC. GKE's built-in `standard-rwx`
is the same tier but creates instances on the project's `default` network, which the nodes are not on."""
FILESTORE_CSI_DRIVER = "filestore.csi.storage.gke.io"


def gcp_platform(settings: StackSettings, block: GcpSettings) -> Platform:
    """GCP: the VPC, GKE, the model registry, MLflow and the ML workloads on GKE, and the serverless RAG.

    Artifact Registry keeps any image pushed to `<image_registry>/<image>`: there is no image list to extend.
    """
    env = settings.environment
    provider = gcp_provider(block, settings.tags)
    opts = provider_opts(provider)
    network = GcpNetwork(
        f"{env}-net",
        {
            "region": block.region,
            "nodes_cidr": str(block.nodes_cidr),
            "pods_cidr": str(block.pods_cidr),
            "services_cidr": str(block.services_cidr),
        },
        opts=opts,
    )
    warn_placeholder_images("gcp", block.images)
    cluster = GkeGpuCluster(
        f"{env}-gke",
        {
            "project": block.project,
            "location": block.region,
            "kubernetes_version": block.kubernetes_version,
            "network": network.network_id,
            "subnetwork": network.subnetwork_id,
            "pods_range_name": network.pods_range_name,
            "services_range_name": network.services_range_name,
            "node_pools": [pool.to_spec() for pool in block.node_pools],
            "authorized_cidrs": [str(cidr) for cidr in block.authorized_cidrs],
            "addons": block.addons.to_spec(),
            "labels": settings.tags,
        },
        opts=opts,
    )

    registry = GcpModelRegistry(
        f"{env}-registry", {"project": block.project, "region": block.region}, opts=opts
    )
    # Who read or wrote which artifact or document, for the record (EU AI Act Art. 12): Cloud Audit Logs'
    # data-access logs, which Google recommends over the buckets' legacy usage logs. Authoritative for
    # Cloud Storage in this project: it replaces any other audit config of that service there.
    gcp.projects.IAMAuditConfig(
        f"{env}-storage-data-access-audit",
        project=block.project,
        service=STORAGE_API,
        audit_log_configs=[{"log_type": "DATA_READ"}, {"log_type": "DATA_WRITE"}],
        opts=opts,
    )

    kubernetes = cluster.kubernetes_provider
    namespace = mlflow_namespace(f"{env}-gcp-mlflow-namespace", kubernetes)
    # No project roles: a project-wide storage role would reach every bucket. The one grant is on the
    # artifact bucket below; Cloud Storage itself uses the CMEK key, so MLflow needs no key grant.
    identity = GcpWorkloadIdentity(
        f"{env}-mlflow-identity",
        {
            "project": block.project,
            "namespace": MLFLOW_NAMESPACE,
            "service_account": MLFLOW_SERVICE_ACCOUNT,
            "account_id": f"{env}-mlflow",
            "roles": [],
        },
        opts=pulumi.ResourceOptions(providers=[provider, kubernetes], depends_on=[namespace]),
    )
    gcp.storage.BucketIAMMember(
        f"{env}-mlflow-artifacts-access",
        bucket=registry.registry_bucket,
        role=MLFLOW_BUCKET_ROLE,
        member=pulumi.Output.concat("serviceAccount:", identity.email),
        opts=pulumi.ResourceOptions(provider=provider),
    )
    tracking = mlflow_server(
        f"{env}-gcp-mlflow",
        namespace=identity.namespace,
        service_account_name=identity.service_account_name,
        artifact_uri=registry.artifact_uri,
        backend_store_uri=settings.mlflow_backend_store_uri(Cloud.GCP),
        images=block.images,
        kubernetes=kubernetes,
        client_namespaces=[ML_NAMESPACE],
    )
    workloads = ml_workloads(
        f"{env}-gcp-ml",
        namespace=workloads_namespace(f"{env}-gcp-ml-namespace", kubernetes),
        tracking_uri=tracking.tracking_uri,
        images=block.images,
        settings=block.workloads,
        api_key_lines=settings.serving_api_key_lines(Cloud.GCP),
        kubernetes=kubernetes,
        rwx_storage_class=filestore_class(f"{env}-gcp-ml-data-class", network.network_name, kubernetes),
        claim_size=f"{block.data_volume_size_gib}Gi",
    )

    rag = GcpServerlessRag(
        f"{env}-rag",
        {
            "region": block.region,
            "firestore_location": block.region,
            "query_image": block.images.rag_query,
            "ingest_image": block.images.rag_ingest,
            "query_invokers": list(block.rag_query_invokers),
            # The registry's key: its grant to the Cloud Storage service agent is already in place.
            "kms_key_name": registry.encryption_key_id,
            "embedding_dimension": EMBEDDING_DIMENSION,
        },
        # Waits for the registry's children, among them the key grant the documents bucket needs.
        opts=pulumi.ResourceOptions(providers=[provider], depends_on=[registry]),
    )
    return Platform(cluster=cluster, registry=registry, tracking=tracking, workloads=workloads, rag=rag)


def filestore_class(
    name: str, network_name: pulumi.Input[str], kubernetes: pulumi.ProviderResource
) -> pulumi.Output[str]:
    """A ReadWriteMany StorageClass of Filestore Basic HDD instances on `network_name` (GkeGpuCluster turns
    the Filestore CSI driver on); returns its name. Each claim becomes one instance, of the claim's size."""
    storage_class = k8s.storage.v1.StorageClass(
        name,
        metadata={"name": FILESTORE_CLASS, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
        provisioner=FILESTORE_CSI_DRIVER,
        # `standard` is Basic HDD: the cheapest tier, ample for captures, monitor state and a training table.
        parameters={"tier": "standard", "network": network_name},
        # A Filestore instance bills until it is deleted: when the claim goes (with the stack), so does it.
        reclaim_policy="Delete",
        allow_volume_expansion=True,
        # Basic instances are zonal: created in the zone of the first pod that mounts the claim. It also keeps
        # `pulumi up` moving: the Kubernetes provider counts such a claim ready while Pending, where it would
        # hold an Immediate one (and the pods that mount it) until Filestore had built the instance (minutes).
        volume_binding_mode="WaitForFirstConsumer",
        opts=pulumi.ResourceOptions(provider=kubernetes),
    )
    return storage_class.metadata.name
