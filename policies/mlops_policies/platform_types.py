"""Resource type tokens the GCP, Azure, Kubernetes and cross-cloud policies inspect, in one place.

azure-native tokens are written without an API version (`azure-native:storage:StorageAccount`); compare
them through `platform_support.unversioned` so explicitly versioned tokens
(`azure-native:storage/v20240101:StorageAccount`) match too.
"""

import re

# --- GCP -------------------------------------------------------------------------------------------
GKE_CLUSTER = "gcp:container/cluster:Cluster"
GKE_NODE_POOL = "gcp:container/nodePool:NodePool"
GCE_INSTANCE = "gcp:compute/instance:Instance"
GCE_INSTANCE_TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
GCE_REGION_INSTANCE_TEMPLATE = "gcp:compute/regionInstanceTemplate:RegionInstanceTemplate"
GCE_INSTANCE_TYPES = frozenset({GCE_INSTANCE, GCE_INSTANCE_TEMPLATE, GCE_REGION_INSTANCE_TEMPLATE})
"""Compute Engine types with a `serviceAccount` block (instances and the templates node groups use)."""
GCS_BUCKET = "gcp:storage/bucket:Bucket"
CLOUD_RUN_SERVICE = "gcp:cloudrun/service:Service"
CLOUD_RUN_V2_SERVICE = "gcp:cloudrunv2/service:Service"

GCP_IAM_CLASS = re.compile(r"(?i)^.*iam(member|binding|policy)$")
"""The class part of every GCP IAM grant token (`IAMMember`, `BucketIAMBinding`, `ServiceIamPolicy`...):
Member and Binding types carry `role`, Policy types carry `policyData` (checked across pulumi-gcp 10)."""
GCP_INVOKER_MODULES = frozenset({"cloudrun", "cloudrunv2", "cloudfunctions", "cloudfunctionsv2"})
"""GCP modules whose IAM grants decide who may invoke a service or function."""

# --- Azure (azure-native, unversioned) -------------------------------------------------------------
AKS_CLUSTER = "azure-native:containerservice:ManagedCluster"
AKS_AGENT_POOL = "azure-native:containerservice:AgentPool"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
COSMOS_ACCOUNTS = frozenset(
    {"azure-native:cosmosdb:DatabaseAccount", "azure-native:documentdb:DatabaseAccount"}
)
"""Cosmos DB accounts: `cosmosdb` since azure-native 3, `documentdb` before."""
CONTAINER_REGISTRY = "azure-native:containerregistry:Registry"
COGNITIVE_ACCOUNT = "azure-native:cognitiveservices:Account"
LOG_ANALYTICS_WORKSPACE = "azure-native:operationalinsights:Workspace"
CONTAINER_APP = "azure-native:app:ContainerApp"
CONTAINER_APP_AUTH = "azure-native:app:ContainerAppsAuthConfig"
WEB_APP = "azure-native:web:WebApp"
ML_WORKSPACE = "azure-native:machinelearningservices:Workspace"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"

# --- AWS -------------------------------------------------------------------------------------------
EKS_NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
APIGATEWAYV2_ROUTE = "aws:apigatewayv2/route:Route"
LAMBDA_FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"

# --- Kubernetes ------------------------------------------------------------------------------------
KUBERNETES_PROVIDER = "pulumi:providers:kubernetes"

# --- Packages and their providers ------------------------------------------------------------------
CLOUD_OF_PACKAGE: dict[str, str] = {"aws": "aws", "gcp": "gcp", "azure-native": "azure"}
"""Type-token package → the cloud key used in `allowedRegions`."""
