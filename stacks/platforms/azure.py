"""Azure: a resource group, the VNet with NAT egress, a private AKS cluster, the model registry, MLflow and
the ML workloads on AKS, and serverless RAG."""

import pulumi
from pulumi_azure_native import authorization, network, resources

from components.compute.aks_gpu_cluster import AksGpuCluster, DeployerPrincipalType
from components.identity.azure_workload_identity import USE_LABEL, AzureWorkloadIdentity
from components.network.azure_network import AzureNetwork
from components.rag.azure_serverless_rag import AzureServerlessRag
from components.registry.azure_model_registry import CONTAINER_NAME, AzureModelRegistry
from stacks.platforms import Platform
from stacks.platforms.tracking import (
    MLFLOW_NAMESPACE,
    MLFLOW_SERVICE_ACCOUNT,
    mlflow_namespace,
    mlflow_server,
    warn_placeholder_images,
)
from stacks.platforms.workloads import EMBEDDING_DIMENSION, ML_NAMESPACE, ml_workloads, workloads_namespace
from stacks.providers import azure_provider, provider_opts
from stacks.residency import Cloud
from stacks.settings import AzureSettings, StackSettings

STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
"""Read, write and delete blobs: MLflow's role on the artifact container only."""
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
"""Pull images: the AKS kubelet identity's role on the registry."""
AZURE_FILES_CLASS = "azurefile-csi"
"""AKS's built-in ReadWriteMany storage class (Azure Files, the cluster's own storage account)."""
MTLS_PORT = "443"
"""The only port the RAG query app's client-certificate ingress takes from the Internet."""


def azure_platform(settings: StackSettings, block: AzureSettings) -> Platform:
    """Azure: a resource group, the VNet, AKS, the model registry, MLflow and the ML workloads on AKS, and the
    serverless RAG.

    azure-native has no provider default tags, so the stack tags are passed to every component. ACR keeps any
    image pushed to `<image_registry>/<image>`: there is no image list to extend.
    """
    env = settings.environment
    provider = azure_provider(block)
    opts = provider_opts(provider)
    tags = settings.tags
    group = resources.ResourceGroup(f"{env}-rg", location=block.location, tags=tags, opts=opts)
    vnet = AzureNetwork(
        f"{env}-vnet",
        {
            "resource_group_name": group.name,
            "location": block.location,
            "address_space": str(block.address_space),
            "tags": tags,
        },
        opts=opts,
    )
    warn_placeholder_images("azure", block.images)
    cluster = AksGpuCluster(
        f"{env}-aks",
        {
            "resource_group_name": group.name,
            "location": block.location,
            "kubernetes_version": block.kubernetes_version,
            "nodes_subnet_id": vnet.nodes_subnet_id,
            "api_server_subnet_id": vnet.api_server_subnet_id,
            "node_pools": [pool.to_spec() for pool in block.node_pools],
            "authorized_cidrs": [str(cidr) for cidr in block.authorized_cidrs],
            "admin_group_object_ids": list(block.admin_group_object_ids),
            "addons": block.addons.to_spec(),
            "deployer_principal_type": DeployerPrincipalType(block.deployer_principal_type),
            "tags": tags,
        },
        opts=opts,
    )

    prefix = block.global_name_prefix(env)
    subscription = authorization.get_client_config_output(
        opts=pulumi.InvokeOutputOptions(provider=provider)
    ).subscription_id
    group_id = pulumi.Output.concat("/subscriptions/", subscription, "/resourceGroups/", group.name)
    registry = AzureModelRegistry(
        f"{prefix}reg",
        {"resource_group_name": group.name, "location": block.location, "tags": tags},
        opts=opts,
    )
    # Scopes spelled out from the registry's outputs: its resource ids are not among them.
    authorization.RoleAssignment(
        f"{env}-aks-acr-pull",
        principal_id=cluster.node_identity,
        principal_type="ServicePrincipal",
        role_definition_id=_role_definition(subscription, ACR_PULL),
        scope=pulumi.Output.concat(
            group_id,
            "/providers/Microsoft.ContainerRegistry/registries/",
            # `<registry>.azurecr.io`: the login server starts with the registry's name.
            registry.image_registry.apply(lambda server: server.split(".", 1)[0]),
        ),
        opts=pulumi.ResourceOptions(provider=provider),
    )

    kubernetes = cluster.kubernetes_provider
    namespace = mlflow_namespace(f"{env}-azure-mlflow-namespace", kubernetes)
    identity = AzureWorkloadIdentity(
        f"{env}-mlflow-identity",
        {
            "resource_group_name": group.name,
            "location": block.location,
            "oidc_issuer_url": cluster.oidc_issuer_url,
            "namespace": MLFLOW_NAMESPACE,
            "service_account": MLFLOW_SERVICE_ACCOUNT,
            "role_assignments": [
                {
                    "role_definition_id": STORAGE_BLOB_DATA_CONTRIBUTOR,
                    "scope": pulumi.Output.concat(
                        group_id,
                        "/providers/Microsoft.Storage/storageAccounts/",
                        registry.registry_bucket,
                        "/blobServices/default/containers/",
                        CONTAINER_NAME,
                    ),
                }
            ],
            "tags": tags,
        },
        opts=pulumi.ResourceOptions(providers=[provider, kubernetes], depends_on=[namespace]),
    )
    tracking = mlflow_server(
        f"{env}-azure-mlflow",
        namespace=identity.namespace,
        service_account_name=identity.service_account_name,
        artifact_uri=registry.artifact_uri,
        backend_store_uri=settings.mlflow_backend_store_uri(Cloud.AZURE),
        images=block.images,
        kubernetes=kubernetes,
        client_namespaces=[ML_NAMESPACE],
        # The workload identity webhook injects the identity's token only into labelled pods.
        pod_labels={USE_LABEL: "true"},
    )
    workloads = ml_workloads(
        f"{env}-azure-ml",
        namespace=workloads_namespace(f"{env}-azure-ml-namespace", kubernetes),
        tracking_uri=tracking.tracking_uri,
        images=block.images,
        settings=block.workloads,
        api_key_lines=settings.serving_api_key_lines(Cloud.AZURE),
        kubernetes=kubernetes,
        rwx_storage_class=AZURE_FILES_CLASS,
    )

    rag_subnet = _rag_subnet(env, block, group.name, vnet, tags, provider)
    rag = AzureServerlessRag(
        f"{prefix}rag",
        {
            "resource_group_name": group.name,
            "location": block.location,
            "query_image": block.images.rag_query,
            "ingest_image": block.images.rag_ingest,
            "infrastructure_subnet_id": rag_subnet.id,
            "embedding_dimension": EMBEDDING_DIMENSION,
            "tags": tags,
        },
        opts=opts,
    )
    return Platform(cluster=cluster, registry=registry, tracking=tracking, workloads=workloads, rag=rag)


def _role_definition(subscription: pulumi.Output[str], guid: str) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/", subscription, "/providers/Microsoft.Authorization/roleDefinitions/", guid
    )


def _rag_subnet(
    env: str,
    block: AzureSettings,
    group_name: pulumi.Input[str],
    vnet: AzureNetwork,
    tags: dict[str, str],
    provider: pulumi.ProviderResource,
) -> network.Subnet:
    """The Container Apps subnet, with the service endpoints the RAG's storage and Cosmos DB admit."""
    security_group = network.NetworkSecurityGroup(
        f"{env}-rag-nsg",
        resource_group_name=group_name,
        location=block.location,
        security_rules=[
            {
                "name": "allow-mtls-query-inbound",
                "description": "The query app's ingress; it demands a client certificate",
                "priority": 100,
                "direction": "Inbound",
                "access": "Allow",
                "protocol": "Tcp",
                "source_address_prefix": "Internet",
                "source_port_range": "*",
                "destination_address_prefix": "VirtualNetwork",
                "destination_port_range": MTLS_PORT,
            },
            {
                "name": "deny-internet-inbound",
                "description": "Nothing else from the Internet reaches this subnet",
                "priority": 4096,
                "direction": "Inbound",
                "access": "Deny",
                "protocol": "*",
                "source_address_prefix": "Internet",
                "source_port_range": "*",
                "destination_address_prefix": "*",
                "destination_port_range": "*",
            },
        ],
        tags=tags,
        opts=pulumi.ResourceOptions(provider=provider),
    )
    return network.Subnet(
        f"{env}-rag-subnet",
        resource_group_name=group_name,
        virtual_network_name=vnet.vnet_id.apply(lambda vnet_id: vnet_id.rsplit("/", 1)[-1]),
        address_prefix=str(block.rag_subnet_cidr),
        network_security_group={"id": security_group.id},
        service_endpoints=[{"service": "Microsoft.Storage"}, {"service": "Microsoft.AzureCosmosDB"}],
        # Egress through the network's NAT gateway (its static IP), like the nodes; no default outbound.
        nat_gateway={"id": vnet.nat_gateway_id},
        default_outbound_access=False,
        # Azure answers concurrent subnet writes on one VNet with AnotherOperationInProgress.
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[vnet]),
    )
