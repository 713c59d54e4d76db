"""The program, previewed per shipped stack: every cloud gets its registry, MLflow and the ML workloads on its
cluster, and RAG."""

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from components.workloads.ml_workloads import POD_SECURITY_LABELS, TRAINING_DATA_DIR
from scripts.hub.offline.engine import SECRET_MARK, ProgramRun, RecordedResource, RunResult, run_program
from scripts.hub.offline.project import load_project, load_stack_config
from stacks.outputs import PLATFORM_OUTPUT_KEYS, StackOutput
from stacks.platforms.tracking import MLFLOW_NAMESPACE, MLFLOW_SERVICE_ACCOUNT
from stacks.platforms.workloads import (
    DATA_CLAIM,
    EMBEDDING_DIMENSION,
    ML_NAMESPACE,
    SERVING_API_KEYS_KEY,
    SERVING_API_KEYS_SECRET,
)
from stacks.settings import parse_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_CLOUDS = {"dev": ("aws",), "staging": ("aws", "gcp"), "prod": ("aws", "azure", "gcp")}
COMPONENTS = {
    "aws": ("EksGpuCluster", "AwsModelRegistry", "AwsWorkloadIdentity", "AwsServerlessRag"),
    "azure": ("AksGpuCluster", "AzureModelRegistry", "AzureWorkloadIdentity", "AzureServerlessRag"),
    "gcp": ("GkeGpuCluster", "GcpModelRegistry", "GcpWorkloadIdentity", "GcpServerlessRag"),
}
"""Per cloud: its cluster, registry, MLflow identity and RAG component, in that order."""
RWX_STORAGE_CLASS = {"aws": "efs-ap", "azure": "azurefile-csi", "gcp": "filestore-basic-hdd"}
"""Per cloud: the ReadWriteMany class of the shared claim (EFS access points, Azure Files, Filestore Basic HDD)."""
CLAIM_SIZE = {"aws": "100Gi", "azure": "100Gi", "gcp": "1024Gi"}
"""Per cloud: what the claim requests (EFS ignores it; Filestore Basic HDD starts at 1 TiB)."""


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


def _cluster_kubernetes(result: RunResult, cloud: str) -> RecordedResource:
    cluster = _of_type(result, f"mlopshub:index:{COMPONENTS[cloud][0]}")[0]
    (kubernetes,) = [r for r in _descendants(result, cluster) if r.type == "pulumi:providers:kubernetes"]
    return kubernetes


def _pod(resource: RecordedResource) -> dict[str, Any]:
    spec = resource.inputs["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if "jobTemplate" in spec else spec["template"]
    pod: dict[str, Any] = template["spec"]
    return pod


def _env(resource: RecordedResource) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in _pod(resource)["containers"][0]["env"]}


@pytest.mark.parametrize("stack", sorted(STACK_CLOUDS))
def test_ml_workloads_run_on_each_cluster_next_to_mlflow(stack: str) -> None:
    result = _preview(stack)
    settings = parse_settings(load_stack_config(load_project(REPO_ROOT), stack).values)
    workloads = _of_type(result, "mlopshub:index:MlWorkloads")
    assert sorted(w.name for w in workloads) == sorted(f"{stack}-{cloud}-ml" for cloud in STACK_CLOUDS[stack])
    for cloud in STACK_CLOUDS[stack]:
        block = settings.cloud_block(next(c for c in settings.clouds if c.value == cloud))
        assert block is not None
        kubernetes = _cluster_kubernetes(result, cloud)
        namespace = next(r for r in result.resources if r.name == f"{stack}-{cloud}-ml-namespace")
        assert namespace.provider == kubernetes.urn
        assert namespace.inputs["metadata"]["name"] == ML_NAMESPACE
        assert namespace.inputs["metadata"]["labels"].items() >= POD_SECURITY_LABELS.items()

        component = next(w for w in workloads if w.name == f"{stack}-{cloud}-ml")
        children = _descendants(result, component)
        assert children and all(r.provider == kubernetes.urn for r in children), cloud
        by_name = {r.name: r for r in children}
        training = by_name[f"{stack}-{cloud}-ml-training"]
        serving = by_name[f"{stack}-{cloud}-ml-serving"]
        monitoring = by_name[f"{stack}-{cloud}-ml-monitoring"]
        for resource, image in (
            (training, block.images.training),
            (serving, block.images.serving),
            (monitoring, block.images.monitoring),
        ):
            assert resource.inputs["metadata"]["namespace"] == ML_NAMESPACE
            assert _pod(resource)["containers"][0]["image"] == image
            assert _env(resource)["MLFLOW_TRACKING_URI"] == (
                f"http://{stack}-{cloud}-mlflow-service.{MLFLOW_NAMESPACE}.svc.cluster.local:5000"
            )
        # Plain ServiceAccounts: the workloads reach only MLflow, which proxies the artifact bucket.
        accounts = [r for r in children if r.type == "kubernetes:core/v1:ServiceAccount"]
        assert sorted(a.inputs["metadata"]["name"] for a in accounts) == ["monitoring", "serving", "training"]
        assert not any(a.inputs["metadata"].get("annotations") for a in accounts)
        assert training.inputs["spec"]["suspend"] is True
        assert _env(training)["TRAINING_DATA"] == f"{TRAINING_DATA_DIR}/{block.workloads.training_data}"

        # MLflow admits the workloads' namespace.
        ingress = next(r for r in result.resources if r.name == f"{stack}-{cloud}-mlflow-ingress")
        sources = ingress.inputs["spec"]["ingress"][0]["from"]
        assert {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [ML_NAMESPACE]}
                ]
            }
        } in sources

        # Serving's keys: the stack's Secret of hashes, mounted as a file.
        secret = next(r for r in result.resources if r.name == f"{stack}-{cloud}-ml-api-keys")
        assert secret.provider == kubernetes.urn
        assert secret.inputs["stringData"] == SECRET_MARK
        assert secret.inputs["metadata"] == {"name": SERVING_API_KEYS_SECRET, "namespace": ML_NAMESPACE}
        (keys_volume,) = [v for v in _pod(serving)["volumes"] if "secret" in v]
        assert keys_volume["secret"]["secretName"] == SERVING_API_KEYS_SECRET
        assert keys_volume["secret"]["items"] == [{"key": SERVING_API_KEYS_KEY, "path": SERVING_API_KEYS_KEY}]

        # Every cloud has the shared claim, so every monitor retrains on drift.
        (claim,) = [r for r in result.resources if r.name == f"{stack}-{cloud}-ml-data"]
        assert claim.provider == kubernetes.urn
        assert claim.inputs["spec"]["accessModes"] == ["ReadWriteMany"]
        assert claim.inputs["spec"]["storageClassName"] == RWX_STORAGE_CLASS[cloud]
        assert claim.inputs["spec"]["resources"] == {"requests": {"storage": CLAIM_SIZE[cloud]}}
        volume = {"name": "data", "persistentVolumeClaim": {"claimName": DATA_CLAIM}}
        for resource in (training, serving, monitoring):
            assert volume in _pod(resource)["volumes"]
        roles = [r for r in children if r.type == "kubernetes:rbac.authorization.k8s.io/v1:Role"]
        assert len(roles) == 1
        assert _pod(monitoring)["automountServiceAccountToken"] is True
        assert _env(monitoring)["MONITORING_RETRAIN_CRONJOB"] == f"{ML_NAMESPACE}/{stack}-{cloud}-ml-training"


@pytest.mark.parametrize("stack", sorted(STACK_CLOUDS))
def test_serving_urls_are_exported_per_cloud(stack: str) -> None:
    outputs = _preview(stack).outputs
    for cloud in STACK_CLOUDS[stack]:
        assert outputs[StackOutput[f"{cloud.upper()}_SERVING_URL"]] == (
            f"http://{stack}-{cloud}-ml-serving-service.{ML_NAMESPACE}.svc.cluster.local:8080"
        )


def test_the_rag_indexes_store_the_workloads_embedding_size() -> None:
    result = _preview("prod")
    assert EMBEDDING_DIMENSION == 384
    (aws_index,) = _of_type(result, "aws:s3/vectorsIndex:VectorsIndex")
    assert aws_index.inputs["dimension"] == EMBEDDING_DIMENSION
    (gcp_index,) = _of_type(result, "gcp:firestore/index:Index")
    assert [f["vectorConfig"]["dimension"] for f in gcp_index.inputs["fields"] if "vectorConfig" in f] == [
        EMBEDDING_DIMENSION
    ]
    (azure_chunks,) = [
        r
        for r in _of_type(result, "azure-native:cosmosdb:SqlResourceSqlContainer")
        if r.name.endswith("-chunks")
    ]
    embeddings = azure_chunks.inputs["resource"]["vectorEmbeddingPolicy"]["vectorEmbeddings"]
    assert [e["dimensions"] for e in embeddings] == [EMBEDDING_DIMENSION]


def test_no_cloud_warns_about_a_missing_capture_claim() -> None:
    warnings = [d.message for d in _preview("prod").diagnostics if d.severity == "warning"]
    assert not any("no capture_claim_name" in w for w in warnings)


def _named(result: RunResult, name: str) -> RecordedResource:
    (found,) = [r for r in result.resources if r.name == name]
    return found


def _depends_on(resource: RecordedResource, prop: str) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


@pytest.mark.parametrize("stack", sorted(STACK_CLOUDS))
def test_the_aws_claim_is_an_encrypted_efs_reachable_only_from_the_nodes(stack: str) -> None:
    result = _preview(stack)
    settings = parse_settings(load_stack_config(load_project(REPO_ROOT), stack).values)
    assert settings.aws is not None
    (volume,) = _of_type(result, "mlopshub:index:AwsSharedVolume")
    children = _descendants(result, volume)
    by_type: dict[str, list[RecordedResource]] = {}
    for child in children:
        by_type.setdefault(child.type, []).append(child)

    (file_system,) = by_type["aws:efs/fileSystem:FileSystem"]
    assert file_system.inputs["encrypted"] is True
    (key,) = by_type["aws:kms/key:Key"]
    assert key.inputs["enableKeyRotation"] is True
    assert _depends_on(file_system, "kmsKeyId") == [key.name]
    (backup,) = by_type["aws:efs/backupPolicy:BackupPolicy"]
    assert backup.inputs["backupPolicy"] == {"status": "ENABLED"}

    # NFS only from the EKS cluster security group, which every node carries.
    (rule,) = by_type["aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"]
    assert (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"]) == ("tcp", 2049, 2049)
    assert _depends_on(rule, "referencedSecurityGroupId") == [f"{stack}-gpu-cluster"]
    assert not {"cidrIpv4", "cidrIpv6", "prefixListId"} & set(rule.inputs)
    (group,) = by_type["aws:ec2/securityGroup:SecurityGroup"]
    assert group.inputs.get("ingress", []) == []
    assert _depends_on(group, "vpcId") == [f"{stack}-network-vpc"]

    # One mount target in each private subnet, none in a public one.
    targets = by_type["aws:efs/mountTarget:MountTarget"]
    assert len(targets) == settings.aws.availability_zone_count
    private = sorted(f"{stack}-network-private-{i}" for i in range(settings.aws.availability_zone_count))
    for target in targets:
        assert _depends_on(target, "subnetId") == private
        assert _depends_on(target, "securityGroups") == [group.name]

    (addon,) = by_type["aws:eks/addon:Addon"]
    assert addon.inputs["addonName"] == "aws-efs-csi-driver"
    assert addon.inputs["addonVersion"]
    assert _depends_on(addon, "clusterName") == [f"{stack}-gpu-cluster"]
    (storage_class,) = by_type["kubernetes:storage.k8s.io/v1:StorageClass"]
    assert storage_class.provider == _cluster_kubernetes(result, "aws").urn
    assert storage_class.inputs["provisioner"] == "efs.csi.aws.com"
    claim = _named(result, f"{stack}-aws-ml-data")
    assert _depends_on(claim, "spec") == [storage_class.name]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_gcp_claim_is_filestore_on_the_stacks_network(stack: str) -> None:
    result = _preview(stack)
    (cluster,) = _of_type(result, "gcp:container/cluster:Cluster")
    assert cluster.inputs["addonsConfig"]["gcpFilestoreCsiDriverConfig"] == {"enabled": True}
    storage_class = _named(result, f"{stack}-gcp-ml-data-class")
    assert storage_class.provider == _cluster_kubernetes(result, "gcp").urn
    assert storage_class.inputs["provisioner"] == "filestore.csi.storage.gke.io"
    assert storage_class.inputs["parameters"]["tier"] == "standard"
    # Not GKE's `standard-rwx`: that class puts instances on the `default` network, away from the nodes.
    assert _depends_on(storage_class, "parameters") == [f"{stack}-net-vpc"]
    claim = _named(result, f"{stack}-gcp-ml-data")
    assert _depends_on(claim, "spec") == [storage_class.name]
