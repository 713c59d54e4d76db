"""One module per cloud: its network, GPU cluster, model registry, MLflow server, ML workloads and serverless
RAG.

The program imports only the modules of the clouds a stack uses: a provider SDK costs up to a second to import.
Each module's `<cloud>_platform` returns a `Platform`, the handful of components whose outputs the stack
exports (stacks/outputs.py maps them to output names).
"""

from dataclasses import dataclass
from typing import Protocol

import pulumi

from components.compute.contract import GpuCluster
from components.registry.mlflow_server import MlflowTrackingServer
from components.workloads.ml_workloads import MlWorkloads


class ModelRegistry(Protocol):
    """What the program uses of AwsModelRegistry, GcpModelRegistry and AzureModelRegistry."""

    @property
    def registry_bucket(self) -> pulumi.Output[str]: ...
    @property
    def artifact_uri(self) -> pulumi.Output[str]: ...
    @property
    def image_registry(self) -> pulumi.Output[str]: ...


class ServerlessRag(Protocol):
    """What the program uses of AwsServerlessRag, GcpServerlessRag and AzureServerlessRag."""

    @property
    def query_url(self) -> pulumi.Output[str]: ...


@dataclass(frozen=True, slots=True)
class Platform:
    """The components of one cloud whose outputs the stack exports."""

    cluster: GpuCluster
    registry: ModelRegistry
    tracking: MlflowTrackingServer
    workloads: MlWorkloads
    rag: ServerlessRag
