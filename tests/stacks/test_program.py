"""The program, previewed per shipped stack: every cloud gets its registry, MLflow on its cluster and RAG."""

from functools import cache
from pathlib import Path

import pytest

from scripts.hub.offline.engine import SECRET_MARK, ProgramRun, RecordedResource, RunResult, run_program
from scripts.hub.offline.project import load_project, load_stack_config
from stacks.outputs import PLATFORM_OUTPUT_KEYS
from stacks.platforms.tracking import MLFLOW_NAMESPACE, MLFLOW_SERVICE_ACCOUNT
from stacks.settings import parse_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_CLOUDS = {"dev": ("aws",), "staging": ("aws", "gcp"), "prod": ("aws", "azure", "gcp")}
COMPONENTS = {
    "aws": ("EksGpuCluster", "AwsModelRegistry", "AwsWorkloadIdentity", "AwsServerlessRag"),
    "azure": ("AksGpuCluster", "AzureModelRegistry", "AzureWorkloadIdentity", "AzureServerlessRag"),
    "gcp": ("GkeGpuCluster", "GcpModelRegistry", "GcpWorkloadIdentity", "GcpServerlessRag"),
}
"""Per cloud: its cluster, registry, MLflow identity and RAG component, in that order."""


@cache
def _preview(stack: str) -> RunResult:
    project = load_project(REPO_ROOT)
    config = load_stack_config(project, stack)
    return run_program(
        ProgramRun(
            entry=project.entry,
            project=project.name,
            stack=stack,
            config=config.values,
            secret_keys=config.secret_keys,
        )
    )


def _of_type(result: RunResult, type_token: str) -> list[RecordedResource]:
    return [r for r in result.resources if r.type == type_token]


def _identity(result: RunResult, stack: str, identity_type: str) -> RecordedResource:
    (identity,) = [
        r for r in _of_type(result, f"mlopshub:index:{identity_type}") if r.name == f"{stack}-mlflow-identity"
    ]
    return identity


def _descendants(result: RunResult, root: RecordedResource) -> list[RecordedResource]:
    found, frontier = [], {root.urn}
    for resource in result.resources:
        if resource.parent in frontier:
            found.append(resource)
            frontier.add(resource.urn)
    return found


@pytest.mark.parametrize("stack", sorted(STACK_CLOUDS))
def test_every_cloud_gets_a_registry_mlflow_and_rag(stack: str) -> None:
    result = _preview(stack)
    clouds = STACK_CLOUDS[stack]
    for cloud in clouds:
        cluster, registry, identity, rag = COMPONENTS[cloud]
        for component in (cluster, registry, rag):
            assert len(_of_type(result, f"mlopshub:index:{component}")) == 1, (stack, component)
        # The cluster has identities of its own (Karpenter's); MLflow's is the stack's.
        assert _identity(result, stack, identity).parent == result.resources[0].urn
    servers = _of_type(result, "mlopshub:index:MlflowTrackingServer")
    assert sorted(s.name for s in servers) == sorted(f"{stack}-{cloud}-mlflow" for cloud in clouds)
    for cloud in ("aws", "azure", "gcp"):
        if cloud not in clouds:
            assert not any(
                r.type.startswith(f"mlopshub:index:{cloud.capitalize()}") for r in result.resources
            )


@pytest.mark.parametrize("stack", sorted(STACK_CLOUDS))
def test_mlflow_runs_on_its_clouds_cluster_as_the_workload_identity(stack: str) -> None:
    result = _preview(stack)
    settings = parse_settings(load_stack_config(load_project(REPO_ROOT), stack).values)
    for cloud in STACK_CLOUDS[stack]:
        cluster_type, _, identity_type, _ = COMPONENTS[cloud]
        cluster = _of_type(result, f"mlopshub:index:{cluster_type}")[0]
        # The cluster's Kubernetes provider, built from its kubeconfig.
        (kubernetes,) = [r for r in _descendants(result, cluster) if r.type == "pulumi:providers:kubernetes"]
        assert kubernetes.inputs["kubeconfig"] == SECRET_MARK

        namespace = next(
            r
            for r in _of_type(result, "kubernetes:core/v1:Namespace")
            if r.name == f"{stack}-{cloud}-mlflow-namespace"
        )
        assert namespace.provider == kubernetes.urn
        assert namespace.inputs["metadata"]["name"] == MLFLOW_NAMESPACE
        assert namespace.inputs["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

        identity = _identity(result, stack, identity_type)
        (account,) = [
            r for r in _descendants(result, identity) if r.type == "kubernetes:core/v1:ServiceAccount"
        ]
        assert account.provider == kubernetes.urn
        assert account.inputs["metadata"]["name"] == MLFLOW_SERVICE_ACCOUNT
        assert namespace.urn in identity.dependencies

        server = next(r for r in result.resources if r.name == f"{stack}-{cloud}-mlflow")
        (deployment,) = [r for r in _descendants(result, server) if r.type == "kubernetes:apps/v1:Deployment"]
        assert deployment.provider == kubernetes.urn
        pod = deployment.inputs["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == MLFLOW_SERVICE_ACCOUNT
        block = settings.cloud_block(next(c for c in settings.clouds if c.value == cloud))
        assert block is not None
        assert pod["containers"][0]["image"] == block.images.mlflow
        (secret,) = [r for r in _descendants(result, server) if r.type == "kubernetes:core/v1:Secret"]
        assert secret.inputs["stringData"] == SECRET_MARK


@pytest.mark.parametrize("stack", sorted(STACK_CLOUDS))
def test_registry_mlflow_and_rag_outputs_are_exported(stack: str) -> None:
    outputs = _preview(stack).outputs
    for cloud in STACK_CLOUDS[stack]:
        for key in PLATFORM_OUTPUT_KEYS[cloud].values():
            assert key in outputs, key
    assert outputs[f"{STACK_CLOUDS[stack][0]}MlflowTrackingUri"] == (
        f"http://{stack}-aws-mlflow-service.{MLFLOW_NAMESPACE}.svc.cluster.local:5000"
    )


def test_placeholder_digests_are_warned_about() -> None:
    warnings = [d.message for d in _preview("dev").diagnostics if d.severity == "warning"]
    assert any("mlops-hub:aws.images.mlflow" in w and "placeholder digest" in w for w in warnings)
