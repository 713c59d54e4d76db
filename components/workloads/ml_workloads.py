"""MlWorkloads: the model lifecycle on a GPU cluster: training and monitoring CronJobs, a serving Deployment.

Training runs as a CronJob on the GPU pool (it tolerates the pools' `GPU_TAINT`, is pinned to nodes carrying
`ACCELERATOR_LABEL` and asks for whole GPUs, requests equal to limits), and can be started on demand with
`kubectl create job --from=cronjob/<training_cron_job_name> <job>`. Serving is a Deployment with startup,
liveness and readiness probes, a ClusterIP Service, a HorizontalPodAutoscaler on CPU, a
PodDisruptionBudget and zone spreading. Monitoring is a CronJob. Every image is pulled by digest.

Each workload runs as its own ServiceAccount. The repo's WorkloadIdentity components (AwsWorkloadIdentity,
GcpWorkloadIdentity, AzureWorkloadIdentity) create and annotate those accounts, so by default this component
only references them by name; it creates an account itself, with the annotations given, only when asked.
Pods run under the restricted Pod Security profile: non-root, read-only root filesystem with an emptyDir for
/tmp, no capabilities, no privilege escalation, RuntimeDefault seccomp, and no Kubernetes API token (see
`automount_service_account_token` below).

The namespace is not created here: like MlflowTrackingServer, this component runs in an existing namespace,
because the WorkloadIdentity ServiceAccounts must be created in it first. Create it with
`POD_SECURITY_LABELS` so the API server enforces the restricted profile too.

Settings reach the workloads as the environment variables their settings classes read: `MLFLOW_TRACKING_URI`,
`<WORKLOAD>_MODEL_NAME`, `TRAINING_QUARANTINE_DIR`, serving's `SERVING_HOST`/`SERVING_PORT`/`SERVING_API_KEYS_FILE`/`SERVING_CAPTURE_DIR`,
monitoring's `MONITORING_CAPTURE_DIR`/`MONITORING_STATE_PATH`/`MONITORING_RETRAIN_CRONJOB`, and
`MLFLOW_DISABLE_TELEMETRY`/`DO_NOT_TRACK` everywhere. Secrets never do: the API keys are a mounted file.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.compute.contract import ACCELERATOR_LABEL, GPU_TAINT

TYPE_TOKEN = "mlopshub:index:MlWorkloads"

SERVING_PORT = 8080
"""Port the serving container listens on (`/predict`, `/healthz`, `/readyz`, `/metrics`); also the Service's."""
RUN_AS_USER = 10001
"""UID and GID every container runs as (above 10000, so it never maps to a host system account)."""
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}
"""Labels for the namespace these workloads run in: the API server then rejects any pod that is not restricted."""
GPU_RESOURCE = "nvidia.com/gpu"
"""The extended resource NVIDIA's device plugin advertises."""
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
API_KEYS_DIR = "/var/run/secrets/mlops-hub/api-keys"
"""Where the serving API keys Secret is mounted (read-only)."""
TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
"""Environment that turns vendor usage telemetry off in every container."""
TRAINING_COMMAND = ("python", "-m", "training")
MONITORING_COMMAND = ("python", "-m", "monitoring")
MONITORING_ARGS = ("--once",)
"""One monitoring cycle per run, as a CronJob wants (the workload's `--once` mode)."""
DATA_DIR = "/var/lib/mlops-hub"
"""Where `capture_claim_name` is mounted: serving writes `capture/`, monitoring reads it and keeps `monitoring/`."""
SCRATCH_DATA_DIR = "/tmp/mlops-hub"  # noqa: S108 - a per-pod emptyDir
"""The same layout on each pod's own /tmp emptyDir when no claim is given (nothing outlives the pod)."""
TRAINING_DATA_DIR = f"{DATA_DIR}/training"
"""Where training sees the claim's `training/` directory, read-only: put the training table there and point
`TRAINING_DATA` (training's `env`) at it. Nothing is mounted there without `capture_claim_name`."""

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
_CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_MAX_NAME = 40
"""Longest component name: CronJob names may have 52 characters and `-monitoring` takes 11."""
_MAX_GPUS = 8


class WorkloadIdentitySpec(TypedDict):
    """The ServiceAccount a workload runs as, and the pod labels its cloud identity needs."""

    service_account_name: pulumi.Input[str]
    """The workload's own ServiceAccount: a WorkloadIdentity's `service_account_name` output (it created
    and annotated the account), or the name of one to create here with `create_service_account`."""
    create_service_account: NotRequired[bool]
    """Create the ServiceAccount in this component (default False: a WorkloadIdentity component owns it)."""
    service_account_annotations: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Annotations of an account created here, e.g. `eks.amazonaws.com/role-arn`,
    `iam.gke.io/gcp-service-account`, `azure.workload.identity/client-id`. Only with create_service_account."""
    pod_labels: NotRequired[Mapping[str, str]]
    """Extra labels on the workload's pods, e.g. `azure.workload.identity/use: "true"` (AKS's webhook
    injects the federated token only into pods carrying it)."""


class TrainingSpec(TypedDict):
    """The training CronJob."""

    image_repository: pulumi.Input[str]
    """Image repository without tag or digest, e.g. `<ModelRegistry.image_registry>/training`."""
    image_digest: str
    """`sha256:<64 hex>`: the image is always pulled by digest."""
    identity: WorkloadIdentitySpec
    """Its ServiceAccount and pod labels."""
    schedule: NotRequired[str]
    """Cron schedule in UTC (default `0 2 * * *`, daily at 02:00)."""
    suspend: NotRequired[bool]
    """Never run on the schedule, only on demand or when monitoring detects drift (default False)."""
    command: NotRequired[Sequence[str]]
    """Exec-form command (default `python -m training`)."""
    args: NotRequired[Sequence[str]]
    """Arguments after the command (default none)."""
    gpu_count: NotRequired[int]
    """`nvidia.com/gpu` requested, also the limit (default 1, 0 to 8); 0 runs on CPU nodes."""
    accelerator: NotRequired[str]
    """Only nodes with this accelerator (`ACCELERATOR_LABEL`, e.g. `nvidia-a10g`); default any GPU node."""
    cpu_request: NotRequired[str]
    """CPU request, also the limit (default `4`)."""
    memory_request: NotRequired[str]
    """Memory request, also the limit (default `16Gi`)."""
    backoff_limit: NotRequired[int]
    """Retries of a failed run before the Job fails (default 1)."""
    active_deadline_seconds: NotRequired[int]
    """A run is stopped after this long (default 14400, 4 hours), so a hung run cannot hold a GPU."""
    ttl_seconds_after_finished: NotRequired[int]
    """Finished Jobs and their pods (and logs) are deleted after this long (default 86400, one day)."""
    tolerations: NotRequired[Sequence[k8s.core.v1.TolerationArgsDict]]
    """Extra tolerations, e.g. AKS's Spot taint (`components.compute.cluster_addons.gpu_tolerations`)."""
    env: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Extra non-secret environment (data locations, thresholds)."""


class ServingSpec(TypedDict):
    """The serving Deployment, its Service, autoscaler and disruption budget."""

    image_repository: pulumi.Input[str]
    """Image repository without tag or digest, e.g. `<ModelRegistry.image_registry>/serving`."""
    image_digest: str
    """`sha256:<64 hex>`: the image is always pulled by digest."""
    identity: WorkloadIdentitySpec
    """Its ServiceAccount and pod labels."""
    api_keys_secret_name: pulumi.Input[str]
    """Name of an existing Secret (in the namespace) holding the API keys callers must present. Its key
    `api_keys_secret_key` is mounted read-only as a file; the keys never appear in the pod spec."""
    api_keys_secret_key: NotRequired[str]
    """Key of that Secret holding the API keys (default `api-keys`)."""
    command: NotRequired[Sequence[str]]
    """Exec-form command (default the image's own entrypoint)."""
    args: NotRequired[Sequence[str]]
    """Arguments (default the image's own)."""
    min_replicas: NotRequired[int]
    """Fewest replicas the autoscaler keeps (default 2, at least 1)."""
    max_replicas: NotRequired[int]
    """Most replicas the autoscaler adds (default 6, at least min_replicas, at most 100)."""
    target_cpu_utilization: NotRequired[int]
    """Average CPU use, in percent of the request, the autoscaler aims at (default 70, 1 to 100)."""
    gpu_count: NotRequired[int]
    """`nvidia.com/gpu` per replica, also the limit (default 0: CPU nodes; 0 to 8)."""
    accelerator: NotRequired[str]
    """With GPUs, only nodes with this accelerator (`ACCELERATOR_LABEL`); default any GPU node."""
    cpu_request: NotRequired[str]
    """CPU request, also the limit (default `1`)."""
    memory_request: NotRequired[str]
    """Memory request, also the limit (default `2Gi`)."""
    tolerations: NotRequired[Sequence[k8s.core.v1.TolerationArgsDict]]
    """Extra tolerations."""
    env: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Extra non-secret environment."""


class MonitoringSpec(TypedDict):
    """The monitoring CronJob (drift and quality checks)."""

    image_repository: pulumi.Input[str]
    """Image repository without tag or digest, e.g. `<ModelRegistry.image_registry>/monitoring`."""
    image_digest: str
    """`sha256:<64 hex>`: the image is always pulled by digest."""
    identity: WorkloadIdentitySpec
    """Its ServiceAccount and pod labels."""
    schedule: NotRequired[str]
    """Cron schedule in UTC (default `0 * * * *`, hourly)."""
    command: NotRequired[Sequence[str]]
    """Exec-form command (default `python -m monitoring`)."""
    args: NotRequired[Sequence[str]]
    """Arguments after the command (default `--once`)."""
    cpu_request: NotRequired[str]
    """CPU request, also the limit (default `500m`)."""
    memory_request: NotRequired[str]
    """Memory request, also the limit (default `1Gi`)."""
    backoff_limit: NotRequired[int]
    """Retries of a failed run (default 1)."""
    active_deadline_seconds: NotRequired[int]
    """A run is stopped after this long (default 1800)."""
    ttl_seconds_after_finished: NotRequired[int]
    """Finished Jobs are deleted after this long (default 86400)."""
    retrain_on_drift: NotRequired[bool]
    """Let monitoring start a training run when it detects drift (default False). True grants its
    ServiceAccount `get` on the training CronJob, `create` on Jobs and `get` on Jobs' status in the namespace, mounts
    its Kubernetes API token, and sets MONITORING_RETRAIN_CRONJOB to `<namespace>/<training CronJob>`."""
    env: NotRequired[Mapping[str, pulumi.Input[str]]]
    """Extra non-secret environment."""


class MlWorkloadsArgs(TypedDict):
    """Arguments of MlWorkloads."""

    namespace: pulumi.Input[str]
    """Existing namespace to run in (label it with `POD_SECURITY_LABELS`); the ServiceAccounts live there."""
    mlflow_tracking_uri: pulumi.Input[str]
    """MLFLOW_TRACKING_URI of every workload: MlflowTrackingServer's `tracking_uri`."""
    model_name: pulumi.Input[str]
    """Registered model trained, served and monitored, e.g. `fraud-detector` (TRAINING_MODEL_NAME,
    SERVING_MODEL_NAME, MONITORING_MODEL_NAME)."""
    training: TrainingSpec
    """The training CronJob."""
    serving: ServingSpec
    """The serving Deployment."""
    monitoring: MonitoringSpec
    """The monitoring CronJob."""
    capture_claim_name: NotRequired[pulumi.Input[str]]
    """An existing ReadWriteMany PersistentVolumeClaim (EFS, Filestore, Azure Files) in the namespace, mounted
    at `DATA_DIR`: serving writes prediction capture to `capture/`, monitoring reads it and keeps its state in
    `monitoring/`; training reads its `training/` directory, read-only, at `TRAINING_DATA_DIR`. Without it
    serving and monitoring use their pod's /tmp, so captures and monitor state die with the pod (enough for a
    smoke test, not for drift detection), and training has no data unless its image carries some."""
    labels: NotRequired[Mapping[str, str]]
    """Extra labels on every object and pod."""


# Pure helpers: what the pods look like, testable without mocks.


def container_security_context() -> k8s.core.v1.SecurityContextArgsDict:
    """The restricted profile for one container."""
    return {
        "run_as_non_root": True,
        "run_as_user": RUN_AS_USER,
        "run_as_group": RUN_AS_USER,
        "privileged": False,
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def pod_security_context() -> k8s.core.v1.PodSecurityContextArgsDict:
    """The restricted profile for a pod; `fs_group` makes mounted Secrets and emptyDirs readable."""
    return {
        "run_as_non_root": True,
        "run_as_user": RUN_AS_USER,
        "run_as_group": RUN_AS_USER,
        "fs_group": RUN_AS_USER,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def gpu_toleration() -> k8s.core.v1.TolerationArgsDict:
    """Tolerates the GPU pools' taint (`GPU_TAINT`), whatever its value."""
    return {"key": GPU_TAINT["key"], "operator": "Exists", "effect": GPU_TAINT["effect"].value}


def gpu_node_affinity(accelerator: str | None) -> k8s.core.v1.AffinityArgsDict:
    """Only nodes of a GPU pool (every pool labels its nodes with `ACCELERATOR_LABEL`), or of one accelerator."""
    expression: k8s.core.v1.NodeSelectorRequirementArgsDict = (
        {"key": ACCELERATOR_LABEL, "operator": "In", "values": [accelerator]}
        if accelerator
        else {"key": ACCELERATOR_LABEL, "operator": "Exists"}
    )
    return {
        "node_affinity": {
            "required_during_scheduling_ignored_during_execution": {
                "node_selector_terms": [{"match_expressions": [expression]}]
            }
        }
    }


def resources(cpu: str, memory: str, gpus: int) -> k8s.core.v1.ResourceRequirementsArgsDict:
    """Requests equal to limits (Guaranteed QoS); GPUs cannot be overcommitted, so theirs must be equal."""
    amounts: dict[str, str] = {"cpu": cpu, "memory": memory}
    if gpus:
        amounts[GPU_RESOURCE] = str(gpus)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def environment(
    common: Mapping[str, pulumi.Input[str]], extra: Mapping[str, pulumi.Input[str]]
) -> list[k8s.core.v1.EnvVarArgsDict]:
    """Env vars, sorted by name; `extra` cannot override the common ones or telemetry switches."""
    merged = {**extra, **common, **TELEMETRY_OFF}
    return [{"name": key, "value": merged[key]} for key in sorted(merged)]


def cron_job_spec(
    schedule: str,
    backoff_limit: int,
    active_deadline_seconds: int,
    ttl_seconds_after_finished: int,
    pod: k8s.core.v1.PodTemplateSpecArgsDict,
    suspend: bool = False,
) -> k8s.batch.v1.CronJobSpecArgsDict:
    """A CronJob that never overlaps itself and cleans up after its runs."""
    return {
        "schedule": schedule,
        "suspend": suspend,
        "time_zone": "Etc/UTC",
        # A run still going (training can take hours) makes the next schedule skip, not pile up on GPUs.
        "concurrency_policy": "Forbid",
        # Past an hour late (controller down, no capacity) a run is skipped rather than started at a bad time.
        "starting_deadline_seconds": 3600,
        "successful_jobs_history_limit": 3,
        "failed_jobs_history_limit": 3,
        "job_template": {
            "spec": {
                "backoff_limit": backoff_limit,
                "active_deadline_seconds": active_deadline_seconds,
                "ttl_seconds_after_finished": ttl_seconds_after_finished,
                "template": pod,
            }
        },
    }


# Validation of plain args: each raises one ValueError line naming the component and the bad value.


def _digest(owner: str, field: str, value: object) -> str:
    if not isinstance(value, str) or not _DIGEST.match(value):
        raise ValueError(f"{owner}: {field} {value!r} must be sha256:<64 lowercase hex digits>")
    return value


def _quantity(owner: str, field: str, value: object) -> str:
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ValueError(f"{owner}: {field} {value!r} is not a Kubernetes quantity such as 500m or 1Gi")
    return value


def _whole(owner: str, field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{owner}: {field} {value!r} must be an integer from {low} to {high}")
    return value


def _schedule(owner: str, field: str, value: object) -> str:
    fields = value.split() if isinstance(value, str) else []
    valid = (len(fields) == 1 and fields[0] in _CRON_MACROS) or (
        len(fields) == 5 and all(_CRON_FIELD.match(f) for f in fields)
    )
    if not valid:
        raise ValueError(
            f"{owner}: {field} {value!r} is not a cron schedule (five fields such as '0 2 * * *', or @daily)"
        )
    return str(value)


def _command(owner: str, field: str, value: Sequence[str] | None, default: Sequence[str]) -> list[str] | None:
    given: object = default if value is None else value
    if (
        isinstance(given, str)
        or not isinstance(given, Sequence)
        or not all(isinstance(part, str) and part for part in given)
    ):
        raise ValueError(f"{owner}: {field} {value!r} must be a list of non-empty strings (exec form)")
    return [str(part) for part in given] or None


def _env_names(owner: str, field: str, env: Mapping[str, pulumi.Input[str]]) -> dict[str, pulumi.Input[str]]:
    for key in env:
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise ValueError(f"{owner}: {field} name {key!r} is not an environment variable name")
    return dict(env)


def _identity(owner: str, role: str, identity: WorkloadIdentitySpec) -> None:
    name = identity["service_account_name"]
    if isinstance(name, str) and not _DNS_LABEL.match(name):
        raise ValueError(f"{owner}: {role}.identity.service_account_name {name!r} is not a Kubernetes name")
    if identity.get("service_account_annotations") and not identity.get("create_service_account", False):
        raise ValueError(
            f"{owner}: {role}.identity.service_account_annotations are only used with create_service_account; "
            "a WorkloadIdentity component annotates the account it creates"
        )


@dataclass(frozen=True, slots=True)
class _PodPlan:
    """A workload's container settings, validated."""

    command: list[str] | None
    args: list[str] | None
    cpu: str
    memory: str
    gpus: int
    accelerator: str | None
    env: Mapping[str, pulumi.Input[str]]


def _data_volume(
    claim_name: pulumi.Input[str] | None, sub_path: str | None, read_only: bool = False
) -> tuple[k8s.core.v1.VolumeMountArgsDict, k8s.core.v1.VolumeArgsDict] | None:
    """The capture claim's mount and volume (none without a claim): the whole of it, or one subdirectory."""
    if claim_name is None:
        return None
    mount: k8s.core.v1.VolumeMountArgsDict = {
        "name": "data",
        "mount_path": f"{DATA_DIR}/{sub_path}" if sub_path else DATA_DIR,
    }
    if sub_path:
        mount["sub_path"] = sub_path
    if read_only:
        mount["read_only"] = True
    return mount, {"name": "data", "persistent_volume_claim": {"claim_name": claim_name}}


@dataclass(frozen=True, slots=True)
class _ServingPod:
    """What only the serving pod has: its API keys Secret and the labels its replicas are spread by."""

    api_keys_secret_name: pulumi.Input[str]
    api_keys_secret_key: str
    selector: Mapping[str, str]


def _serving_probes() -> tuple[
    k8s.core.v1.ProbeArgsDict, k8s.core.v1.ProbeArgsDict, k8s.core.v1.ProbeArgsDict
]:
    """Startup, liveness and readiness probes.

    Startup allows five minutes to load the model; then liveness restarts a hung server and readiness
    takes a replica out of the Service while it cannot answer (model reloading, MLflow unreachable).
    """
    return (
        {
            "http_get": {"path": "/healthz", "port": "http"},
            "period_seconds": 10,
            "timeout_seconds": 5,
            "failure_threshold": 30,
        },
        {
            "http_get": {"path": "/healthz", "port": "http"},
            "period_seconds": 10,
            "timeout_seconds": 5,
            "failure_threshold": 3,
        },
        {
            "http_get": {"path": "/readyz", "port": "http"},
            "period_seconds": 5,
            "timeout_seconds": 3,
            "failure_threshold": 3,
        },
    )


def _spread(match_labels: Mapping[str, str]) -> list[k8s.core.v1.TopologySpreadConstraintArgsDict]:
    """Replicas spread over zones, then nodes. ScheduleAnyway: a cluster with one zone (or a GPU pool in
    one zone) still schedules every replica rather than leaving some Pending. `pod-template-hash` makes a
    rollout spread the new ReplicaSet on its own."""
    return [
        {
            "max_skew": 1,
            "topology_key": key,
            "when_unsatisfiable": "ScheduleAnyway",
            "label_selector": {"match_labels": dict(match_labels)},
            "match_label_keys": ["pod-template-hash"],
        }
        for key in (ZONE_LABEL, HOSTNAME_LABEL)
    ]


def _pod_template(
    *,
    labels: Mapping[str, str],
    service_account_name: pulumi.Input[str],
    image: pulumi.Input[str],
    plan: _PodPlan,
    env: list[k8s.core.v1.EnvVarArgsDict],
    tolerations: Sequence[k8s.core.v1.TolerationArgsDict],
    scratch_size: str = "1Gi",
    automount_token: bool = False,
    serving: _ServingPod | None = None,
    data: tuple[k8s.core.v1.VolumeMountArgsDict, k8s.core.v1.VolumeArgsDict] | None = None,
) -> k8s.core.v1.PodTemplateSpecArgsDict:
    """One workload's pod: restricted, pinned image, GPU placement when it asks for GPUs.

    `serving` makes it the serving pod: a port, probes, scrape
    annotations, zone spreading and the keys mounted read-only. `data` is the capture claim's mount.
    """
    mounts: list[k8s.core.v1.VolumeMountArgsDict] = [{"name": "tmp", "mount_path": "/tmp"}]  # noqa: S108 - a per-pod emptyDir
    volumes: list[k8s.core.v1.VolumeArgsDict] = [{"name": "tmp", "empty_dir": {"size_limit": scratch_size}}]
    container: k8s.core.v1.ContainerArgsDict = {
        "name": "main",
        "image": image,
        # The digest pins the content, so a cached image is the right one; GPU images are large.
        "image_pull_policy": "IfNotPresent",
        "env": env,
        "resources": resources(plan.cpu, plan.memory, plan.gpus),
        "security_context": container_security_context(),
        "volume_mounts": mounts,
    }
    if data is not None:
        mounts.append(data[0])
        volumes.append(data[1])
    if plan.command:
        container["command"] = plan.command
    if plan.args:
        container["args"] = plan.args
    spec: k8s.core.v1.PodSpecArgsDict = {
        "service_account_name": service_account_name,
        # Workload identity needs no Kubernetes API token: EKS's and AKS's webhooks project their own
        # audience-bound token volume, and GKE answers from its metadata server.
        "automount_service_account_token": automount_token,
        "enable_service_links": False,
        "security_context": pod_security_context(),
        "containers": [container],
        "volumes": volumes,
    }
    all_tolerations = list(tolerations)
    if plan.gpus:
        all_tolerations.insert(0, gpu_toleration())
        spec["affinity"] = gpu_node_affinity(plan.accelerator)
        # PyTorch data loaders share tensors through /dev/shm; the runtime's 64 MiB default is too small.
        mounts.append({"name": "dshm", "mount_path": "/dev/shm"})  # noqa: S108 - a memory emptyDir
        volumes.append({"name": "dshm", "empty_dir": {"medium": "Memory", "size_limit": "1Gi"}})
    if all_tolerations:
        spec["tolerations"] = all_tolerations
    annotations: dict[str, str] = {}
    if serving is None:
        spec["restart_policy"] = "Never"
    else:
        container["ports"] = [{"name": "http", "container_port": SERVING_PORT, "protocol": "TCP"}]
        startup, liveness, readiness = _serving_probes()
        container["startup_probe"] = startup
        container["liveness_probe"] = liveness
        container["readiness_probe"] = readiness
        mounts.append({"name": "api-keys", "mount_path": API_KEYS_DIR, "read_only": True})
        volumes.append(
            {
                "name": "api-keys",
                "secret": {
                    "secret_name": serving.api_keys_secret_name,
                    "items": [{"key": serving.api_keys_secret_key, "path": serving.api_keys_secret_key}],
                    "default_mode": 0o440,
                },
            }
        )
        spec["topology_spread_constraints"] = _spread(serving.selector)
        annotations = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(SERVING_PORT),
            "prometheus.io/path": "/metrics",
        }
    metadata: k8s.meta.v1.ObjectMetaArgsDict = {"labels": dict(labels)}
    if annotations:
        metadata["annotations"] = annotations
    return {"metadata": metadata, "spec": spec}


class MlWorkloads(pulumi.ComponentResource):
    """Training and monitoring CronJobs and a serving Deployment, each under its own ServiceAccount."""

    namespace: pulumi.Output[str]
    """The namespace the workloads run in."""
    serving_service_name: pulumi.Output[str]
    """Name of serving's ClusterIP Service."""
    serving_url: pulumi.Output[str]
    """`http://<service>.<namespace>.svc.cluster.local:8080`: serving's in-cluster URL."""
    training_cron_job_name: pulumi.Output[str]
    """Name of the training CronJob (`kubectl create job --from=cronjob/<name> <job>` runs it now)."""
    monitoring_cron_job_name: pulumi.Output[str]
    """Name of the monitoring CronJob."""

    def __init__(self, name: str, args: MlWorkloadsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        owner = f"MlWorkloads {name}"
        if not _DNS_LABEL.match(name) or len(name) > _MAX_NAME:
            raise ValueError(
                f"{owner}: name {name!r} must be a lowercase RFC 1123 label of at most {_MAX_NAME} characters "
                "(it prefixes every object's name)"
            )
        training, serving, monitoring = args["training"], args["serving"], args["monitoring"]
        images = {
            role: _digest(owner, f"{role}.image_digest", spec["image_digest"])
            for role, spec in (("training", training), ("serving", serving), ("monitoring", monitoring))
        }
        for role, spec_identity in (
            ("training", training["identity"]),
            ("serving", serving["identity"]),
            ("monitoring", monitoring["identity"]),
        ):
            _identity(owner, role, spec_identity)
        plain_accounts = [
            spec["identity"]["service_account_name"]
            for spec in (training, serving, monitoring)
            if isinstance(spec["identity"]["service_account_name"], str)
        ]
        if len(plain_accounts) != len(set(plain_accounts)):
            raise ValueError(
                f"{owner}: service accounts {plain_accounts!r} are shared; each workload needs its own "
                "(each holds only its own cloud permissions)"
            )
        training_gpus = _whole(owner, "training.gpu_count", training.get("gpu_count", 1), 0, _MAX_GPUS)
        serving_gpus = _whole(owner, "serving.gpu_count", serving.get("gpu_count", 0), 0, _MAX_GPUS)
        min_replicas = _whole(owner, "serving.min_replicas", serving.get("min_replicas", 2), 1, 100)
        max_replicas = serving.get("max_replicas", 6)
        if (
            isinstance(max_replicas, bool)
            or not isinstance(max_replicas, int)
            or not min_replicas <= max_replicas <= 100
        ):
            raise ValueError(
                f"{owner}: serving.max_replicas {max_replicas!r} must be an integer from min_replicas "
                f"({min_replicas}) to 100"
            )
        target_cpu = _whole(
            owner, "serving.target_cpu_utilization", serving.get("target_cpu_utilization", 70), 1, 100
        )
        training_pod = _PodPlan(
            command=_command(owner, "training.command", training.get("command"), TRAINING_COMMAND),
            args=_command(owner, "training.args", training.get("args"), ()),
            cpu=_quantity(owner, "training.cpu_request", training.get("cpu_request", "4")),
            memory=_quantity(owner, "training.memory_request", training.get("memory_request", "16Gi")),
            gpus=training_gpus,
            accelerator=training.get("accelerator"),
            env=_env_names(owner, "training.env", training.get("env", {})),
        )
        serving_pod = _PodPlan(
            command=_command(owner, "serving.command", serving.get("command"), ()),
            args=_command(owner, "serving.args", serving.get("args"), ()),
            cpu=_quantity(owner, "serving.cpu_request", serving.get("cpu_request", "1")),
            memory=_quantity(owner, "serving.memory_request", serving.get("memory_request", "2Gi")),
            gpus=serving_gpus,
            accelerator=serving.get("accelerator"),
            env=_env_names(owner, "serving.env", serving.get("env", {})),
        )
        monitoring_pod = _PodPlan(
            command=_command(owner, "monitoring.command", monitoring.get("command"), MONITORING_COMMAND),
            args=_command(owner, "monitoring.args", monitoring.get("args"), MONITORING_ARGS),
            cpu=_quantity(owner, "monitoring.cpu_request", monitoring.get("cpu_request", "500m")),
            memory=_quantity(owner, "monitoring.memory_request", monitoring.get("memory_request", "1Gi")),
            gpus=0,
            accelerator=None,
            env=_env_names(owner, "monitoring.env", monitoring.get("env", {})),
        )
        training_schedule = _schedule(owner, "training.schedule", training.get("schedule", "0 2 * * *"))
        monitoring_schedule = _schedule(owner, "monitoring.schedule", monitoring.get("schedule", "0 * * * *"))
        training_job = (
            _whole(owner, "training.backoff_limit", training.get("backoff_limit", 1), 0, 10),
            _whole(
                owner,
                "training.active_deadline_seconds",
                training.get("active_deadline_seconds", 14400),
                60,
                7 * 86400,
            ),
            _whole(
                owner,
                "training.ttl_seconds_after_finished",
                training.get("ttl_seconds_after_finished", 86400),
                0,
                30 * 86400,
            ),
        )
        monitoring_job = (
            _whole(owner, "monitoring.backoff_limit", monitoring.get("backoff_limit", 1), 0, 10),
            _whole(
                owner,
                "monitoring.active_deadline_seconds",
                monitoring.get("active_deadline_seconds", 1800),
                60,
                86400,
            ),
            _whole(
                owner,
                "monitoring.ttl_seconds_after_finished",
                monitoring.get("ttl_seconds_after_finished", 86400),
                0,
                30 * 86400,
            ),
        )
        api_keys_key = serving.get("api_keys_secret_key", "api-keys")
        if not isinstance(api_keys_key, str) or not re.match(r"^[-._a-zA-Z0-9]+$", api_keys_key):
            raise ValueError(f"{owner}: serving.api_keys_secret_key {api_keys_key!r} is not a Secret key")
        retrain_on_drift = bool(monitoring.get("retrain_on_drift", False))

        namespace = args["namespace"]
        common_labels = {**args.get("labels", {}), "app.kubernetes.io/managed-by": "pulumi"}
        model_name = args["model_name"]
        common_env: dict[str, pulumi.Input[str]] = {
            "MLFLOW_TRACKING_URI": args["mlflow_tracking_uri"],
            # Python writes caches under HOME; the root filesystem is read-only, /tmp is an emptyDir.
            "HOME": "/tmp",  # noqa: S108 - a per-pod emptyDir
        }
        child = pulumi.ResourceOptions(parent=self)

        def selector(role: str) -> dict[str, str]:
            return {"app.kubernetes.io/name": role, "app.kubernetes.io/instance": name}

        def metadata(role: str, workload: str | None = None) -> k8s.meta.v1.ObjectMetaArgsDict:
            labels = {
                **common_labels,
                **(selector(workload) if workload else {"app.kubernetes.io/instance": name}),
            }
            return {"name": f"{name}-{role}", "namespace": namespace, "labels": labels}

        def service_account(role: str, identity: WorkloadIdentitySpec) -> pulumi.Input[str]:
            if not identity.get("create_service_account", False):
                return identity["service_account_name"]
            account = k8s.core.v1.ServiceAccount(
                f"{name}-{role}-sa",
                metadata={
                    **metadata(f"{role}-sa", role),
                    "name": identity["service_account_name"],
                    "annotations": dict(identity.get("service_account_annotations", {})),
                },
                automount_service_account_token=False,
                opts=child,
            )
            return account.metadata.name

        training_sa = service_account("training", training["identity"])
        serving_sa = service_account("serving", serving["identity"])
        monitoring_sa = service_account("monitoring", monitoring["identity"])

        def image(role: str, repository: pulumi.Input[str]) -> pulumi.Output[str]:
            return pulumi.Output.concat(repository, "@", images[role])

        capture_claim = args.get("capture_claim_name")
        training_cron = k8s.batch.v1.CronJob(
            f"{name}-training",
            metadata=metadata("training", "training"),
            spec=cron_job_spec(
                training_schedule,
                *training_job,
                pod=_pod_template(
                    labels={
                        **common_labels,
                        **training["identity"].get("pod_labels", {}),
                        **selector("training"),
                    },
                    service_account_name=training_sa,
                    image=image("training", training["image_repository"]),
                    plan=training_pod,
                    env=environment(
                        {
                            **common_env,
                            "TRAINING_MODEL_NAME": model_name,
                            # Its default is relative to the working directory, on the read-only root.
                            "TRAINING_QUARANTINE_DIR": f"{SCRATCH_DATA_DIR}/quarantine",
                        },
                        training_pod.env,
                    ),
                    tolerations=list(training.get("tolerations", [])),
                    scratch_size="8Gi",
                    # Training only reads its data: it sees the claim's `training/` directory, read-only.
                    data=_data_volume(capture_claim, sub_path="training", read_only=True),
                ),
                suspend=bool(training.get("suspend", False)),
            ),
            opts=child,
        )

        data_dir = DATA_DIR if capture_claim is not None else SCRATCH_DATA_DIR
        if capture_claim is None:
            pulumi.log.warn(
                f"{owner}: no capture_claim_name, so serving's prediction capture and the monitor's state stay in "
                "each pod's /tmp: monitoring will find no captures to check for drift, and training mounts no data",
                resource=self,
            )
        monitoring_env: dict[str, pulumi.Input[str]] = {
            **common_env,
            "MONITORING_MODEL_NAME": model_name,
            "MONITORING_CAPTURE_DIR": f"{data_dir}/capture",
            "MONITORING_STATE_PATH": f"{data_dir}/monitoring/state.json",
        }
        if retrain_on_drift:
            monitoring_env["MONITORING_RETRAIN_CRONJOB"] = pulumi.Output.concat(
                training_cron.metadata.namespace, "/", training_cron.metadata.name
            )
        monitoring_cron = k8s.batch.v1.CronJob(
            f"{name}-monitoring",
            metadata=metadata("monitoring", "monitoring"),
            spec=cron_job_spec(
                monitoring_schedule,
                *monitoring_job,
                pod=_pod_template(
                    labels={
                        **common_labels,
                        **monitoring["identity"].get("pod_labels", {}),
                        **selector("monitoring"),
                    },
                    service_account_name=monitoring_sa,
                    image=image("monitoring", monitoring["image_repository"]),
                    plan=monitoring_pod,
                    env=environment(monitoring_env, monitoring_pod.env),
                    tolerations=[],
                    data=_data_volume(capture_claim, sub_path=None),
                    automount_token=retrain_on_drift,
                ),
            ),
            opts=child,
        )
        if retrain_on_drift:
            retrain_role = k8s.rbac.v1.Role(
                f"{name}-retrain",
                metadata=metadata("retrain", "monitoring"),
                rules=[
                    {
                        "api_groups": ["batch"],
                        "resources": ["cronjobs"],
                        "resource_names": [training_cron.metadata.name],
                        "verbs": ["get"],
                    },
                    # `create` cannot be narrowed by name (the Job does not exist yet); the status is how the
                    # monitor follows the run it started.
                    {"api_groups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
                    {"api_groups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
                ],
                opts=child,
            )
            k8s.rbac.v1.RoleBinding(
                f"{name}-retrain-binding",
                metadata=metadata("retrain-binding", "monitoring"),
                role_ref={
                    "api_group": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": retrain_role.metadata.name,
                },
                subjects=[{"kind": "ServiceAccount", "name": monitoring_sa, "namespace": namespace}],
                opts=child,
            )

        serving_selector = selector("serving")
        serving_env = environment(
            {
                **common_env,
                "SERVING_MODEL_NAME": model_name,
                # The Service, probes and network policy reach the pod IP; the workload's default is loopback.
                "SERVING_HOST": "0.0.0.0",  # noqa: S104
                "SERVING_PORT": str(SERVING_PORT),
                "SERVING_API_KEYS_FILE": f"{API_KEYS_DIR}/{api_keys_key}",
                "SERVING_CAPTURE_DIR": f"{data_dir}/capture",
            },
            serving_pod.env,
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-serving",
            metadata=metadata("serving", "serving"),
            spec={
                # No `replicas`: the autoscaler owns the count, and a fixed value here would reset it on
                # every update. A new Deployment starts with one pod until the autoscaler adds the rest.
                "selector": {"match_labels": serving_selector},
                # Roll one extra pod in before taking one out, so capacity never drops during a rollout.
                "strategy": {
                    "type": "RollingUpdate",
                    "rolling_update": {"max_surge": 1, "max_unavailable": 0},
                },
                "template": _pod_template(
                    labels={**common_labels, **serving["identity"].get("pod_labels", {}), **serving_selector},
                    service_account_name=serving_sa,
                    image=image("serving", serving["image_repository"]),
                    plan=serving_pod,
                    env=serving_env,
                    tolerations=list(serving.get("tolerations", [])),
                    serving=_ServingPod(serving["api_keys_secret_name"], api_keys_key, serving_selector),
                    # Serving sees only the capture directory of the claim, never the monitor's state.
                    data=_data_volume(capture_claim, sub_path="capture"),
                ),
            },
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-serving-service",
            metadata=metadata("serving-service", "serving"),
            spec={
                "type": "ClusterIP",
                "selector": serving_selector,
                "ports": [{"name": "http", "port": SERVING_PORT, "target_port": "http", "protocol": "TCP"}],
            },
            opts=child,
        )
        # maxUnavailable 1, never minAvailable: with one replica minAvailable 1 forbids every eviction, so a
        # node drain (upgrade, Karpenter consolidation) would hang; with many, minAvailable 1 would let all but
        # one go at once. maxUnavailable 1 drains one pod at a time at any scale. Unhealthy pods may always be
        # evicted, so a crash-looping pod never blocks a drain either.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-serving-pdb",
            metadata=metadata("serving-pdb", "serving"),
            spec={
                "selector": {"match_labels": serving_selector},
                "max_unavailable": 1,
                "unhealthy_pod_eviction_policy": "AlwaysAllow",
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-serving-hpa",
            metadata=metadata("serving-hpa", "serving"),
            spec={
                "scale_target_ref": {
                    "api_version": "apps/v1",
                    "kind": "Deployment",
                    "name": deployment.metadata.name,
                },
                "min_replicas": min_replicas,
                "max_replicas": max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "average_utilization": target_cpu},
                        },
                    }
                ],
            },
            opts=child,
        )
        # Ingress: nothing reaches these pods but serving's port, from pods anywhere in the cluster (callers
        # authenticate with API keys; Prometheus scrapes /metrics on the same port). Egress stays open: MLflow,
        # the cloud's token and storage endpoints have no stable addresses to pin.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=metadata("default-deny"),
            spec={
                "pod_selector": {"match_labels": {"app.kubernetes.io/instance": name}},
                "policy_types": ["Ingress"],
            },
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-serving-ingress",
            metadata=metadata("serving-ingress", "serving"),
            spec={
                "pod_selector": {"match_labels": serving_selector},
                "policy_types": ["Ingress"],
                "ingress": [
                    {
                        "from_": [{"namespace_selector": {}}],
                        "ports": [{"port": SERVING_PORT, "protocol": "TCP"}],
                    }
                ],
            },
            opts=child,
        )

        self.namespace = service.metadata.namespace
        self.serving_service_name = service.metadata.name
        self.serving_url = pulumi.Output.concat(
            "http://",
            service.metadata.name,
            ".",
            service.metadata.namespace,
            ".svc.cluster.local:",
            str(SERVING_PORT),
        )
        self.training_cron_job_name = training_cron.metadata.name
        self.monitoring_cron_job_name = monitoring_cron.metadata.name
        self.register_outputs(
            {
                "namespace": self.namespace,
                "serving_service_name": self.serving_service_name,
                "serving_url": self.serving_url,
                "training_cron_job_name": self.training_cron_job_name,
                "monitoring_cron_job_name": self.monitoring_cron_job_name,
            }
        )
