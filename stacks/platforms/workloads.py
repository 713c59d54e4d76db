"""The ML workloads (training, serving, monitoring) on a cloud's GPU cluster, the same way on every cloud.

Wired like MLflow (tracking.py), through the cluster's Kubernetes provider: a namespace under the restricted
Pod Security profile, the Secret with serving's API key hashes, a ReadWriteMany claim shared by serving,
monitoring and training (of the class each cloud's platform provides: Azure Files on AKS, EFS on EKS,
Filestore on GKE), then MlWorkloads, whose monitor retrains on drift.

The workloads need no cloud identity: they talk only to the MLflow tracking server, which proxies artifacts
to the registry bucket (`--artifacts-destination`) as its own identity. So MlWorkloads creates three plain
ServiceAccounts, without cloud annotations or tokens.
"""

import pulumi
import pulumi_kubernetes as k8s

from components.workloads.ml_workloads import (
    POD_SECURITY_LABELS,
    TRAINING_DATA_DIR,
    MlWorkloads,
    MlWorkloadsArgs,
    WorkloadIdentitySpec,
)
from stacks.settings import ImageSettings, WorkloadSettings, split_pinned_image

ML_NAMESPACE = "ml-workloads"
"""Kubernetes namespace of the ML workloads on every cluster; MLflow's network policy admits it."""
SERVING_API_KEYS_SECRET = "serving-api-keys"
"""Secret holding serving's `key_id:sha256` lines under SERVING_API_KEYS_KEY."""
SERVING_API_KEYS_KEY = "api-keys"
DATA_CLAIM = "ml-data"
"""The ReadWriteMany claim: serving's prediction capture, the monitor's state and the training table."""
DATA_CLAIM_SIZE = "100Gi"
"""The claim's size where the class does not set a floor: Azure Files bills it as the share's quota; EFS is
elastic and ignores it. On GKE the size is `gcp.dataVolumeSizeGib` (Filestore's tiers have minimums)."""
EMBEDDING_DIMENSION = 384
"""Dimensions of the RAG's stored embeddings. Must match the RAG workload's embedding model (the packaged
all-MiniLM-L6-v2 embeds 384): a vector index of another size rejects every document it writes."""


def workloads_namespace(name: str, kubernetes: pulumi.ProviderResource) -> k8s.core.v1.Namespace:
    """The workloads' namespace; only pods that meet the restricted Pod Security profile run."""
    return k8s.core.v1.Namespace(
        name,
        metadata={
            "name": ML_NAMESPACE,
            "labels": {**POD_SECURITY_LABELS, "app.kubernetes.io/managed-by": "pulumi"},
        },
        opts=pulumi.ResourceOptions(provider=kubernetes),
    )


def ml_workloads(
    name: str,
    *,
    namespace: k8s.core.v1.Namespace,
    tracking_uri: pulumi.Input[str],
    images: ImageSettings,
    settings: WorkloadSettings,
    api_key_lines: str,
    kubernetes: pulumi.ProviderResource,
    rwx_storage_class: pulumi.Input[str] | None,
    claim_size: str = DATA_CLAIM_SIZE,
) -> MlWorkloads:
    """MlWorkloads in `namespace`, reporting to MLflow at `tracking_uri`.

    `api_key_lines` are hashes of the keys callers present, never the keys: the stack may hold them (as a
    config secret) without being able to call serving. `rwx_storage_class` is a ReadWriteMany storage class
    of the cluster (an Output ties the claim to the resource that creates the class), and `claim_size` what
    the claim requests of it. None leaves the workloads without the shared claim: the component then warns
    that monitoring finds no captures and training has no data, and the monitor does not retrain on drift.
    """
    opts = pulumi.ResourceOptions(provider=kubernetes)
    namespace_name = namespace.metadata.name
    api_keys = k8s.core.v1.Secret(
        f"{name}-api-keys",
        metadata={"name": SERVING_API_KEYS_SECRET, "namespace": namespace_name},
        type="Opaque",
        string_data={SERVING_API_KEYS_KEY: pulumi.Output.secret(api_key_lines)},
        opts=opts,
    )
    claim_name: pulumi.Output[str] | None = None
    if rwx_storage_class is not None:
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            metadata={"name": DATA_CLAIM, "namespace": namespace_name},
            spec={
                "access_modes": ["ReadWriteMany"],
                "storage_class_name": rwx_storage_class,
                "resources": {"requests": {"storage": claim_size}},
            },
            opts=opts,
        )
        claim_name = claim.metadata.name
    # Captures (and so drift) exist only on the shared claim; without it a retrain trigger would never fire,
    # and the Kubernetes API token it needs would be mounted for nothing.
    retrain_on_drift = claim_name is not None
    images_by_role = {
        "training": images.training,
        "serving": images.serving,
        "monitoring": images.monitoring,
    }
    repositories = {role: split_pinned_image(image) for role, image in images_by_role.items()}

    def identity(role: str) -> WorkloadIdentitySpec:
        return {"service_account_name": role, "create_service_account": True}

    args: MlWorkloadsArgs = {
        "namespace": namespace_name,
        "mlflow_tracking_uri": tracking_uri,
        "model_name": settings.model_name,
        "training": {
            "image_repository": repositories["training"][0],
            "image_digest": repositories["training"][1],
            "identity": identity("training"),
            # Training takes a GPU node from zero for hours: it runs when monitoring sees drift or on demand
            # (`kubectl create job --from=cronjob/<name>`), not nightly whether or not anything changed.
            "suspend": True,
            "env": {"TRAINING_DATA": f"{TRAINING_DATA_DIR}/{settings.training_data}"},
        },
        "serving": {
            "image_repository": repositories["serving"][0],
            "image_digest": repositories["serving"][1],
            "identity": identity("serving"),
            "api_keys_secret_name": api_keys.metadata.name,
            "api_keys_secret_key": SERVING_API_KEYS_KEY,
        },
        "monitoring": {
            "image_repository": repositories["monitoring"][0],
            "image_digest": repositories["monitoring"][1],
            "identity": identity("monitoring"),
            "retrain_on_drift": retrain_on_drift,
        },
    }
    if claim_name is not None:
        args["capture_claim_name"] = claim_name
    return MlWorkloads(name, args, opts=pulumi.ResourceOptions(providers=[kubernetes]))
