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
    AZURE_CLUSTER_NAME = "azureClusterName"
    AZURE_CLUSTER_ENDPOINT = "azureClusterEndpoint"
    AZURE_CLUSTER_OIDC_ISSUER = "azureClusterOidcIssuer"
    AZURE_KUBECONFIG = "azureKubeconfig"
    AZURE_GPU_POOLS = "azureGpuPools"
    AZURE_NODE_IDENTITY = "azureNodeIdentity"
    GCP_CLUSTER_NAME = "gcpClusterName"
    GCP_CLUSTER_ENDPOINT = "gcpClusterEndpoint"
    GCP_CLUSTER_OIDC_ISSUER = "gcpClusterOidcIssuer"
    GCP_KUBECONFIG = "gcpKubeconfig"
    GCP_GPU_POOLS = "gcpGpuPools"
    GCP_NODE_IDENTITY = "gcpNodeIdentity"


CLUSTER_OUTPUT_KEYS: dict[str, dict[str, StackOutput]] = {
    cloud: {
        "cluster_name": StackOutput[f"{cloud.upper()}_CLUSTER_NAME"],
        "endpoint": StackOutput[f"{cloud.upper()}_CLUSTER_ENDPOINT"],
        "oidc_issuer_url": StackOutput[f"{cloud.upper()}_CLUSTER_OIDC_ISSUER"],
        "kubeconfig": StackOutput[f"{cloud.upper()}_KUBECONFIG"],
        "gpu_pool_names": StackOutput[f"{cloud.upper()}_GPU_POOLS"],
        "node_identity": StackOutput[f"{cloud.upper()}_NODE_IDENTITY"],
    }
    for cloud in ("aws", "azure", "gcp")
}
"""Per cloud: the cluster contract's output name → the stack output it is exported as."""
