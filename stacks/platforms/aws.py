"""AWS: the VPC, EKS with GPU pools that scale from zero, the model registry, MLflow, the ML workloads on an
encrypted EFS volume, and serverless RAG."""

import json
import operator

import pulumi
import pulumi_aws as aws

from components.compute.eks_gpu_cluster import EksGpuCluster
from components.identity.aws_workload_identity import AwsWorkloadIdentity
from components.network.aws_network import AwsNetwork
from components.rag.aws_serverless_rag import AwsServerlessRag
from components.registry.aws_model_registry import AwsModelRegistry, logs_bucket_policy
from components.s3 import secure_bucket_settings
from components.storage.aws_shared_volume import AwsSharedVolume
from components.workloads.ml_workloads import RUN_AS_USER
from stacks.outputs import StackOutput
from stacks.platforms import Platform
from stacks.platforms.tracking import (
    MLFLOW_NAMESPACE,
    MLFLOW_SERVICE_ACCOUNT,
    mlflow_namespace,
    mlflow_server,
    warn_placeholder_images,
)
from stacks.platforms.workloads import EMBEDDING_DIMENSION, ML_NAMESPACE, ml_workloads, workloads_namespace
from stacks.providers import aws_provider, provider_opts
from stacks.residency import Cloud
from stacks.settings import AwsSettings, StackSettings

REGISTRY_IMAGES = ("mlflow", "rag-query", "rag-ingest", "training", "serving", "monitoring")
"""ECR repositories the registry keeps, `<registry>/<image>`: the images this stack runs."""
RAG_THROTTLING_BURST = 50
"""Requests the RAG query API admits in a burst."""
RAG_THROTTLING_RATE = 20.0
"""Steady requests per second the RAG query API admits."""
ACCESS_LOG_VERSION_DAYS = 90
"""Days replaced or deleted access-log versions are kept."""


def mlflow_artifacts_policy(partition: str, bucket: str, key_arn: str) -> str:
    """What MLflow's role may do: list the artifact bucket, read, write and delete its objects (deletes only
    add delete markers: the bucket is versioned), and use the registry key for those objects."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListArtifacts",
                    "Effect": "Allow",
                    "Action": "s3:ListBucket",
                    "Resource": f"arn:{partition}:s3:::{bucket}",
                },
                {
                    "Sid": "ReadWriteArtifacts",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                    "Resource": f"arn:{partition}:s3:::{bucket}/*",
                },
                {
                    "Sid": "ArtifactKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": key_arn,
                },
            ],
        }
    )


def aws_platform(settings: StackSettings, block: AwsSettings) -> Platform:
    """AWS: the VPC, EKS, the model registry, MLflow and the ML workloads on EKS, and the serverless RAG."""
    env = settings.environment
    provider = aws_provider(block, settings.tags)
    opts = provider_opts(provider)
    network = AwsNetwork(
        f"{env}-network",
        {
            "cidr_block": str(block.vpc_cidr),
            "availability_zone_count": block.availability_zone_count,
            "nat_gateways": block.nat_gateways,
            "flow_log_retention_days": block.flow_log_retention_days,
        },
        opts=opts,
    )
    pulumi.export(StackOutput.AWS_REGION, block.region)
    pulumi.export(StackOutput.AWS_VPC_ID, network.vpc_id)
    pulumi.export(StackOutput.AWS_PRIVATE_SUBNET_IDS, network.private_subnet_ids)
    pulumi.export(StackOutput.AWS_PUBLIC_SUBNET_IDS, network.public_subnet_ids)
    pulumi.export(StackOutput.AWS_FLOW_LOG_GROUP, network.flow_log_group_name)
    if not block.admin_role_arns:
        pulumi.log.warn(
            "mlops-hub:aws.adminRoleArns is empty: no one can administer the EKS cluster, not even `pulumi up` "
            "installing its add-ons; add the deploying role with "
            "`pulumi config set --path 'mlops-hub:aws.adminRoleArns[0]' <role ARN>`"
        )
    warn_placeholder_images("aws", block.images)
    cluster = EksGpuCluster(
        f"{env}-gpu",
        {
            "kubernetes_version": block.kubernetes_version,
            "vpc_id": network.vpc_id,
            "private_subnet_ids": network.private_subnet_ids,
            "node_pools": [pool.to_spec() for pool in block.node_pools],
            "authorized_cidrs": [str(cidr) for cidr in block.authorized_cidrs],
            "admin_role_arns": list(block.admin_role_arns),
            "addons": block.addons.to_spec(),
            # Provider default tags do not reach the instances node groups and Karpenter launch.
            "tags": settings.tags,
        },
        opts=opts,
    )

    registry = AwsModelRegistry(f"{env}-registry", {"image_names": list(REGISTRY_IMAGES)}, opts=opts)

    kubernetes = cluster.kubernetes_provider
    namespace = mlflow_namespace(f"{env}-aws-mlflow-namespace", kubernetes)
    partition = aws.get_partition_output(opts=pulumi.InvokeOptions(provider=provider)).partition
    identity = AwsWorkloadIdentity(
        f"{env}-mlflow-identity",
        {
            "namespace": MLFLOW_NAMESPACE,
            "service_account": MLFLOW_SERVICE_ACCOUNT,
            "oidc_provider_arn": cluster.oidc_provider_arn,
            "oidc_issuer_url": cluster.oidc_issuer_url,
            "policy_documents": {
                "mlflow-artifacts": pulumi.Output.all(
                    partition, registry.registry_bucket, registry.encryption_key_id
                ).apply(lambda values: mlflow_artifacts_policy(values[0], values[1], values[2])),
            },
        },
        opts=pulumi.ResourceOptions(providers=[provider, kubernetes], depends_on=[namespace]),
    )
    tracking = mlflow_server(
        f"{env}-aws-mlflow",
        namespace=identity.namespace,
        service_account_name=identity.service_account_name,
        artifact_uri=registry.artifact_uri,
        backend_store_uri=settings.mlflow_backend_store_uri(Cloud.AWS),
        images=block.images,
        kubernetes=kubernetes,
        client_namespaces=[ML_NAMESPACE],
    )
    # EKS has no ReadWriteMany class out of the box: an EFS file system and its CSI driver make one.
    shared_volume = AwsSharedVolume(
        f"{env}-ml-data",
        {
            "vpc_id": network.vpc_id,
            # One mount target per zone the nodes run in; the subnet count is the zone count.
            "subnet_ids": [
                network.private_subnet_ids.apply(operator.itemgetter(index))
                for index in range(block.availability_zone_count)
            ],
            "client_security_group_id": cluster.node_security_group_id,
            "cluster_name": cluster.cluster_name,
            "oidc_provider_arn": cluster.oidc_provider_arn,
            "oidc_issuer_url": cluster.oidc_issuer_url,
            "posix_id": RUN_AS_USER,
        },
        opts=pulumi.ResourceOptions(providers=[provider, kubernetes]),
    )
    workloads = ml_workloads(
        f"{env}-aws-ml",
        namespace=workloads_namespace(f"{env}-aws-ml-namespace", kubernetes),
        tracking_uri=tracking.tracking_uri,
        images=block.images,
        settings=block.workloads,
        api_key_lines=settings.serving_api_key_lines(Cloud.AWS),
        kubernetes=kubernetes,
        rwx_storage_class=shared_volume.storage_class_name,
    )

    # Who read or wrote which document, for the record (EU AI Act Art. 12). The registry's key policy
    # already lets S3 log delivery encrypt into this account's buckets.
    access_logs = aws.s3.Bucket(f"{env}-rag-access-logs", opts=opts)
    secure_bucket_settings(
        f"{env}-rag-access-logs",
        access_logs,
        registry.encryption_key_id,
        ACCESS_LOG_VERSION_DAYS,
        opts,
        enforce_owner=True,
    )
    rag = AwsServerlessRag(
        f"{env}-rag",
        {
            "query_image_uri": block.images.rag_query,
            "ingest_image_uri": block.images.rag_ingest,
            "throttling_burst_limit": RAG_THROTTLING_BURST,
            "throttling_rate_limit": RAG_THROTTLING_RATE,
            "access_log_bucket": access_logs.id,
            "embedding_dimension": EMBEDDING_DIMENSION,
        },
        opts=opts,
    )
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(provider=provider)).account_id
    aws.s3.BucketPolicy(
        f"{env}-rag-access-logs-policy",
        bucket=access_logs.id,
        policy=pulumi.Output.all(access_logs.arn, partition, rag.documents_bucket, account).apply(
            lambda values: logs_bucket_policy(values[0], f"arn:{values[1]}:s3:::{values[2]}", values[3])
        ),
        opts=opts,
    )
    return Platform(cluster=cluster, registry=registry, tracking=tracking, workloads=workloads, rag=rag)
