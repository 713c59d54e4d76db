"""Behaviour of MlWorkloads: what it registers under the offline engine's mocks.

The rendered serving Deployment spec is compared with a golden file in `golden/`. After an intended change,
rewrite it and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/components/workloads/test_ml_workloads.py -k golden
"""

import gc
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.compute.contract import ACCELERATOR_LABEL, GPU_TAINT
from components.workloads.ml_workloads import (
    TYPE_TOKEN,
    MlWorkloads,
    MlWorkloadsArgs,
    gpu_toleration,
    resources,
)
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

NAME = "lifecycle"
NAMESPACE = "ml"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops"
DIGESTS = {
    "training": "sha256:" + "a" * 64,
    "serving": "sha256:" + "b" * 64,
    "monitoring": "sha256:" + "c" * 64,
}
ACCOUNTS = {"training": "trainer", "serving": "server", "monitoring": "monitor"}
TRACKING_URI = "http://mlflow-service.ml.svc.cluster.local:5000"
MODEL = "fraud-detector"
API_KEYS_SECRET = "serving-api-keys"

STACK = "pulumi:pulumi:Stack"
PROVIDER = "pulumi:providers:kubernetes"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CRON_JOB = "kubernetes:batch/v1:CronJob"
SERVICE = "kubernetes:core/v1:Service"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"

GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "privileged": False,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...


def workload(role: str, **overrides: Any) -> dict[str, Any]:
    """One workload's spec: image, digest and a ServiceAccount a WorkloadIdentity created."""
    spec: dict[str, Any] = {
        "image_repository": f"{REGISTRY}/{role}",
        "image_digest": DIGESTS[role],
        "identity": {"service_account_name": ACCOUNTS[role]},
    }
    if role == "serving":
        spec["api_keys_secret_name"] = API_KEYS_SECRET
    return {**spec, **overrides}


def program(
    *names: str,
    training: Mapping[str, Any] | None = None,
    serving: Mapping[str, Any] | None = None,
    monitoring: Mapping[str, Any] | None = None,
    **overrides: Any,
) -> Callable[[], None]:
    """A program body: an explicit Kubernetes provider, and one MlWorkloads per name."""

    def body() -> None:
        provider = k8s.Provider("p", kubeconfig="{}")
        for name in names or (NAME,):
            args = cast(
                MlWorkloadsArgs,
                {
                    "namespace": NAMESPACE,
                    "mlflow_tracking_uri": TRACKING_URI,
                    "model_name": MODEL,
                    "training": workload("training", **(training or {})),
                    "serving": workload("serving", **(serving or {})),
                    "monitoring": workload("monitoring", **(monitoring or {})),
                    **overrides,
                },
            )
            MlWorkloads(name, args, opts=pulumi.ResourceOptions(providers=[provider]))

    return body


@pytest.fixture
def workloads(pulumi_run: Recorder) -> Recorder:
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


def pod_spec(resource: RecordedResource) -> dict[str, Any]:
    """The pod spec of a Deployment or CronJob."""
    spec = resource.inputs["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if resource.type == CRON_JOB else spec["template"]
    return cast(dict[str, Any], template["spec"])


def pod_labels(resource: RecordedResource) -> dict[str, str]:
    spec = resource.inputs["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if resource.type == CRON_JOB else spec["template"]
    return cast(dict[str, str], template["metadata"]["labels"])


def container(resource: RecordedResource) -> dict[str, Any]:
    containers = pod_spec(resource)["containers"]
    assert len(containers) == 1
    return cast(dict[str, Any], containers[0])


def env_of(resource: RecordedResource) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(resource)["env"]}


def assert_matches_golden(name: str, document: Any) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert document == json.loads(path.read_text())


# Pure helpers, no mocks.


def test_gpu_toleration_is_built_from_the_contracts_taint() -> None:
    assert gpu_toleration() == {"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}


def test_resources_requests_equal_limits() -> None:
    assert resources("4", "16Gi", 2) == {
        "requests": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "2"},
        "limits": {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "2"},
    }
    assert resources("1", "2Gi", 0) == {
        "requests": {"cpu": "1", "memory": "2Gi"},
        "limits": {"cpu": "1", "memory": "2Gi"},
    }


# What the component registers.


def test_children_are_parented_named_and_on_the_explicit_provider(workloads: Recorder) -> None:
    children = workloads.children_of(component(workloads))

    assert sorted((r.type, r.name) for r in children) == sorted(
        [
            (DEPLOYMENT, f"{NAME}-serving"),
            (CRON_JOB, f"{NAME}-monitoring"),
            (CRON_JOB, f"{NAME}-training"),
            (HPA, f"{NAME}-serving-hpa"),
            (SERVICE, f"{NAME}-serving-service"),
            (NETWORK_POLICY, f"{NAME}-default-deny"),
            (NETWORK_POLICY, f"{NAME}-serving-ingress"),
            (PDB, f"{NAME}-serving-pdb"),
        ]
    )
    assert all(r.provider is not None and r.provider.endswith("::p") for r in children)
    assert all(r.inputs["metadata"]["namespace"] == NAMESPACE for r in children)
    assert all(r.inputs["metadata"]["name"] == r.name for r in children)


def test_every_container_runs_restricted(workloads: Recorder) -> None:
    pods = [*workloads.of_type(CRON_JOB), workloads.one(DEPLOYMENT)]

    for resource in pods:
        spec = pod_spec(resource)
        assert spec["securityContext"] == RESTRICTED_POD, resource.name
        assert spec["automountServiceAccountToken"] is False, resource.name
        assert spec["enableServiceLinks"] is False, resource.name
        assert "initContainers" not in spec
        for each in spec["containers"]:
            assert each["securityContext"] == RESTRICTED_CONTAINER, resource.name
            assert {"name": "tmp", "mountPath": "/tmp"} in each["volumeMounts"]  # noqa: S108
        tmp = next(v for v in spec["volumes"] if v["name"] == "tmp")
        assert set(tmp) == {"name", "emptyDir"}


def test_images_are_pinned_by_digest(workloads: Recorder) -> None:
    images = {
        workloads.named(f"{NAME}-{role}").name: container(workloads.named(f"{NAME}-{role}"))["image"]
        for role in DIGESTS
    }

    assert images == {f"{NAME}-{role}": f"{REGISTRY}/{role}@{DIGESTS[role]}" for role in DIGESTS}
    for role in DIGESTS:
        assert container(workloads.named(f"{NAME}-{role}"))["imagePullPolicy"] == "IfNotPresent"


def test_each_workload_runs_as_its_own_service_account(workloads: Recorder) -> None:
    for role, account in ACCOUNTS.items():
        assert pod_spec(workloads.named(f"{NAME}-{role}"))["serviceAccountName"] == account
    assert workloads.of_type(SERVICE_ACCOUNT) == []


def test_service_accounts_created_here_carry_the_annotations_given(pulumi_run: Recorder) -> None:
    role_arn = "arn:aws:iam::123456789012:role/trainer"
    pulumi_run.run(
        program(
            training={
                "identity": {
                    "service_account_name": "trainer",
                    "create_service_account": True,
                    "service_account_annotations": {"eks.amazonaws.com/role-arn": role_arn},
                }
            },
            serving={
                "identity": {
                    "service_account_name": "server",
                    "create_service_account": True,
                    "service_account_annotations": {"azure.workload.identity/client-id": "0000-client"},
                    "pod_labels": {"azure.workload.identity/use": "true"},
                }
            },
        )
    )
    accounts = {r.name: r for r in pulumi_run.of_type(SERVICE_ACCOUNT)}

    assert sorted(accounts) == [f"{NAME}-serving-sa", f"{NAME}-training-sa"]
    trainer = accounts[f"{NAME}-training-sa"]
    assert trainer.parent == component(pulumi_run).urn
    assert trainer.inputs["metadata"]["name"] == "trainer"
    assert trainer.inputs["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role_arn}
    assert trainer.inputs["automountServiceAccountToken"] is False
    assert accounts[f"{NAME}-serving-sa"].inputs["metadata"]["annotations"] == {
        "azure.workload.identity/client-id": "0000-client"
    }
    serving = pulumi_run.named(f"{NAME}-serving")
    assert pod_spec(serving)["serviceAccountName"] == "server"
    assert pod_labels(serving)["azure.workload.identity/use"] == "true"
    assert "azure.workload.identity/use" not in pod_labels(pulumi_run.named(f"{NAME}-training"))
    # The selector stays the workload's own: identity labels never decide which pods a Service picks.
    assert "azure.workload.identity/use" not in serving.inputs["spec"]["selector"]["matchLabels"]


def test_training_cron_job(workloads: Recorder) -> None:
    cron = workloads.named(f"{NAME}-training")
    spec = cron.inputs["spec"]
    job = spec["jobTemplate"]["spec"]
    pod = pod_spec(cron)
    main = container(cron)

    assert {key: spec[key] for key in ("schedule", "timeZone", "concurrencyPolicy", "suspend")} == {
        "schedule": "0 2 * * *",
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "suspend": False,
    }
    assert {
        key: job[key] for key in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished")
    } == {
        "backoffLimit": 1,
        "activeDeadlineSeconds": 14400,
        "ttlSecondsAfterFinished": 86400,
    }
    assert pod["restartPolicy"] == "Never"
    assert pod["tolerations"] == [GPU_TOLERATION]
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": ACCELERATOR_LABEL, "operator": "Exists"}]}]
    }
    assert main["resources"]["requests"] == main["resources"]["limits"]
    assert main["resources"]["limits"] == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert main["command"] == ["python", "-m", "training"]
    assert "args" not in main
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}} in pod["volumes"]


def test_training_settings(pulumi_run: Recorder) -> None:
    spot = {
        "key": "kubernetes.azure.com/scalesetpriority",
        "operator": "Equal",
        "value": "spot",
        "effect": "NoSchedule",
    }
    pulumi_run.run(
        program(
            training={
                "schedule": "30 1 * * 0",
                "suspend": True,
                "gpu_count": 4,
                "accelerator": "nvidia-h100",
                "cpu_request": "16",
                "memory_request": "128Gi",
                "backoff_limit": 0,
                "active_deadline_seconds": 3600,
                "ttl_seconds_after_finished": 600,
                "tolerations": [spot],
                "args": ["--epochs", "3"],
            }
        )
    )
    cron = pulumi_run.named(f"{NAME}-training")
    job = cron.inputs["spec"]["jobTemplate"]["spec"]
    pod = pod_spec(cron)

    assert (cron.inputs["spec"]["schedule"], cron.inputs["spec"]["suspend"]) == ("30 1 * * 0", True)
    assert (job["backoffLimit"], job["activeDeadlineSeconds"], job["ttlSecondsAfterFinished"]) == (
        0,
        3600,
        600,
    )
    assert pod["tolerations"] == [GPU_TOLERATION, spot]
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": ACCELERATOR_LABEL, "operator": "In", "values": ["nvidia-h100"]}]}
        ]
    }
    assert container(cron)["resources"] == {
        "requests": {"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": "4"},
        "limits": {"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": "4"},
    }
    assert container(cron)["args"] == ["--epochs", "3"]


def test_training_without_gpus_stays_off_gpu_nodes(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(training={"gpu_count": 0}))
    cron = pulumi_run.named(f"{NAME}-training")
    pod = pod_spec(cron)

    assert "tolerations" not in pod and "affinity" not in pod
    assert "nvidia.com/gpu" not in container(cron)["resources"]["limits"]
    assert [v["name"] for v in pod["volumes"]] == ["tmp"]


def test_monitoring_cron_job(workloads: Recorder) -> None:
    cron = workloads.named(f"{NAME}-monitoring")
    spec = cron.inputs["spec"]
    job = spec["jobTemplate"]["spec"]
    pod = pod_spec(cron)

    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("0 * * * *", "Forbid")
    assert (job["backoffLimit"], job["activeDeadlineSeconds"], job["ttlSecondsAfterFinished"]) == (
        1,
        1800,
        86400,
    )
    assert container(cron)["command"] == ["python", "-m", "monitoring"]
    assert container(cron)["args"] == ["--once"]
    assert container(cron)["resources"] == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    assert "tolerations" not in pod and "affinity" not in pod


def test_environment(workloads: Recorder) -> None:
    common = {
        "MLFLOW_TRACKING_URI": TRACKING_URI,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "HOME": "/tmp",  # noqa: S108
    }

    assert env_of(workloads.named(f"{NAME}-training")) == {
        **common,
        "TRAINING_MODEL_NAME": MODEL,
        "TRAINING_QUARANTINE_DIR": "/tmp/mlops-hub/quarantine",  # noqa: S108
    }
    assert env_of(workloads.named(f"{NAME}-monitoring")) == {
        **common,
        "MONITORING_MODEL_NAME": MODEL,
        "MONITORING_CAPTURE_DIR": "/tmp/mlops-hub/capture",  # noqa: S108
        "MONITORING_STATE_PATH": "/tmp/mlops-hub/monitoring/state.json",  # noqa: S108
    }
    assert env_of(workloads.named(f"{NAME}-serving")) == {
        **common,
        "SERVING_MODEL_NAME": MODEL,
        "SERVING_HOST": "0.0.0.0",  # noqa: S104
        "SERVING_PORT": "8080",
        "SERVING_API_KEYS_FILE": "/var/run/secrets/mlops-hub/api-keys/api-keys",
        "SERVING_CAPTURE_DIR": "/tmp/mlops-hub/capture",  # noqa: S108
    }


def test_without_a_capture_claim_the_preview_warns(pulumi_run: Recorder) -> None:
    warned = [d for d in pulumi_run.run(program()).diagnostics if "capture_claim_name" in d.message]
    claimed = pulumi_run.run(program(capture_claim_name="ml-capture")).diagnostics

    assert [(d.severity, d.message.split(":")[0]) for d in warned] == [("warning", f"MlWorkloads {NAME}")]
    assert not any("capture_claim_name" in d.message for d in claimed)


def test_capture_claim_is_shared_by_serving_monitoring_and_training(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(capture_claim_name="ml-capture"))
    serving, monitoring = pulumi_run.named(f"{NAME}-serving"), pulumi_run.named(f"{NAME}-monitoring")
    volume = {"name": "data", "persistentVolumeClaim": {"claimName": "ml-capture"}}

    assert volume in pod_spec(serving)["volumes"] and volume in pod_spec(monitoring)["volumes"]
    assert {"name": "data", "mountPath": "/var/lib/mlops-hub/capture", "subPath": "capture"} in container(
        serving
    )["volumeMounts"]
    assert {"name": "data", "mountPath": "/var/lib/mlops-hub"} in container(monitoring)["volumeMounts"]
    assert env_of(serving)["SERVING_CAPTURE_DIR"] == "/var/lib/mlops-hub/capture"
    assert env_of(monitoring)["MONITORING_CAPTURE_DIR"] == "/var/lib/mlops-hub/capture"
    assert env_of(monitoring)["MONITORING_STATE_PATH"] == "/var/lib/mlops-hub/monitoring/state.json"
    training = pulumi_run.named(f"{NAME}-training")
    assert volume in pod_spec(training)["volumes"]
    assert {
        "name": "data",
        "mountPath": "/var/lib/mlops-hub/training",
        "subPath": "training",
        "readOnly": True,
    } in container(training)["volumeMounts"]


def test_without_a_capture_claim_training_mounts_no_data(workloads: Recorder) -> None:
    assert "data" not in [v["name"] for v in pod_spec(workloads.named(f"{NAME}-training"))["volumes"]]


def test_extra_environment_cannot_turn_telemetry_back_on(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(training={"env": {"DO_NOT_TRACK": "false", "DATA_URI": "s3://data/train"}}))
    env = env_of(pulumi_run.named(f"{NAME}-training"))

    assert env["DO_NOT_TRACK"] == "true"
    assert env["DATA_URI"] == "s3://data/train"


def test_serving_api_keys_come_from_the_secret_as_a_file(workloads: Recorder) -> None:
    serving = workloads.named(f"{NAME}-serving")
    pod = pod_spec(serving)

    assert {
        "name": "api-keys",
        "secret": {
            "secretName": API_KEYS_SECRET,
            "items": [{"key": "api-keys", "path": "api-keys"}],
            "defaultMode": 0o440,
        },
    } in pod["volumes"]
    assert {
        "name": "api-keys",
        "mountPath": "/var/run/secrets/mlops-hub/api-keys",
        "readOnly": True,
    } in container(serving)["volumeMounts"]
    assert not any("valueFrom" in item for item in container(serving)["env"])


def test_serving_probes_port_and_scrape_annotations(workloads: Recorder) -> None:
    serving = workloads.named(f"{NAME}-serving")
    main = container(serving)

    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["startupProbe"]["failureThreshold"] * main["startupProbe"]["periodSeconds"] == 300
    assert serving.inputs["spec"]["template"]["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
    }
    assert "command" not in main and "args" not in main
    assert "replicas" not in serving.inputs["spec"]


def test_serving_deployment_spec_matches_golden(workloads: Recorder) -> None:
    assert_matches_golden("serving_deployment_spec", workloads.named(f"{NAME}-serving").inputs["spec"])


def test_serving_spreads_over_zones(workloads: Recorder) -> None:
    constraints = pod_spec(workloads.named(f"{NAME}-serving"))["topologySpreadConstraints"]
    selector = {"app.kubernetes.io/name": "serving", "app.kubernetes.io/instance": NAME}

    assert [c["topologyKey"] for c in constraints] == [
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    ]
    assert all(c["labelSelector"] == {"matchLabels": selector} for c in constraints)
    assert all(c["maxSkew"] == 1 and c["whenUnsatisfiable"] == "ScheduleAnyway" for c in constraints)


def test_serving_service_pdb_and_hpa(workloads: Recorder) -> None:
    selector = {"app.kubernetes.io/name": "serving", "app.kubernetes.io/instance": NAME}

    assert workloads.one(SERVICE).inputs["spec"] == {
        "type": "ClusterIP",
        "selector": selector,
        "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}],
    }
    assert workloads.one(PDB).inputs["spec"] == {
        "selector": {"matchLabels": selector},
        "maxUnavailable": 1,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
    assert workloads.one(HPA).inputs["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{NAME}-serving"},
        "minReplicas": 2,
        "maxReplicas": 6,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
            }
        ],
    }


def test_single_replica_serving_can_still_be_drained(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(serving={"min_replicas": 1, "max_replicas": 1, "target_cpu_utilization": 50}))

    assert pulumi_run.one(PDB).inputs["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in pulumi_run.one(PDB).inputs["spec"]
    hpa = pulumi_run.one(HPA).inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 1)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 50


def test_serving_on_gpus(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(serving={"gpu_count": 1, "accelerator": "nvidia-l4"}))
    serving = pulumi_run.named(f"{NAME}-serving")

    assert pod_spec(serving)["tolerations"] == [GPU_TOLERATION]
    assert container(serving)["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert container(serving)["resources"]["requests"] == container(serving)["resources"]["limits"]


def test_network_policies(workloads: Recorder) -> None:
    policies = {r.name: r.inputs["spec"] for r in workloads.of_type(NETWORK_POLICY)}

    assert policies[f"{NAME}-default-deny"] == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": NAME}},
        "policyTypes": ["Ingress"],
    }
    assert policies[f"{NAME}-serving-ingress"] == {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/name": "serving", "app.kubernetes.io/instance": NAME}
        },
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080, "protocol": "TCP"}]}],
    }
    for role in DIGESTS:
        assert pod_labels(workloads.named(f"{NAME}-{role}"))["app.kubernetes.io/instance"] == NAME


def test_retrain_on_drift_grants_monitoring_only_what_it_needs(pulumi_run: Recorder) -> None:
    pulumi_run.run(program(monitoring={"retrain_on_drift": True}))
    role = pulumi_run.one(ROLE)
    binding = pulumi_run.one(ROLE_BINDING)
    monitoring = pulumi_run.named(f"{NAME}-monitoring")

    assert role.name == f"{NAME}-retrain" and binding.name == f"{NAME}-retrain-binding"
    assert role.inputs["rules"] == [
        {
            "apiGroups": ["batch"],
            "resources": ["cronjobs"],
            "resourceNames": [f"{NAME}-training"],
            "verbs": ["get"],
        },
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
        {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
    ]
    assert binding.inputs["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": f"{NAME}-retrain",
    }
    assert binding.inputs["subjects"] == [
        {"kind": "ServiceAccount", "name": "monitor", "namespace": NAMESPACE}
    ]
    assert pod_spec(monitoring)["automountServiceAccountToken"] is True
    assert pod_spec(pulumi_run.named(f"{NAME}-training"))["automountServiceAccountToken"] is False
    assert pod_spec(pulumi_run.named(f"{NAME}-serving"))["automountServiceAccountToken"] is False
    assert env_of(monitoring)["MONITORING_RETRAIN_CRONJOB"] == f"{NAMESPACE}/{NAME}-training"


def test_outputs(workloads: Recorder) -> None:
    assert component(workloads).outputs == {
        "namespace": NAMESPACE,
        "serving_service_name": f"{NAME}-serving-service",
        "serving_url": f"http://{NAME}-serving-service.{NAMESPACE}.svc.cluster.local:8080",
        "training_cron_job_name": f"{NAME}-training",
        "monitoring_cron_job_name": f"{NAME}-monitoring",
    }


def test_two_instances_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(program("a", "b"))
    urns = [r.urn for r in pulumi_run.resources]
    names = sorted(r.inputs["metadata"]["name"] for r in pulumi_run.of_type(CRON_JOB))

    assert len(urns) == len(set(urns))
    assert names == ["a-monitoring", "a-training", "b-monitoring", "b-training"]


BAD_ARGS = [
    pytest.param(
        {"training": {"image_digest": "latest"}}, "training.image_digest 'latest'", id="training-digest"
    ),
    pytest.param(
        {"serving": {"image_digest": "sha256:" + "A" * 64}},
        "serving.image_digest 'sha256:AAAA",
        id="serving-digest",
    ),
    pytest.param(
        {"monitoring": {"image_digest": "sha256:abc"}},
        "monitoring.image_digest 'sha256:abc'",
        id="monitoring-digest",
    ),
    pytest.param(
        {"serving": {"min_replicas": 4, "max_replicas": 2}}, "serving.max_replicas 2", id="min-over-max"
    ),
    pytest.param({"serving": {"min_replicas": 0}}, "serving.min_replicas 0", id="min-replicas"),
    pytest.param({"training": {"gpu_count": -1}}, "training.gpu_count -1", id="gpu-count"),
    pytest.param({"serving": {"gpu_count": 9}}, "serving.gpu_count 9", id="serving-gpu-count"),
    pytest.param(
        {"serving": {"target_cpu_utilization": 0}}, "serving.target_cpu_utilization 0", id="cpu-target"
    ),
    pytest.param({"training": {"schedule": "daily"}}, "training.schedule 'daily'", id="schedule"),
    pytest.param({"monitoring": {"cpu_request": "lots"}}, "monitoring.cpu_request 'lots'", id="cpu"),
    pytest.param({"training": {"memory_request": "16 GB"}}, "training.memory_request '16 GB'", id="memory"),
    pytest.param(
        {"training": {"command": "python -m training"}}, "training.command 'python -m training'", id="command"
    ),
    pytest.param(
        {"training": {"active_deadline_seconds": 0}}, "training.active_deadline_seconds 0", id="deadline"
    ),
    pytest.param({"training": {"env": {"1BAD": "x"}}}, "training.env name '1BAD'", id="env-name"),
    pytest.param(
        {"monitoring": {"identity": {"service_account_name": "trainer"}}},
        "service accounts ['trainer', 'server', 'trainer'] are shared",
        id="shared-account",
    ),
    pytest.param(
        {
            "training": {
                "identity": {"service_account_name": "trainer", "service_account_annotations": {"a": "b"}}
            }
        },
        "training.identity.service_account_annotations",
        id="annotations-without-create",
    ),
    pytest.param(
        {"serving": {"identity": {"service_account_name": "Server_1"}}},
        "serving.identity.service_account_name 'Server_1'",
        id="account-name",
    ),
]


@pytest.mark.usefixtures("collect_failed_runs")
@pytest.mark.parametrize(("overrides", "bad_value"), BAD_ARGS)
def test_bad_args_fail_the_run_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], bad_value: str
) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(program(**overrides))

    message = str(failure.value.cause)
    assert isinstance(failure.value.cause, ValueError)
    assert message.startswith(f"MlWorkloads {NAME}: ")
    assert bad_value in message
    assert "\n" not in message
    assert [(r.type, r.name) for r in failure.value.resources if r.type not in {STACK, PROVIDER}] == [
        (TYPE_TOKEN, NAME)
    ]


@pytest.mark.usefixtures("collect_failed_runs")
def test_a_name_too_long_for_cron_job_names_is_rejected(pulumi_run: Recorder) -> None:
    with pytest.raises(ProgramError) as failure:
        pulumi_run.run(program("x" * 41))

    assert isinstance(failure.value.cause, ValueError)
    assert f"name {'x' * 41!r}" in str(failure.value.cause)
