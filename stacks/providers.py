"""Explicit providers, one per cloud, carrying the stack's region and its cost-attribution tags.

Components never create providers; they receive these through `opts`. AWS and GCP merge the stack tags
into every taggable resource themselves (default tags / default labels); azure-native has no such
setting, so Azure components tag each resource from the tags they are given.
"""

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp

from stacks.settings import AwsSettings, AzureSettings, GcpSettings


def aws_provider(block: AwsSettings, tags: dict[str, str]) -> aws.Provider:
    """The AWS provider of the stack's region, with the stack tags as default tags."""
    return aws.Provider(
        f"aws-{block.region}",
        region=block.region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )


def gcp_provider(block: GcpSettings, tags: dict[str, str]) -> gcp.Provider:
    """The GCP provider of the stack's project and region, with the stack tags as default labels."""
    return gcp.Provider(
        f"gcp-{block.region}",
        project=block.project,
        region=block.region,
        default_labels=tags,
    )


def azure_provider(block: AzureSettings) -> azure_native.Provider:
    """The azure-native provider pinned to the stack's location."""
    return azure_native.Provider(f"azure-{block.location}", location=block.location)


def provider_opts(provider: pulumi.ProviderResource) -> pulumi.ResourceOptions:
    """Resource options that send a component's children to `provider`."""
    return pulumi.ResourceOptions(providers=[provider])
