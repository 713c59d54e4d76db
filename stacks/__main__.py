"""The mlops-hub program: settings → providers → components → exports. Kept thin on purpose."""

import gc

import pulumi

from components.network import AwsNetwork
from stacks.outputs import StackOutput
from stacks.providers import aws_provider, azure_provider, gcp_provider, provider_opts
from stacks.settings import load_settings

# Each resource leaves thousands of objects in reference cycles; at default thresholds the collector
# takes most of a large program's time (see README, benchmarks). This speeds `pulumi up` too.
gc.set_threshold(100_000, 10, 10)

settings = load_settings()
pulumi.export(StackOutput.ENVIRONMENT, settings.environment)
pulumi.export(StackOutput.RESIDENCY, settings.residency.value)
pulumi.export(StackOutput.CLOUDS, [cloud.value for cloud in settings.clouds])

if settings.aws is not None:
    aws_block = settings.aws
    network = AwsNetwork(
        f"{settings.environment}-network",
        {
            "cidr_block": str(aws_block.vpc_cidr),
            "availability_zone_count": aws_block.availability_zone_count,
            "nat_gateways": aws_block.nat_gateways,
            "flow_log_retention_days": aws_block.flow_log_retention_days,
        },
        opts=provider_opts(aws_provider(aws_block, settings.tags)),
    )
    pulumi.export(StackOutput.AWS_REGION, aws_block.region)
    pulumi.export(StackOutput.AWS_VPC_ID, network.vpc_id)
    pulumi.export(StackOutput.AWS_PRIVATE_SUBNET_IDS, network.private_subnet_ids)
    pulumi.export(StackOutput.AWS_PUBLIC_SUBNET_IDS, network.public_subnet_ids)
    pulumi.export(StackOutput.AWS_FLOW_LOG_GROUP, network.flow_log_group_name)

if settings.gcp is not None:
    gcp_provider(settings.gcp, settings.tags)

if settings.azure is not None:
    azure_provider(settings.azure)
