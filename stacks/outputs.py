"""Stack output names: one enum shared by the program and the tests."""

from enum import StrEnum


class StackOutput(StrEnum):
    """Keys the program exports."""

    ENVIRONMENT = "environment"
    RESIDENCY = "residency"
    CLOUDS = "clouds"
    AWS_REGION = "awsRegion"
    AWS_VPC_ID = "awsVpcId"
    AWS_PRIVATE_SUBNET_IDS = "awsPrivateSubnetIds"
    AWS_PUBLIC_SUBNET_IDS = "awsPublicSubnetIds"
    AWS_FLOW_LOG_GROUP = "awsFlowLogGroup"
    AWS_CLUSTER_NAME = "awsClusterName"
    AWS_CLUSTER_ENDPOINT = "awsClusterEndpoint"
    AWS_CLUSTER_OIDC_ISSUER = "awsClusterOidcIssuer"
    AWS_KUBECONFIG = "awsKubeconfig"
    AWS_GPU_POOLS = "awsGpuPools"
    AWS_NODE_IDENTITY = "awsNodeIdentity"
    AWS_REGISTRY_BUCKET = "awsRegistryBucket"
    AWS_ARTIFACT_URI = "awsArtifactUri"
    AWS_IMAGE_REGISTRY = "awsImageRegistry"
    AWS_MLFLOW_TRACKING_URI = "awsMlflowTrackingUri"
    AWS_RAG_QUERY_URL = "awsRagQueryUrl"
    AWS_SERVING_URL = "awsServingUrl"
    AZURE_CLUSTER_NAME = "azureClusterName"
    AZURE_CLUSTER_ENDPOINT = "azureClusterEndpoint"
    AZURE_CLUSTER_OIDC_ISSUER = "azureClusterOidcIssuer"
    AZURE_KUBECONFIG = "azureKubeconfig"
    AZURE_GPU_POOLS = "azureGpuPools"
    AZURE_NODE_IDENTITY = "azureNodeIdentity"
    AZURE_REGISTRY_BUCKET = "azureRegistryBucket"
    AZURE_ARTIFACT_URI = "azureArtifactUri"
    AZURE_IMAGE_REGISTRY = "azureImageRegistry"
    AZURE_MLFLOW_TRACKING_URI = "azureMlflowTrackingUri"
    AZURE_RAG_QUERY_URL = "azureRagQueryUrl"
    AZURE_SERVING_URL = "azureServingUrl"
    GCP_CLUSTER_NAME = "gcpClusterName"
    GCP_CLUSTER_ENDPOINT = "gcpClusterEndpoint"
    GCP_CLUSTER_OIDC_ISSUER = "gcpClusterOidcIssuer"
    GCP_KUBECONFIG = "gcpKubeconfig"
    GCP_GPU_POOLS = "gcpGpuPools"
    GCP_NODE_IDENTITY = "gcpNodeIdentity"
    GCP_REGISTRY_BUCKET = "gcpRegistryBucket"
    GCP_ARTIFACT_URI = "gcpArtifactUri"
    GCP_IMAGE_REGISTRY = "gcpImageRegistry"
    GCP_MLFLOW_TRACKING_URI = "gcpMlflowTrackingUri"
    GCP_RAG_QUERY_URL = "gcpRagQueryUrl"
    GCP_SERVING_URL = "gcpServingUrl"


_PLATFORM_OUTPUTS = {
    "cluster.cluster_name": "CLUSTER_NAME",
    "cluster.endpoint": "CLUSTER_ENDPOINT",
    "cluster.oidc_issuer_url": "CLUSTER_OIDC_ISSUER",
    "cluster.kubeconfig": "KUBECONFIG",
    "cluster.gpu_pool_names": "GPU_POOLS",
    "cluster.node_identity": "NODE_IDENTITY",
    "registry.registry_bucket": "REGISTRY_BUCKET",
    "registry.artifact_uri": "ARTIFACT_URI",
    "registry.image_registry": "IMAGE_REGISTRY",
    "tracking.tracking_uri": "MLFLOW_TRACKING_URI",
    "rag.query_url": "RAG_QUERY_URL",
    "workloads.serving_url": "SERVING_URL",
}

PLATFORM_OUTPUT_KEYS: dict[str, dict[str, StackOutput]] = {
    cloud: {path: StackOutput[f"{cloud.upper()}_{suffix}"] for path, suffix in _PLATFORM_OUTPUTS.items()}
    for cloud in ("aws", "azure", "gcp")
}
"""Per cloud: `<component>.<output>` of its Platform (stacks/platforms) → the stack output it is exported as."""
