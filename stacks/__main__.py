"""The mlops-hub program: settings → providers → components → exports. Kept thin on purpose."""

import gc
import operator

import pulumi

from stacks.outputs import PLATFORM_OUTPUT_KEYS, StackOutput
from stacks.platforms import Platform
from stacks.residency import Cloud
from stacks.settings import load_settings

# Each resource leaves thousands of objects in reference cycles; at default thresholds the collector
# takes most of a large program's time (see README, benchmarks). This speeds `pulumi up` too.
gc.set_threshold(100_000, 10, 10)

settings = load_settings()
pulumi.export(StackOutput.ENVIRONMENT, settings.environment)
pulumi.export(StackOutput.RESIDENCY, settings.residency.value)
pulumi.export(StackOutput.CLOUDS, [cloud.value for cloud in settings.clouds])

for cloud in settings.clouds:
    platform: Platform
    match cloud:
        # Imported per cloud in use: azure-native alone takes about a second to import.
        case Cloud.AWS:
            from stacks.platforms.aws import aws_platform

            assert settings.aws is not None
            platform = aws_platform(settings, settings.aws)
        case Cloud.AZURE:
            from stacks.platforms.azure import azure_platform

            assert settings.azure is not None
            platform = azure_platform(settings, settings.azure)
        case Cloud.GCP:
            from stacks.platforms.gcp import gcp_platform

            assert settings.gcp is not None
            platform = gcp_platform(settings, settings.gcp)
    for path, key in PLATFORM_OUTPUT_KEYS[cloud.value].items():
        pulumi.export(key, operator.attrgetter(path)(platform))
