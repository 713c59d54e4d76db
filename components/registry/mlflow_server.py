"""MlflowTrackingServer: the MLflow tracking server in a GPU cluster, writing artifacts to a ModelRegistry.

A Deployment running `mlflow server` as a proxy for artifacts (clients never need cloud credentials; the
server reaches the bucket as the cloud identity bound to its ServiceAccount), a ClusterIP Service, a
NetworkPolicy admitting only its own namespace and `client_namespaces`, and a PodDisruptionBudget. The
backend store URI (a database URL with its password) travels in a Kubernetes Secret and reaches mlflow
through an environment variable (mlflow reads it there), never the pod spec or the command line. Pods run
under the restricted Pod Security profile: non-root, read-only root filesystem with an emptyDir for /tmp,
no capabilities, no privilege escalation, RuntimeDefault seccomp.

The namespace and ServiceAccount come from the cloud's WorkloadIdentity (AwsWorkloadIdentity,
GcpWorkloadIdentity, AzureWorkloadIdentity): it owns the annotated ServiceAccount, so the namespace must
exist before it, and this component only references both.
"""

import re
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

TYPE_TOKEN = "mlopshub:index:MlflowTrackingServer"

PORT = 5000
"""Port mlflow server listens on, and the Service's port."""
RUN_AS_USER = 10001
"""UID and GID the server runs as (the upstream image has no USER and would run as root)."""
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""The label Kubernetes sets on every namespace to its own name."""
BACKEND_STORE_ENV = "MLFLOW_BACKEND_STORE_URI"
BACKEND_STORE_KEY = "backend-store-uri"

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")


class MlflowTrackingServerArgs(TypedDict):
    """Arguments of MlflowTrackingServer."""

    namespace: pulumi.Input[str]
    """Namespace to run in (the WorkloadIdentity's `namespace` output; it must already exist)."""
    service_account_name: pulumi.Input[str]
    """ServiceAccount bound to the cloud identity that may read and write the artifact bucket
    (the WorkloadIdentity's `service_account_name` output)."""
    artifact_uri: pulumi.Input[str]
    """Where artifacts go: the ModelRegistry's `artifact_uri` (s3://, gs://, wasbs:// or abfss://)."""
    backend_store_uri: pulumi.Input[str]
    """Database URL of the tracking store, with credentials: pass a secret (`config.require_secret`)."""
    image_repository: pulumi.Input[str]
    """Image repository without tag or digest, e.g. `<ModelRegistry.image_registry>/mlflow`."""
    image_digest: str
    """`sha256:<64 hex>`: the image is always pulled by digest."""
    replicas: NotRequired[int]
    """Server replicas (default 2, 1 to 10); the PodDisruptionBudget keeps one up when there are two or more."""
    cpu_request: NotRequired[str]
    """CPU request, also the limit (default `500m`)."""
    memory_request: NotRequired[str]
    """Memory request, also the limit (default `1Gi`)."""
    client_namespaces: NotRequired[Sequence[str]]
    """Other namespaces whose pods may reach the server (training, serving); its own namespace always may."""
    labels: NotRequired[Mapping[str, str]]
    """Extra labels on every object and pod."""


def server_args(artifact_uri: str) -> list[str]:
    """The container arguments. No `--backend-store-uri`: mlflow reads it from BACKEND_STORE_ENV itself, and a
    `$(VAR)` reference here would be expanded by the kubelet into the command line, where every process
    in the container can read the password (`/proc/<pid>/cmdline`)."""
    return [
        "server",
        "--artifacts-destination",
        artifact_uri,
        "--host",
        "0.0.0.0",  # noqa: S104 - listens on the pod IP; the Service and network policy decide who reaches it
        "--port",
        str(PORT),
    ]


def _quantity(owner: str, field: str, value: str) -> str:
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ValueError(f"{owner}: {field} {value!r} is not a Kubernetes quantity such as 500m or 1Gi")
    return value


class MlflowTrackingServer(pulumi.ComponentResource):
    """An MLflow tracking server Deployment with its Service, Secret and PodDisruptionBudget."""

    service_name: pulumi.Output[str]
    """Name of the ClusterIP Service."""
    tracking_uri: pulumi.Output[str]
    """`http://<service>.<namespace>.svc.cluster.local:5000`: MLFLOW_TRACKING_URI for in-cluster clients."""

    def __init__(
        self, name: str, args: MlflowTrackingServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        owner = f"MlflowTrackingServer {name}"
        digest = args["image_digest"]
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise ValueError(f"{owner}: image_digest {digest!r} must be sha256:<64 lowercase hex digits>")
        replicas = args.get("replicas", 2)
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 10:
            raise ValueError(f"{owner}: replicas {replicas!r} must be an integer from 1 to 10")
        cpu = _quantity(owner, "cpu_request", args.get("cpu_request", "500m"))
        memory = _quantity(owner, "memory_request", args.get("memory_request", "1Gi"))
        client_namespaces = list(args.get("client_namespaces", []))
        for client in client_namespaces:
            if not isinstance(client, str) or not _DNS_LABEL.match(client):
                raise ValueError(f"{owner}: client_namespaces entry {client!r} is not a namespace name")
        namespace = args["namespace"]
        selector = {"app.kubernetes.io/name": "mlflow", "app.kubernetes.io/instance": name}
        labels = {**args.get("labels", {}), **selector, "app.kubernetes.io/managed-by": "pulumi"}
        child = pulumi.ResourceOptions(parent=self)

        def metadata(role: str) -> k8s.meta.v1.ObjectMetaArgsDict:
            return {"name": f"{name}-{role}", "namespace": namespace, "labels": labels}

        secret = k8s.core.v1.Secret(
            f"{name}-backend-store",
            metadata=metadata("backend-store"),
            type="Opaque",
            string_data={BACKEND_STORE_KEY: pulumi.Output.secret(args["backend_store_uri"])},
            opts=child,
        )
        image = pulumi.Output.concat(args["image_repository"], "@", digest)
        probe: k8s.core.v1.ProbeArgsDict = {
            "http_get": {"path": "/health", "port": "http"},
            "period_seconds": 10,
            "timeout_seconds": 5,
        }
        resources: k8s.core.v1.ResourceRequirementsArgsDict = {
            "requests": {"cpu": cpu, "memory": memory},
            "limits": {"cpu": cpu, "memory": memory},
        }
        deployment = k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata=metadata("server"),
            spec={
                "replicas": replicas,
                "selector": {"match_labels": selector},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "service_account_name": args["service_account_name"],
                        "automount_service_account_token": False,
                        "security_context": {
                            "run_as_non_root": True,
                            "run_as_user": RUN_AS_USER,
                            "run_as_group": RUN_AS_USER,
                            "fs_group": RUN_AS_USER,
                            "seccomp_profile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": "mlflow",
                                "image": image,
                                "command": ["mlflow"],
                                "args": pulumi.Output.from_input(args["artifact_uri"]).apply(server_args),
                                "ports": [{"name": "http", "container_port": PORT, "protocol": "TCP"}],
                                "env": [
                                    {
                                        "name": BACKEND_STORE_ENV,
                                        "value_from": {
                                            "secret_key_ref": {
                                                "name": secret.metadata.name,
                                                "key": BACKEND_STORE_KEY,
                                            }
                                        },
                                    },
                                    # Python and gunicorn write caches and worker files under HOME and /tmp.
                                    {"name": "HOME", "value": "/tmp"},  # noqa: S108 - a per-pod emptyDir
                                ],
                                "liveness_probe": {
                                    **probe,
                                    "initial_delay_seconds": 30,
                                    "failure_threshold": 3,
                                },
                                "readiness_probe": {
                                    **probe,
                                    "initial_delay_seconds": 5,
                                    "failure_threshold": 3,
                                },
                                "resources": resources,
                                "security_context": {
                                    "run_as_non_root": True,
                                    "privileged": False,
                                    "allow_privilege_escalation": False,
                                    "read_only_root_filesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                    "seccomp_profile": {"type": "RuntimeDefault"},
                                },
                                "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],  # noqa: S108 - a per-pod emptyDir
                            }
                        ],
                        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "1Gi"}}],
                    },
                },
            },
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=metadata("service"),
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": PORT, "target_port": "http", "protocol": "TCP"}],
            },
            opts=child,
        )
        # Ingress only: the server's egress (database, object storage, the cloud's token endpoint) has no
        # stable addresses to pin, so it is left to the cluster's egress controls.
        sources: list[k8s.networking.v1.NetworkPolicyPeerArgsDict] = [{"pod_selector": {}}]
        if client_namespaces:
            sources.append(
                {
                    "namespace_selector": {
                        "match_expressions": [
                            {
                                "key": NAMESPACE_NAME_LABEL,
                                "operator": "In",
                                "values": sorted(client_namespaces),
                            }
                        ]
                    }
                }
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-ingress",
            metadata=metadata("ingress"),
            spec={
                "pod_selector": {"match_labels": selector},
                "policy_types": ["Ingress"],
                "ingress": [{"from_": sources, "ports": [{"port": PORT, "protocol": "TCP"}]}],
            },
            opts=child,
        )
        # With one replica a minAvailable of 1 would block every node drain; allow the disruption instead.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=metadata("pdb"),
            spec={
                "selector": {"match_labels": selector},
                **({"min_available": 1} if replicas > 1 else {"max_unavailable": 1}),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )

        self.service_name = service.metadata.name
        self.tracking_uri = pulumi.Output.concat(
            "http://",
            service.metadata.name,
            ".",
            service.metadata.namespace,
            ".svc.cluster.local:",
            str(PORT),
        )
        self.register_outputs({"service_name": self.service_name, "tracking_uri": self.tracking_uri})
