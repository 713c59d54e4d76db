"""Behaviour of MlflowTrackingServer: what it registers under the offline engine's mocks."""

import gc
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.registry.mlflow_server import (
    TYPE_TOKEN,
    MlflowTrackingServer,
    MlflowTrackingServerArgs,
    server_args,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

NAME = "mlflow"
NAMESPACE = "ml-tracking"
DIGEST = "sha256:" + "a" * 64
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/models/mlflow"
ARTIFACT_URI = "s3://models-artifacts"
STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:kubernetes"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SELECTOR = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": NAME}
LABELS = {**SELECTOR, "app.kubernetes.io/managed-by": "pulumi"}


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...


def program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an explicit Kubernetes provider, and one server per name."""

    def body() -> None:
        provider = k8s.Provider("p", kubeconfig="{}")
        for name in names or (NAME,):
            args = cast(
                MlflowTrackingServerArgs,
                {
                    "namespace": NAMESPACE,
                    "service_account_name": "mlflow",
                    "artifact_uri": ARTIFACT_URI,
                    "backend_store_uri": pulumi.Output.secret("postgresql://mlflow:pw@db:5432/mlflow"),
                    "image_repository": REPOSITORY,
                    "image_digest": DIGEST,
                    **overrides,
                },
            )
            MlflowTrackingServer(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def server(pulumi_run: Recorder) -> Recorder:
    pulumi_run.run(program())
    return pulumi_run


@pytest.fixture
def collect_failed_runs() -> Iterator[None]:
    """Collect what a failed run left behind at a known point (see test_aws_network.py for why)."""
    yield
    gc.collect()


def component(recorder: Recorder, name: str = NAME) -> RecordedResource:
    found = [r for r in recorder.of_type(TYPE_TOKEN) if r.name == name]
    assert len(found) == 1
    return found[0]


def pod_spec(recorder: Recorder) -> dict[str, Any]:
    spec: dict[str, Any] = recorder.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]
    return spec


def test_children_are_parented_named_and_on_the_explicit_provider(server: Recorder) -> None:
    children = server.children_of(component(server))

    assert sorted((r.type, r.name) for r in children) == [
        (DEPLOYMENT, f"{NAME}-server"),
        ("kubernetes:core/v1:Secret", f"{NAME}-backend-store"),
        ("kubernetes:core/v1:Service", f"{NAME}-service"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", f"{NAME}-ingress"),
        ("kubernetes:policy/v1:PodDisruptionBudget", f"{NAME}-pdb"),
    ]
    assert all(r.provider is not None and r.provider.endswith("::p") for r in children)
    assert all(r.inputs["metadata"]["namespace"] == NAMESPACE for r in children)


def test_backend_store_uri_stays_secret(server: Recorder) -> None:
    secret = server.one("kubernetes:core/v1:Secret")

    assert secret.inputs["stringData"] == "[secret]"
    assert pod_spec(server)["containers"][0]["env"][0] == {
        "name": "MLFLOW_BACKEND_STORE_URI",
        "valueFrom": {"secretKeyRef": {"name": f"{NAME}-backend-store", "key": "backend-store-uri"}},
    }


def test_server_command(server: Recorder) -> None:
    container = pod_spec(server)["containers"][0]

    # The password-bearing URI reaches mlflow only through its environment, never its command line.
    assert not any("BACKEND_STORE" in arg for arg in container["args"])
    assert container["image"] == f"{REPOSITORY}@{DIGEST}"
    assert container["command"] == ["mlflow"]
    assert (
        container["args"]
        == server_args(ARTIFACT_URI)
        == [
            "server",
            "--artifacts-destination",
            ARTIFACT_URI,
            "--host",
            "0.0.0.0",  # noqa: S104
            "--port",
            "5000",
        ]
    )


def test_pod_runs_restricted(server: Recorder) -> None:
    spec = pod_spec(server)
    container = spec["containers"][0]

    assert spec["serviceAccountName"] == "mlflow"
    assert spec["automountServiceAccountToken"] is False
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]  # noqa: S108
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}]


def test_probes_and_resources(server: Recorder) -> None:
    container = pod_spec(server)["containers"][0]
    get = {"path": "/health", "port": "http"}

    assert container["livenessProbe"] == {
        "httpGet": get,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "initialDelaySeconds": 30,
        "failureThreshold": 3,
    }
    assert container["readinessProbe"] == {
        "httpGet": get,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "initialDelaySeconds": 5,
        "failureThreshold": 3,
    }
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }


def test_service_and_pdb(server: Recorder) -> None:
    service = server.one("kubernetes:core/v1:Service")
    budget = server.one("kubernetes:policy/v1:PodDisruptionBudget")

    assert service.inputs["spec"] == {
        "type": "ClusterIP",
        "selector": SELECTOR,
        "ports": [{"name": "http", "port": 5000, "targetPort": "http", "protocol": "TCP"}],
    }
    assert budget.inputs["spec"] == {"selector": {"matchLabels": SELECTOR}, "minAvailable": 1}
    assert server.one(DEPLOYMENT).inputs["metadata"]["labels"] == LABELS


def test_network_policy_admits_own_namespace_only_by_default(server: Recorder) -> None:
    policy = server.one("kubernetes:networking.k8s.io/v1:NetworkPolicy")

    assert policy.inputs["spec"] == {
        "podSelector": {"matchLabels": SELECTOR},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 5000, "protocol": "TCP"}]}],
    }


def test_network_policy_admits_client_namespaces(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(client_namespaces=["training", "serving"]))
    rule = pulumi_run.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").inputs["spec"]["ingress"][0]

    assert rule["from"] == [
        {"podSelector": {}},
        {
            "namespaceSelector": {
                "matchExpressions": [
                    {
                        "key": "kubernetes.io/metadata.name",
                        "operator": "In",
                        "values": ["serving", "training"],
                    }
                ]
            }
        },
    ]


def test_single_replica_budget_does_not_block_drains(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(replicas=1))

    assert pulumi_run.one("kubernetes:policy/v1:PodDisruptionBudget").inputs["spec"] == {
        "selector": {"matchLabels": SELECTOR},
        "maxUnavailable": 1,
    }


def test_outputs(server: Recorder) -> None:
    assert component(server).outputs == {
        "service_name": f"{NAME}-service",
        "tracking_uri": f"http://{NAME}-service.{NAMESPACE}.svc.cluster.local:5000",
    }


def test_two_servers_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names = [r.inputs["metadata"]["name"] for r in pulumi_run.of_type(DEPLOYMENT)]

    assert len(urns) == len(set(urns))
    assert sorted(names) == ["a-server", "b-server"]


BAD_ARGS = [
    pytest.param({"image_digest": "latest"}, "image_digest 'latest'", id="digest"),
    pytest.param({"replicas": 0}, "replicas 0", id="replicas"),
    pytest.param({"cpu_request": "lots"}, "cpu_request 'lots'", id="cpu"),
    pytest.param({"memory_request": "1 GB"}, "memory_request '1 GB'", id="memory"),
    pytest.param(
        {"client_namespaces": ["Bad_NS"]}, "client_namespaces entry 'Bad_NS'", id="client_namespace"
    ),
]


@pytest.mark.usefixtures("collect_failed_runs")
@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(program(**overrides))

    assert isinstance(failure.value.cause, ValueError)
    assert f"MlflowTrackingServer {NAME}" in str(failure.value.cause)
    assert bad_value in str(failure.value.cause)
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]
