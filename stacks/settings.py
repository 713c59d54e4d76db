"""The stack settings: one frozen, validated model built from Pulumi config.

Every key under the `mlops-hub` namespace is parsed here before any resource is registered. Bad config
fails with one line naming the key, the bad value and what is allowed. The scalar keys are also declared in
Pulumi.yaml (so the real engine checks their types); the per-cloud objects can only be declared here,
because Pulumi's project schema has no object type.
"""

import ipaddress
import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.compute.contract import AddonsSpec, NodePoolSpec, TaintEffect
from components.network.aws_network import FLOW_LOG_RETENTION_DAYS, NatGatewayMode
from components.network.azure_network import subnet_layout
from stacks.residency import Cloud, Residency, allowed_regions

NAMESPACE = "mlops-hub"
"""The Pulumi config namespace of this project (its name in Pulumi.yaml)."""

# Values every cloud accepts as a tag or label value (GCP labels are the strictest).
_LABEL_VALUE = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# Node pool names valid on all three clouds (AKS: lowercase alphanumerics, at most 12 characters).
_POOL_NAME = r"^[a-z][a-z0-9]{0,11}$"
# An OCI image reference pinned by digest and nothing else: `[registry[:port]/]path@sha256:<64 hex>`.
_PINNED_IMAGE = re.compile(
    r"^(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"@sha256:[0-9a-f]{64}$"
)
_TAGGED_IMAGE = re.compile(r"^[^@]*:[^/@]+$")

FILESTORE_MIN_GIB = 1024
"""Smallest Filestore Basic HDD instance (1 TiB): the floor of the GKE shared volume."""
FILESTORE_MAX_GIB = 65434
"""Largest Filestore Basic HDD instance (63.9 TiB)."""

PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
"""The digest the shipped stack files hold until the image pipeline sets the real one."""


class SettingsError(ValueError):
    """Stack config that cannot be used; the message is one line naming key, value and what is allowed."""


class _Model(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
    )


class AcceleratorSettings(_Model):
    """The GPU attached to each node of a pool."""

    type: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    """Accelerator name as the cloud spells it (`nvidia-a10g`, `nvidia-l4`, `nvidia-tesla-a100`...)."""
    count: Annotated[int, Field(ge=1, le=16)] = 1
    """GPUs per node."""


class TaintSettings(_Model):
    """A taint on every node of a pool (GPU pools always get `nvidia.com/gpu=present:NoSchedule`)."""

    key: Annotated[str, Field(min_length=1, max_length=253)]
    value: Annotated[str, Field(max_length=63)] = ""
    effect: TaintEffect = TaintEffect.NO_SCHEDULE


class NodePoolSettings(_Model):
    """One Kubernetes node pool (the cluster contract's node-pool spec, as config)."""

    name: Annotated[str, Field(pattern=_POOL_NAME)]
    """Pool name: lowercase letters and digits, starting with a letter, at most 12 characters."""
    instance_type: Annotated[str, Field(min_length=1)]
    """Instance type (AWS), VM size (Azure) or machine type (GCP)."""
    min_nodes: Annotated[int, Field(ge=0, le=1000)] = 0
    """Fewest nodes; 0 lets the pool cost nothing when idle."""
    max_nodes: Annotated[int, Field(ge=1, le=1000)] = 1
    """Most nodes."""
    spot: bool = False
    """Run on spot/preemptible capacity."""
    accelerator: AcceleratorSettings | None = None
    """The GPU on each node; None for a CPU pool."""
    disk_size_gb: Annotated[int, Field(ge=20, le=4096)] = 100
    """Node OS disk size in GiB."""
    taints: tuple[TaintSettings, ...] = ()
    """Extra taints."""
    labels: dict[str, Annotated[str, Field(max_length=63)]] = Field(default_factory=dict)
    """Extra node labels."""

    def to_spec(self) -> NodePoolSpec:
        """The pool as the cluster contract's NodePoolSpec."""
        spec: NodePoolSpec = {
            "name": self.name,
            "instance_type": self.instance_type,
            "min_nodes": self.min_nodes,
            "max_nodes": self.max_nodes,
            "spot": self.spot,
            "disk_size_gb": self.disk_size_gb,
            "taints": [{"key": t.key, "value": t.value, "effect": t.effect} for t in self.taints],
            "labels": dict(self.labels),
        }
        if self.accelerator is not None:
            spec["accelerator"] = {"type": self.accelerator.type, "count": self.accelerator.count}
        return spec

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Self:
        if self.min_nodes > self.max_nodes:
            raise ValueError(
                f"minNodes ({self.min_nodes}) is greater than maxNodes ({self.max_nodes}); "
                "minNodes must be at most maxNodes"
            )
        return self


def _unique_pool_names(pools: tuple[NodePoolSettings, ...]) -> tuple[NodePoolSettings, ...]:
    names = [pool.name for pool in pools]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"node pool names must be unique; repeated: {', '.join(duplicates)}")
    return pools


class AddonSettings(_Model):
    """Cluster add-ons to install; all on unless switched off."""

    gpu_operator: bool = True
    """NVIDIA GPU operator (EKS, AKS; GKE manages drivers itself)."""
    dcgm_exporter: bool = True
    """dcgm-exporter with GPU health counters."""
    autoscaler: bool = True
    """Scale GPU pools to and from zero (Karpenter on EKS, the managed autoscaler elsewhere)."""
    kuberay: bool = True
    """KubeRay operator."""
    opencost: bool = True
    """OpenCost."""

    def to_spec(self) -> AddonsSpec:
        """The add-ons as the cluster contract's AddonsSpec."""
        return {
            "gpu_operator": self.gpu_operator,
            "dcgm_exporter": self.dcgm_exporter,
            "autoscaler": self.autoscaler,
            "kuberay": self.kuberay,
            "opencost": self.opencost,
        }


def _pinned_image(reference: str) -> str:
    allowed = "allowed: <name>@sha256:<64 lowercase hex digits>, no tag"
    if _PINNED_IMAGE.match(reference):
        return reference
    if _TAGGED_IMAGE.match(reference):
        raise ValueError(f"a tag is not a pin (it can be moved to another image); {allowed}")
    raise ValueError(f"not an image reference pinned by digest; {allowed}")


PinnedImage = Annotated[str, AfterValidator(_pinned_image)]
"""An image reference `<name>@sha256:<64 hex>`: what runs cannot change under the stack."""


def split_pinned_image(reference: str) -> tuple[str, str]:
    """`(repository, digest)` of a pinned reference: `a/b@sha256:…` → `("a/b", "sha256:…")`."""
    repository, digest = reference.split("@", 1)
    return repository, digest


class ImageSettings(_Model):
    """The images a cloud runs, each pinned by digest; the image pipeline sets them (`pulumi config set`)."""

    mlflow: PinnedImage
    """The MLflow tracking server."""
    rag_query: PinnedImage
    """The serverless RAG's query service."""
    rag_ingest: PinnedImage
    """The serverless RAG's ingest service."""
    training: PinnedImage
    """The training workload (MlWorkloads' training CronJob)."""
    serving: PinnedImage
    """The serving workload (MlWorkloads' serving Deployment)."""
    monitoring: PinnedImage
    """The monitoring workload (MlWorkloads' monitoring CronJob)."""

    def placeholders(self) -> list[str]:
        """Aliases of the images whose digest is still PLACEHOLDER_DIGEST."""
        return [
            field.alias or name
            for name, field in type(self).model_fields.items()
            if str(getattr(self, name)).endswith(f"@{PLACEHOLDER_DIGEST}")
        ]


class WorkloadSettings(_Model):
    """The model lifecycle (MlWorkloads) on the cluster: what it trains, serves and monitors."""

    model_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")] = "fraud-detector"
    """Registered model trained, served and monitored."""
    training_data: Annotated[
        str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*\.(csv|csv\.gz|parquet|pq)$")
    ] = "train.parquet"
    """File name of the training table (CSV or Parquet) in the `training/` directory of the cluster's shared
    data volume, which training mounts read-only."""


class _ClusterBlock(_Model):
    """What every cloud block has: the GPU cluster's settings and the images it runs."""

    kubernetes_version: Annotated[str, Field(pattern=r"^1\.\d{2}$")] = "1.34"
    """Kubernetes minor version, e.g. `1.34`."""
    authorized_cidrs: tuple[ipaddress.IPv4Network, ...] = ()
    """CIDRs allowed to reach a public API endpoint; empty keeps the endpoint private."""
    addons: AddonSettings = AddonSettings()
    """Cluster add-ons."""
    node_pools: tuple[NodePoolSettings, ...] = ()
    """GPU and CPU node pools (the cluster's system pool is separate and built in)."""
    images: ImageSettings
    """Images of the MLflow server, the serverless RAG and the ML workloads, pinned by digest."""
    workloads: WorkloadSettings = WorkloadSettings()
    """The ML workloads (training, serving, monitoring) on the cluster."""

    @field_validator("authorized_cidrs")
    @classmethod
    def _no_open_cidr(cls, cidrs: tuple[ipaddress.IPv4Network, ...]) -> tuple[ipaddress.IPv4Network, ...]:
        for cidr in cidrs:
            if cidr.prefixlen == 0:
                raise ValueError(
                    f"{cidr} would open the API endpoint to the internet; list the CIDRs that need it"
                )
        return cidrs

    _pools = field_validator("node_pools")(_unique_pool_names)


class AwsSettings(_ClusterBlock):
    """The `mlops-hub:aws` block."""

    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    """AWS region, e.g. `eu-west-1`. Must lie in the stack's residency zone."""
    vpc_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.0.0.0/16")
    """VPC CIDR block, a /16 to /22 (split into one public and one private subnet per AZ)."""
    availability_zone_count: Annotated[int, Field(ge=2, le=6)] = 3
    """Availability zones the network spans."""
    nat_gateways: NatGatewayMode = NatGatewayMode.SINGLE
    """`single` or `per-az` NAT gateways."""
    flow_log_retention_days: int = 365
    """Days VPC flow logs are kept; one of CloudWatch's retention periods."""
    admin_role_arns: tuple[Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")], ...] = ()
    """IAM roles granted cluster admin through EKS access entries (no one else is)."""

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr_size(cls, cidr: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not 16 <= cidr.prefixlen <= 22:
            raise ValueError(f"prefix length /{cidr.prefixlen} is outside /16 to /22")
        return cidr

    @field_validator("flow_log_retention_days")
    @classmethod
    def _retention(cls, days: int) -> int:
        if days not in FLOW_LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in FLOW_LOG_RETENTION_DAYS)
            raise ValueError(f"{days} is not a CloudWatch retention period; allowed: {allowed}")
        return days

    def lambda_image_problem(self) -> tuple[str, str] | None:
        """`(key, message)` when a RAG image is not in ECR of `region`: Lambda runs images only from there."""
        registry = re.compile(rf"^\d{{12}}\.dkr\.ecr\.{re.escape(self.region)}\.amazonaws\.com/")
        for name in ("rag_query", "rag_ingest"):
            reference = getattr(self.images, name)
            if not registry.match(reference):
                return (
                    f"images.{ImageSettings.model_fields[name].alias}",
                    f"= '{reference}' is not in ECR of {self.region}; Lambda runs images only from ECR in its "
                    f"own region: <account>.dkr.ecr.{self.region}.amazonaws.com/<repository>@sha256:<64 hex>",
                )
        return None


class AzureSettings(_ClusterBlock):
    """The `mlops-hub:azure` block."""

    location: Annotated[str, Field(pattern=r"^[a-z0-9]+$")]
    """Azure location, e.g. `westeurope`. Must lie in the stack's residency zone."""
    address_space: ipaddress.IPv4Network = ipaddress.IPv4Network("10.40.0.0/16")
    """VNet address space."""
    admin_group_object_ids: tuple[
        Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")], ...
    ] = ()
    """Entra ID groups that administer the cluster."""
    deployer_principal_type: Literal["ServicePrincipal", "User"] = "ServicePrincipal"
    """Who runs Pulumi: `ServicePrincipal` (CI) or `User` (`az login` as a person); it becomes cluster admin."""
    name_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{2,9}$")] | None = None
    """Prefix of Azure's globally unique names (storage accounts, container registry, key vault, Cosmos DB):
    3 to 10 lowercase letters and digits. Default: `mlh` and the environment without hyphens, cut to 10."""
    rag_subnet_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.40.194.0/23")
    """Subnet of the serverless RAG's Container Apps environment: a /23 or larger inside `addressSpace`,
    clear of the AKS subnets (the default fits the default address space)."""

    def global_name_prefix(self, environment: str) -> str:
        """`name_prefix`, or the default derived from the environment."""
        return self.name_prefix or ("mlh" + environment.replace("-", ""))[:10]

    @model_validator(mode="after")
    def _rag_subnet_fits(self) -> Self:
        subnet, space = self.rag_subnet_cidr, self.address_space
        problem = None
        if subnet.prefixlen > 23:
            problem = "is smaller than a /23, the least a consumption Container Apps environment needs"
        elif not subnet.subnet_of(space):
            problem = f"lies outside addressSpace {space}"
        else:
            try:
                layout = subnet_layout(str(space))
            except ValueError:
                return self  # AzureNetwork reports the bad address space itself.
            taken = [layout.nodes, layout.private_endpoints, layout.api_server]
            clash = next((cidr for cidr in taken if subnet.overlaps(ipaddress.IPv4Network(cidr))), None)
            if clash is not None:
                problem = f"overlaps the AKS subnet {clash}; pick a range clear of {', '.join(taken)}"
        if problem is not None:
            raise _KeyedError("ragSubnetCidr", f"= '{subnet}' {problem}")
        return self


class GcpSettings(_ClusterBlock):
    """The `mlops-hub:gcp` block."""

    project: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    """GCP project id."""
    region: Annotated[str, Field(pattern=r"^[a-z]+-[a-z]+\d+$")]
    """GCP region, e.g. `europe-west4`. Must lie in the stack's residency zone."""
    nodes_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.50.0.0/20")
    """Primary range of the nodes subnetwork."""
    pods_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.52.0.0/14")
    """Secondary range for pods."""
    services_cidr: ipaddress.IPv4Network = ipaddress.IPv4Network("10.56.0.0/20")
    """Secondary range for services."""
    rag_query_invokers: Annotated[
        tuple[Annotated[str, Field(pattern=r"^(serviceAccount|group|user|domain):[^\s:]+$")], ...],
        Field(min_length=1),
    ]
    """IAM members allowed to call the RAG query service (`group:…`, `serviceAccount:…`); never public."""
    data_volume_size_gib: Annotated[int, Field(ge=FILESTORE_MIN_GIB, le=FILESTORE_MAX_GIB)] = (
        FILESTORE_MIN_GIB
    )
    """Size in GiB of the ML workloads' shared volume, a Filestore Basic HDD instance billed for all of it
    whether used or not: 1024 (its minimum, the default) to 65434 (63.9 TiB). It can grow later, never
    shrink."""


_SecretText = Annotated[SecretStr, Field(min_length=1)]


class MlflowBackendStoreUris(_Model):
    """Per cloud, the database URL (with its password) of that cloud's MLflow tracking store. Secrets: set
    each with `pulumi config set --secret --path 'mlops-hub:mlflowBackendStoreUris.<cloud>' <url>`. They
    live outside the cloud blocks so that the blocks stay readable in plans."""

    aws: _SecretText | None = None
    azure: _SecretText | None = None
    gcp: _SecretText | None = None


class ServingApiKeyHashes(_Model):
    """Per cloud, the API keys serving accepts as `key_id:<sha256 hex of the key>` lines (hashes, never the
    keys). Set each with `pulumi config set --secret --path 'mlops-hub:servingApiKeyHashes.<cloud>' "$(cat
    hashes.txt)"`; the stack puts them in the Kubernetes Secret serving mounts."""

    aws: _SecretText | None = None
    azure: _SecretText | None = None
    gcp: _SecretText | None = None


class StackSettings(_Model):
    """Everything one environment is built from."""

    environment: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")]
    """Environment name; the `environment` tag."""
    team: Annotated[str, Field(pattern=_LABEL_VALUE)]
    """Owning team; the `team` tag."""
    cost_center: Annotated[str, Field(pattern=_LABEL_VALUE)]
    """Cost center; the `cost-center` tag."""
    residency: Residency = Residency.ANY
    """Zone every region must lie in."""
    clouds: Annotated[tuple[Cloud, ...], Field(min_length=1)]
    """Clouds this environment deploys to."""
    aws: AwsSettings | None = None
    """AWS block; required when `aws` is in `clouds`."""
    azure: AzureSettings | None = None
    """Azure block; required when `azure` is in `clouds`."""
    gcp: GcpSettings | None = None
    """GCP block; required when `gcp` is in `clouds`."""
    mlflow_backend_store_uris: MlflowBackendStoreUris = MlflowBackendStoreUris()
    """MLflow tracking-store URLs (secrets), one for each cloud in `clouds`."""
    serving_api_key_hashes: ServingApiKeyHashes = ServingApiKeyHashes()
    """Serving's API key hashes (secrets), one set for each cloud in `clouds`."""

    @field_validator("clouds")
    @classmethod
    def _unique_clouds(cls, clouds: tuple[Cloud, ...]) -> tuple[Cloud, ...]:
        repeated = sorted({c.value for c in clouds if clouds.count(c) > 1})
        if repeated:
            raise ValueError(f"each cloud may appear once; repeated: {', '.join(repeated)}")
        return clouds

    @model_validator(mode="after")
    def _blocks_match_clouds_and_residency(self) -> Self:
        for cloud in Cloud:
            block = self.cloud_block(cloud)
            if cloud in self.clouds and block is None:
                raise _KeyedError(cloud.value, f"is required because clouds includes {cloud.value}")
            if cloud not in self.clouds and block is not None:
                raise _KeyedError(
                    cloud.value,
                    f"is set but clouds does not include {cloud.value}; add it or remove the block",
                )
            if block is None:
                continue
            region_field, region = _region_of(block)
            allowed = allowed_regions(self.residency, cloud)
            if allowed is not None and region not in allowed:
                raise _KeyedError(
                    f"{cloud.value}.{region_field}",
                    f"= '{region}' is outside residency zone '{self.residency.value}'; "
                    f"allowed: {', '.join(sorted(allowed))}",
                )
            # After the residency check: a region outside the zone is the cause to report first.
            problem = block.lambda_image_problem() if isinstance(block, AwsSettings) else None
            if problem is not None:
                raise _KeyedError(f"{cloud.value}.{problem[0]}", problem[1])
        per_cloud_secrets = (
            ("mlflowBackendStoreUris", self.mlflow_backend_store_uris, "the database URL", "<url>"),
            ("servingApiKeyHashes", self.serving_api_key_hashes, "the key_id:sha256 lines", '"<lines>"'),
        )
        for field, secrets, what, value in per_cloud_secrets:
            for cloud in Cloud:
                secret = getattr(secrets, cloud.value)
                key = f"{field}.{cloud.value}"
                if cloud in self.clouds and secret is None:
                    raise _KeyedError(
                        key,
                        f"is required because clouds includes {cloud.value}; set {what} with "
                        f"`pulumi config set --secret --path 'mlops-hub:{key}' {value}`",
                    )
                if cloud not in self.clouds and secret is not None:
                    raise _KeyedError(key, f"is set but clouds does not include {cloud.value}; remove it")
        return self

    def mlflow_backend_store_uri(self, cloud: Cloud) -> str:
        """The MLflow tracking-store URL of `cloud` (a secret: wrap it in `pulumi.Output.secret`)."""
        uri = getattr(self.mlflow_backend_store_uris, cloud.value)
        if uri is None:
            raise SettingsError(f"mlops-hub:mlflowBackendStoreUris.{cloud.value} is not set")
        return str(uri.get_secret_value())

    def serving_api_key_lines(self, cloud: Cloud) -> str:
        """Serving's `key_id:sha256` lines on `cloud` (a secret: wrap it in `pulumi.Output.secret`)."""
        hashes = getattr(self.serving_api_key_hashes, cloud.value)
        if hashes is None:
            raise SettingsError(f"mlops-hub:servingApiKeyHashes.{cloud.value} is not set")
        return str(hashes.get_secret_value())

    def cloud_block(self, cloud: Cloud) -> AwsSettings | AzureSettings | GcpSettings | None:
        """The settings block of `cloud`, if set."""
        match cloud:
            case Cloud.AWS:
                return self.aws
            case Cloud.AZURE:
                return self.azure
            case Cloud.GCP:
                return self.gcp

    @property
    def tags(self) -> dict[str, str]:
        """Cost-attribution tags every taggable resource carries (valid as GCP labels too)."""
        return {
            "environment": self.environment,
            "team": self.team,
            "cost-center": self.cost_center,
            "managed-by": "pulumi",
        }


class _KeyedError(ValueError):
    """A cross-field error that belongs to a specific key rather than to the whole model."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _region_of(block: AwsSettings | AzureSettings | GcpSettings) -> tuple[str, str]:
    if isinstance(block, AzureSettings):
        return "location", block.location
    return "region", block.region


# Keys whose Pulumi config value is JSON text (arrays and objects); the rest are plain strings.
_JSON_KEYS = frozenset({"clouds", "aws", "azure", "gcp", "mlflowBackendStoreUris", "servingApiKeyHashes"})


def parse_settings(config: Mapping[str, str], namespace: str = NAMESPACE) -> StackSettings:
    """Build the settings from Pulumi config as the SDK holds it (`"<namespace>:<key>"` → string).

    Keys of other namespaces (provider config such as `aws:region`) are ignored.

    Raises:
        SettingsError: a key is unknown, missing, malformed or out of range.
    """
    prefix = f"{namespace}:"
    known = {field.alias or name: name for name, field in StackSettings.model_fields.items()}
    data: dict[str, Any] = {}
    for full_key, text in sorted(config.items()):
        if not full_key.startswith(prefix):
            continue
        key = full_key.removeprefix(prefix)
        if key not in known:
            raise SettingsError(
                f"unknown config key {full_key}; allowed: {', '.join(prefix + k for k in known)}"
            )
        if key in _JSON_KEYS:
            try:
                data[key] = json.loads(text)
            except json.JSONDecodeError as err:
                raise SettingsError(
                    f"{full_key} is not valid JSON ({err.msg} at character {err.pos}); "
                    f"expected {_expected_shape(key)}"
                ) from None
        else:
            data[key] = text
    try:
        return StackSettings.model_validate(data)
    except ValidationError as err:
        raise SettingsError(_describe(err, namespace)) from None


def load_settings() -> StackSettings:
    """Build the settings from the running Pulumi program's config (offline runner or real CLI)."""
    return parse_settings(_program_config())


def _program_config() -> dict[str, str]:
    # pulumi.Config can only look keys up one at a time; to reject unknown (misspelt) keys we need them
    # all. The SDK keeps them in CONFIG (set by runners and tests) or PULUMI_CONFIG (set by the CLI).
    merged: dict[str, str] = {str(k): str(v) for k, v in runtime_config.get_config_env().items()}
    merged.update({str(k): str(v) for k, v in runtime_config.CONFIG.get().items()})
    return merged


def _expected_shape(key: str) -> str:
    if key == "clouds":
        return 'a list such as ["aws", "gcp"]'
    blocks: dict[str, type[BaseModel]] = {
        "aws": AwsSettings,
        "azure": AzureSettings,
        "gcp": GcpSettings,
        "mlflowBackendStoreUris": MlflowBackendStoreUris,
        "servingApiKeyHashes": ServingApiKeyHashes,
    }
    block = blocks[key]
    return "an object with keys " + ", ".join(f.alias or n for n, f in block.model_fields.items())


def _describe(err: ValidationError, namespace: str) -> str:
    """Every validation error of `err` on one line: key path, bad value, what is allowed."""
    parts = []
    for detail in err.errors():
        loc = list(detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        ctx_error = detail.get("ctx", {}).get("error")
        if isinstance(ctx_error, _KeyedError):
            loc = [*loc, *ctx_error.key.split(".")]
            message = str(ctx_error)
        path = _path(namespace, loc)
        kind = detail["type"]
        if kind == "missing":
            parts.append(f"{path} is required but not set")
        elif kind == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            parts.append(f"{path} is not a known key; allowed: {', '.join(allowed)}")
        elif kind in {"model_type", "model_attributes_type", "dict_type"}:
            parts.append(f"{path} must be an object, got {_show(detail['input'])}")
        elif isinstance(ctx_error, _KeyedError):
            parts.append(f"{path} {message}")
        elif isinstance(detail["input"], dict | list):
            parts.append(f"{path}: {message}")
        else:
            message = message.replace("a valid tuple", "a list")
            parts.append(f"{path} = {_show(detail['input'])}: {message}")
    return "; ".join(parts)


def _path(namespace: str, loc: list[int | str]) -> str:
    text = f"{namespace}:"
    for index, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += part if index == 0 else f".{part}"
    return text


def _allowed_keys(loc: list[int | str]) -> list[str]:
    """The keys the model at `loc` accepts (walking StackSettings by alias)."""
    model: type[BaseModel] = StackSettings
    for part in loc:
        if isinstance(part, int):
            continue
        field = next(f for n, f in model.model_fields.items() if (f.alias or n) == part)
        nested = _model_in(field.annotation)
        if nested is None:
            break
        model = nested
    return [f.alias or n for n, f in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
