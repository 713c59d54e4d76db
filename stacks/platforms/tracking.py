"""The MLflow tracking server on a cloud's GPU cluster, the same way on every cloud.

The namespace comes first (restricted Pod Security), then the cloud's WorkloadIdentity creates the
ServiceAccount bound to the identity that may use the registry bucket, then the server, which only
references both. Everything here goes through the cluster's Kubernetes provider, built from the cluster's
kubeconfig.
"""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.registry.mlflow_server import MlflowTrackingServer
from stacks.settings import PLACEHOLDER_DIGEST, ImageSettings, split_pinned_image

MLFLOW_NAMESPACE = "mlflow"
"""Kubernetes namespace of the tracking server on every cluster."""
MLFLOW_SERVICE_ACCOUNT = "mlflow"
"""Kubernetes ServiceAccount the server runs as, bound to the cloud identity that may use the bucket."""


def mlflow_namespace(name: str, kubernetes: pulumi.ProviderResource) -> k8s.core.v1.Namespace:
    """The namespace of the tracking server; only pods that meet the restricted Pod Security profile run."""
    return k8s.core.v1.Namespace(
        name,
        metadata={
            "name": MLFLOW_NAMESPACE,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "app.kubernetes.io/managed-by": "pulumi",
            },
        },
        opts=pulumi.ResourceOptions(provider=kubernetes),
    )


def mlflow_server(
    name: str,
    *,
    namespace: pulumi.Input[str],
    service_account_name: pulumi.Input[str],
    artifact_uri: pulumi.Input[str],
    backend_store_uri: str,
    images: ImageSettings,
    kubernetes: pulumi.ProviderResource,
    client_namespaces: Sequence[str] = (),
    pod_labels: Mapping[str, str] | None = None,
) -> MlflowTrackingServer:
    """The tracking server, writing artifacts to `artifact_uri` as the WorkloadIdentity's ServiceAccount;
    pods in `client_namespaces` may reach it too."""
    repository, digest = split_pinned_image(images.mlflow)
    return MlflowTrackingServer(
        name,
        {
            "namespace": namespace,
            "service_account_name": service_account_name,
            "artifact_uri": artifact_uri,
            "backend_store_uri": pulumi.Output.secret(backend_store_uri),
            "image_repository": repository,
            "image_digest": digest,
            "client_namespaces": list(client_namespaces),
            "labels": dict(pod_labels or {}),
        },
        opts=pulumi.ResourceOptions(providers=[kubernetes]),
    )


def warn_placeholder_images(cloud: str, images: ImageSettings) -> None:
    """Warn while the stack still holds the shipped placeholder digests (nothing by that digest exists)."""
    placeholders = images.placeholders()
    if placeholders:
        keys = ", ".join(f"mlops-hub:{cloud}.images.{key}" for key in placeholders)
        pulumi.log.warn(
            f"{keys} still hold the placeholder digest {PLACEHOLDER_DIGEST[:15]}…; the image pipeline must set "
            f"the real ones with `pulumi config set --path 'mlops-hub:{cloud}.images.<image>' <name>@sha256:<digest>`"
        )
