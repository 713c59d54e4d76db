"""Stack settings: every shipped stack parses; every kind of bad config fails with a one-line cause."""

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from components.network.aws_network import NatGatewayMode
from scripts.hub.offline.engine import ProgramError, ProgramRun, run_program
from scripts.hub.offline.project import load_project, load_stack_config
from stacks.residency import Cloud, Residency, region_allowed
from stacks.settings import (
    FILESTORE_MAX_GIB,
    FILESTORE_MIN_GIB,
    PLACEHOLDER_DIGEST,
    GcpSettings,
    SettingsError,
    StackSettings,
    parse_settings,
    split_pinned_image,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

DIGEST = "sha256:" + "ab" * 32
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/dev-registry"
IMAGE_PATHS = {
    "mlflow": "mlflow",
    "ragQuery": "rag-query",
    "ragIngest": "rag-ingest",
    "training": "training",
    "serving": "serving",
    "monitoring": "monitoring",
}
AWS_IMAGES = {key: f"{ECR}/{path}@{DIGEST}" for key, path in IMAGE_PATHS.items()}
STORE_URI = "postgresql://mlflow:hunter2@db.internal:5432/mlflow"
API_KEY_LINES = "ci:" + "5e" * 32
PINNED_ONLY = "allowed: <name>@sha256:<64 lowercase hex digits>, no tag"
AZURE_BLOCK = {
    "location": "westeurope",
    "images": {key: f"mlhdevregimages.azurecr.io/{path}@{DIGEST}" for key, path in IMAGE_PATHS.items()},
}

BASE: dict[str, str] = {
    "mlops-hub:environment": "dev",
    "mlops-hub:team": "ml-platform",
    "mlops-hub:costCenter": "cc-1001",
    "mlops-hub:residency": "eu",
    "mlops-hub:clouds": '["aws"]',
    "mlops-hub:aws": json.dumps(
        {
            "region": "eu-west-1",
            "nodePools": [{"name": "gpu", "instanceType": "g5.xlarge", "minNodes": 0, "maxNodes": 2}],
            "images": AWS_IMAGES,
        }
    ),
    "mlops-hub:mlflowBackendStoreUris": json.dumps({"aws": STORE_URI}),
    "mlops-hub:servingApiKeyHashes": json.dumps({"aws": API_KEY_LINES}),
}


def _with(changes: Mapping[str, str | None]) -> dict[str, str]:
    config = dict(BASE)
    for key, value in changes.items():
        if value is None:
            config.pop(key)
        else:
            config[key] = value
    return config


def _ecr_images(region: str) -> dict[str, str]:
    registry = ECR.replace("eu-west-1", region)
    return {key: f"{registry}/{image}@{DIGEST}" for key, image in IMAGE_PATHS.items()}


def _aws(**fields: object) -> str:
    return json.dumps({"region": "eu-west-1", "images": AWS_IMAGES, **fields})


def test_base_config_parses_into_frozen_typed_settings() -> None:
    settings = parse_settings(BASE)
    assert settings.clouds == (Cloud.AWS,)
    assert settings.residency is Residency.EU
    assert settings.aws is not None
    assert settings.aws.nat_gateways is NatGatewayMode.SINGLE
    assert settings.aws.node_pools[0].max_nodes == 2
    assert settings.tags == {
        "environment": "dev",
        "team": "ml-platform",
        "cost-center": "cc-1001",
        "managed-by": "pulumi",
    }
    with pytest.raises(ValueError, match="frozen"):
        settings.team = "other"  # type: ignore[misc]


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_shipped_stacks_parse(stack: str) -> None:
    project = load_project(REPO_ROOT)
    settings = parse_settings(load_stack_config(project, stack).values)
    assert settings.environment == stack
    expected_clouds = {"dev": {"aws"}, "staging": {"aws", "gcp"}, "prod": {"aws", "azure", "gcp"}}[stack]
    assert {c.value for c in settings.clouds} == expected_clouds


def test_prod_is_eu_resident_on_every_cloud() -> None:
    settings = parse_settings(load_stack_config(load_project(REPO_ROOT), "prod").values)
    assert settings.residency is Residency.EU
    assert settings.aws is not None and settings.azure is not None and settings.gcp is not None
    assert region_allowed(Residency.EU, Cloud.AWS, settings.aws.region)
    assert region_allowed(Residency.EU, Cloud.AZURE, settings.azure.location)
    assert region_allowed(Residency.EU, Cloud.GCP, settings.gcp.region)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"mlops-hub:clouds": '["aws", "ibm"]'},
            "mlops-hub:clouds[1] = \"ibm\": Input should be 'aws', 'azure' or 'gcp'",
            id="unknown-cloud",
        ),
        pytest.param(
            {
                "mlops-hub:aws": _aws(
                    nodePools=[{"name": "gpu", "instanceType": "g5", "minNodes": 3, "maxNodes": 2}]
                )
            },
            "mlops-hub:aws.nodePools[0]: minNodes (3) is greater than maxNodes (2); minNodes must be at most maxNodes",
            id="pool-min-above-max",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(region="us-east-1", images=_ecr_images("us-east-1"))},
            "mlops-hub:aws.region = 'us-east-1' is outside residency zone 'eu'; allowed: eu-central-1, "
            "eu-north-1, eu-south-1, eu-south-2, eu-west-1, eu-west-3",
            id="region-outside-residency",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(region="eu-west-2", images=_ecr_images("eu-west-2"))},
            "mlops-hub:aws.region = 'eu-west-2' is outside residency zone 'eu'",
            id="london-is-not-eu",
        ),
        pytest.param({"mlops-hub:team": None}, "mlops-hub:team is required but not set", id="missing-team"),
        pytest.param(
            {"mlops-hub:clouds": '["aws", "gcp"]'},
            "mlops-hub:gcp is required because clouds includes gcp",
            id="missing-cloud-block",
        ),
        pytest.param(
            {"mlops-hub:aws": '{"region": '},
            "mlops-hub:aws is not valid JSON (Expecting value at character 11); expected an object with keys "
            "kubernetesVersion, authorizedCidrs, addons, nodePools, images, workloads, region, vpcCidr, "
            "availabilityZoneCount, natGateways, flowLogRetentionDays, adminRoleArns",
            id="malformed-json",
        ),
        pytest.param(
            {"mlops-hub:aws": '"eu-west-1"'},
            'mlops-hub:aws must be an object, got "eu-west-1"',
            id="object-expected",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(regoin="x")},
            "mlops-hub:aws.regoin is not a known key; allowed: kubernetesVersion, authorizedCidrs, addons, "
            "nodePools, images, workloads, region, vpcCidr, availabilityZoneCount, natGateways, "
            "flowLogRetentionDays, adminRoleArns",
            id="misspelt-nested-key",
        ),
        pytest.param(
            {
                "mlops-hub:aws": _aws(
                    nodePools=[{"name": "gpu", "instanceType": "g5", "accelerator": {"typ": "x"}}]
                )
            },
            "mlops-hub:aws.nodePools[0].accelerator.typ is not a known key; allowed: type, count",
            id="misspelt-deep-key",
        ),
        pytest.param(
            {"mlops-hub:tem": "x"},
            "unknown config key mlops-hub:tem; allowed: mlops-hub:environment, mlops-hub:team",
            id="misspelt-top-key",
        ),
        pytest.param(
            {"mlops-hub:azure": json.dumps(AZURE_BLOCK)},
            "mlops-hub:azure is set but clouds does not include azure; add it or remove the block",
            id="block-without-cloud",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(vpcCidr="10.0.0.0/8")},
            'mlops-hub:aws.vpcCidr = "10.0.0.0/8": prefix length /8 is outside /16 to /22',
            id="cidr-too-large",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(flowLogRetentionDays=100)},
            "mlops-hub:aws.flowLogRetentionDays = 100: 100 is not a CloudWatch retention period; allowed: 1, 3,",
            id="retention-not-cloudwatch",
        ),
        pytest.param(
            {"mlops-hub:residency": "mars"},
            "mlops-hub:residency = \"mars\": Input should be 'eu', 'us' or 'any'",
            id="unknown-residency",
        ),
        pytest.param(
            {
                "mlops-hub:aws": _aws(
                    nodePools=[{"name": "gpu", "instanceType": "a"}, {"name": "gpu", "instanceType": "b"}]
                )
            },
            "mlops-hub:aws.nodePools: node pool names must be unique; repeated: gpu",
            id="duplicate-pools",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(nodePools=5)},
            "mlops-hub:aws.nodePools = 5: Input should be a list",
            id="pools-not-a-list",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(nodePools=[{"name": "GPU-pool", "instanceType": "a"}])},
            'mlops-hub:aws.nodePools[0].name = "GPU-pool": String should match pattern',
            id="pool-name-invalid-on-aks",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(authorizedCidrs=["0.0.0.0/0"])},
            "mlops-hub:aws.authorizedCidrs: 0.0.0.0/0 would open the API endpoint to the internet",
            id="open-api-endpoint",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(addons={"kuberay": False, "karpenter": True})},
            "mlops-hub:aws.addons.karpenter is not a known key; allowed: gpuOperator, dcgmExporter, autoscaler, "
            "kuberay, opencost",
            id="unknown-addon",
        ),
        pytest.param(
            {
                "mlops-hub:aws": _aws(
                    nodePools=[
                        {"name": "gpu", "instanceType": "g5", "taints": [{"key": "k", "effect": "Never"}]}
                    ]
                )
            },
            "mlops-hub:aws.nodePools[0].taints[0].effect = \"Never\": Input should be 'NoSchedule', 'PreferNoSchedule' or 'NoExecute'",
            id="bad-taint-effect",
        ),
        pytest.param(
            {"mlops-hub:aws": _aws(kubernetesVersion="latest")},
            'mlops-hub:aws.kubernetesVersion = "latest": String should match pattern',
            id="unpinned-kubernetes-version",
        ),
        pytest.param(
            {"mlops-hub:clouds": '["aws", "aws"]'},
            "mlops-hub:clouds: each cloud may appear once; repeated: aws",
            id="repeated-cloud",
        ),
    ],
)
def test_bad_config_is_one_line_naming_key_value_and_allowed(
    changes: Mapping[str, str | None], message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with(changes))
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_every_error_is_reported_not_only_the_first() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:team": None, "mlops-hub:costCenter": None}))
    assert "mlops-hub:team is required" in str(caught.value)
    assert "mlops-hub:costCenter is required" in str(caught.value)


def test_node_pools_become_contract_specs() -> None:
    config = _with(
        {
            "mlops-hub:aws": _aws(
                nodePools=[
                    {
                        "name": "gpu",
                        "instanceType": "g5.xlarge",
                        "maxNodes": 2,
                        "spot": True,
                        "accelerator": {"type": "nvidia-a10g"},
                        "labels": {"team": "vision"},
                        "taints": [{"key": "dedicated", "value": "vision"}],
                    }
                ]
            )
        }
    )
    settings = parse_settings(config)
    assert settings.aws is not None
    assert settings.aws.node_pools[0].to_spec() == {
        "name": "gpu",
        "instance_type": "g5.xlarge",
        "min_nodes": 0,
        "max_nodes": 2,
        "spot": True,
        "disk_size_gb": 100,
        "taints": [{"key": "dedicated", "value": "vision", "effect": "NoSchedule"}],
        "labels": {"team": "vision"},
        "accelerator": {"type": "nvidia-a10g", "count": 1},
    }
    assert settings.aws.addons.to_spec() == dict.fromkeys(
        ("gpu_operator", "dcgm_exporter", "autoscaler", "kuberay", "opencost"), True
    )


def test_keys_of_other_namespaces_are_left_to_their_owners() -> None:
    settings = parse_settings(_with({"aws:region": "us-east-1", "gcp:project": "x"}))
    assert settings.aws is not None and settings.aws.region == "eu-west-1"


def test_every_settings_field_is_declared_in_pulumi_yaml_or_is_an_object_block() -> None:
    declared = {key.split(":", 1)[1] for key in load_project(REPO_ROOT).declarations}
    fields = {field.alias or name for name, field in StackSettings.model_fields.items()}
    assert fields - declared == {"aws", "azure", "gcp", "mlflowBackendStoreUris", "servingApiKeyHashes"}
    assert declared <= fields


def test_bad_config_fails_before_any_resource_is_registered() -> None:
    project = load_project(REPO_ROOT)
    config = load_stack_config(project, "dev", ["aws.nodePools[0].minNodes=5"])
    with pytest.raises(ProgramError) as caught:
        run_program(ProgramRun(entry=project.entry, project=project.name, stack="dev", config=config.values))
    assert isinstance(caught.value.cause, SettingsError)
    assert [r.type for r in caught.value.resources] == ["pulumi:pulumi:Stack"]


def _images(**changes: str) -> dict[str, str]:
    return {**AWS_IMAGES, **changes}


@pytest.mark.parametrize(
    "reference",
    [
        f"{ECR}/mlflow@{DIGEST}",
        f"mlflow@{DIGEST}",
        f"registry.example.com:5000/team/ml_flow.server@{DIGEST}",
    ],
)
def test_an_image_pinned_by_digest_is_accepted(reference: str) -> None:
    settings = parse_settings(_with({"mlops-hub:aws": _aws(images=_images(mlflow=reference))}))
    assert settings.aws is not None
    assert settings.aws.images.mlflow == reference
    assert split_pinned_image(reference) == (reference.removesuffix(f"@{DIGEST}"), DIGEST)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        pytest.param(
            "mlflow:3.1.0",
            'mlops-hub:aws.images.mlflow = "mlflow:3.1.0": a tag is not a pin (it can be moved to another '
            f"image); {PINNED_ONLY}",
            id="tag-only",
        ),
        pytest.param(
            f"{ECR}/mlflow:latest",
            f'mlops-hub:aws.images.mlflow = "{ECR}/mlflow:latest": a tag is not a pin (it can be moved to '
            f"another image); {PINNED_ONLY}",
            id="registry-and-tag",
        ),
        pytest.param(
            f"mlflow:3.1.0@{DIGEST}",
            f"mlops-hub:aws.images.mlflow = {json.dumps(f'mlflow:3.1.0@{DIGEST}')[:77]}...: not an image "
            f"reference pinned by digest; {PINNED_ONLY}",
            id="tag-and-digest",
        ),
        pytest.param(
            "mlflow@sha256:abc123",
            'mlops-hub:aws.images.mlflow = "mlflow@sha256:abc123": not an image reference pinned by digest; '
            f"{PINNED_ONLY}",
            id="short-digest",
        ),
        pytest.param(
            "mlflow",
            f'mlops-hub:aws.images.mlflow = "mlflow": not an image reference pinned by digest; {PINNED_ONLY}',
            id="bare-name",
        ),
    ],
)
def test_an_image_not_pinned_by_digest_is_one_line_saying_what_is_allowed(
    reference: str, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:aws": _aws(images=_images(mlflow=reference))}))
    assert str(caught.value) == message


def test_every_image_is_required() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:aws": _aws(images={"mlflow": AWS_IMAGES["mlflow"]})}))
    assert str(caught.value) == (
        "mlops-hub:aws.images.ragQuery is required but not set; "
        "mlops-hub:aws.images.ragIngest is required but not set; "
        "mlops-hub:aws.images.training is required but not set; "
        "mlops-hub:aws.images.serving is required but not set; "
        "mlops-hub:aws.images.monitoring is required but not set"
    )


@pytest.mark.parametrize("key", ["training", "serving", "monitoring"])
def test_the_workload_images_are_pinned_by_digest(key: str) -> None:
    settings = parse_settings(BASE)
    assert settings.aws is not None
    assert getattr(settings.aws.images, key) == AWS_IMAGES[key]
    tagged = f"{ECR}/{key}:latest"
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:aws": _aws(images=_images(**{key: tagged}))}))
    assert str(caught.value) == (
        f'mlops-hub:aws.images.{key} = "{tagged}": a tag is not a pin (it can be moved to another image); '
        f"{PINNED_ONLY}"
    )
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:aws": _aws(images=_images(**{key: f"{key}@sha256:abc"}))}))
    assert str(caught.value) == (
        f'mlops-hub:aws.images.{key} = "{key}@sha256:abc": not an image reference pinned by digest; {PINNED_ONLY}'
    )


def test_shipped_stacks_hold_placeholders_for_the_workload_images() -> None:
    settings = parse_settings(load_stack_config(load_project(REPO_ROOT), "prod").values)
    for cloud in settings.clouds:
        block = settings.cloud_block(cloud)
        assert block is not None
        assert {"training", "serving", "monitoring"} <= set(block.images.placeholders()), cloud


def test_workload_settings_default_and_are_checked() -> None:
    settings = parse_settings(BASE)
    assert settings.aws is not None
    assert (settings.aws.workloads.model_name, settings.aws.workloads.training_data) == (
        "fraud-detector",
        "train.parquet",
    )
    custom = parse_settings(_with({"mlops-hub:aws": _aws(workloads={"trainingData": "fraud.csv.gz"})}))
    assert custom.aws is not None and custom.aws.workloads.training_data == "fraud.csv.gz"
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:aws": _aws(workloads={"trainingData": "../etc/passwd"})}))
    assert str(caught.value).startswith(
        'mlops-hub:aws.workloads.trainingData = "../etc/passwd": String should'
    )
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:aws": _aws(workloads={"replicas": 3})}))
    assert str(caught.value) == (
        "mlops-hub:aws.workloads.replicas is not a known key; allowed: modelName, trainingData"
    )


def test_the_serving_api_key_hashes_are_required_per_cloud_and_never_shown() -> None:
    settings = parse_settings(BASE)
    assert settings.serving_api_key_lines(Cloud.AWS) == API_KEY_LINES
    assert API_KEY_LINES not in repr(settings) and API_KEY_LINES not in str(settings.model_dump())
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:servingApiKeyHashes": None}))
    assert str(caught.value) == (
        "mlops-hub:servingApiKeyHashes.aws is required because clouds includes aws; set the key_id:sha256 "
        "lines with `pulumi config set --secret --path 'mlops-hub:servingApiKeyHashes.aws' \"<lines>\"`"
    )
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:servingApiKeyHashes": json.dumps({"aws": "x", "gcp": "y"})}))
    assert (
        str(caught.value)
        == "mlops-hub:servingApiKeyHashes.gcp is set but clouds does not include gcp; remove it"
    )


def test_lambda_images_must_come_from_ecr_in_the_stack_region() -> None:
    elsewhere = f"123456789012.dkr.ecr.eu-central-1.amazonaws.com/dev-registry/rag-query@{DIGEST}"
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:aws": _aws(images=_images(ragQuery=elsewhere))}))
    assert str(caught.value) == (
        f"mlops-hub:aws.images.ragQuery = '{elsewhere}' is not in ECR of eu-west-1; Lambda runs images only "
        "from ECR in its own region: <account>.dkr.ecr.eu-west-1.amazonaws.com/<repository>@sha256:<64 hex>"
    )


def test_placeholder_digests_are_reported() -> None:
    placeholder = f"{ECR}/rag-query@{PLACEHOLDER_DIGEST}"
    settings = parse_settings(_with({"mlops-hub:aws": _aws(images=_images(ragQuery=placeholder))}))
    assert settings.aws is not None
    assert settings.aws.images.placeholders() == ["ragQuery"]


def test_the_mlflow_store_uris_are_required_per_cloud_and_never_shown() -> None:
    settings = parse_settings(BASE)
    assert settings.mlflow_backend_store_uri(Cloud.AWS) == STORE_URI
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:mlflowBackendStoreUris": None}))
    assert str(caught.value) == (
        "mlops-hub:mlflowBackendStoreUris.aws is required because clouds includes aws; set the database URL "
        "with `pulumi config set --secret --path 'mlops-hub:mlflowBackendStoreUris.aws' <url>`"
    )
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({"mlops-hub:mlflowBackendStoreUris": json.dumps({"aws": "x", "gcp": "y"})}))
    assert str(caught.value) == (
        "mlops-hub:mlflowBackendStoreUris.gcp is set but clouds does not include gcp; remove it"
    )


def _azure(**fields: object) -> dict[str, str]:
    block = {**AZURE_BLOCK, **fields}
    return {
        "mlops-hub:clouds": '["aws", "azure"]',
        "mlops-hub:azure": json.dumps(block),
        "mlops-hub:mlflowBackendStoreUris": json.dumps({"aws": STORE_URI, "azure": STORE_URI}),
        "mlops-hub:servingApiKeyHashes": json.dumps({"aws": API_KEY_LINES, "azure": API_KEY_LINES}),
    }


def test_azure_global_names_default_to_the_environment() -> None:
    settings = parse_settings(_with(_azure()))
    assert settings.azure is not None
    assert settings.azure.global_name_prefix("dev") == "mlhdev"
    assert settings.azure.global_name_prefix("qa-eu-west") == "mlhqaeuwes"
    named = parse_settings(_with(_azure(namePrefix="acme7")))
    assert named.azure is not None and named.azure.global_name_prefix("dev") == "acme7"


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        pytest.param(
            "10.40.194.0/24",
            "mlops-hub:azure.ragSubnetCidr = '10.40.194.0/24' is smaller than a /23, the least a consumption "
            "Container Apps environment needs",
            id="too-small",
        ),
        pytest.param(
            "10.41.0.0/23",
            "mlops-hub:azure.ragSubnetCidr = '10.41.0.0/23' lies outside addressSpace 10.40.0.0/16",
            id="outside",
        ),
        pytest.param(
            "10.40.192.0/23",
            "mlops-hub:azure.ragSubnetCidr = '10.40.192.0/23' overlaps the AKS subnet 10.40.192.0/28; pick a "
            "range clear of 10.40.0.0/17, 10.40.128.0/18, 10.40.192.0/28",
            id="overlaps-api-server",
        ),
    ],
)
def test_the_rag_subnet_must_fit_beside_the_aks_subnets(cidr: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with(_azure(ragSubnetCidr=cidr)))
    assert str(caught.value) == message


def test_gcp_rag_invokers_are_iam_members_never_public() -> None:
    images = {key: f"europe-west4-docker.pkg.dev/p/r/{path}@{DIGEST}" for key, path in IMAGE_PATHS.items()}
    block = {
        "project": "mlops-hub-dev",
        "region": "europe-west4",
        "images": images,
    }
    config = {
        "mlops-hub:clouds": '["aws", "gcp"]',
        "mlops-hub:mlflowBackendStoreUris": json.dumps({"aws": STORE_URI, "gcp": STORE_URI}),
        "mlops-hub:servingApiKeyHashes": json.dumps({"aws": API_KEY_LINES, "gcp": API_KEY_LINES}),
    }
    with pytest.raises(SettingsError) as caught:
        parse_settings(
            _with({**config, "mlops-hub:gcp": json.dumps({**block, "ragQueryInvokers": ["allUsers"]})})
        )
    assert str(caught.value).startswith('mlops-hub:gcp.ragQueryInvokers[0] = "allUsers": String should match')
    with pytest.raises(SettingsError) as caught:
        parse_settings(_with({**config, "mlops-hub:gcp": json.dumps(block)}))
    assert str(caught.value) == "mlops-hub:gcp.ragQueryInvokers is required but not set"


def test_the_gcp_shared_volume_size_defaults_to_the_filestore_minimum_and_is_bounded() -> None:
    images = {key: f"europe-west4-docker.pkg.dev/p/r/{path}@{DIGEST}" for key, path in IMAGE_PATHS.items()}
    block = {
        "project": "mlops-hub-dev",
        "region": "europe-west4",
        "images": images,
        "ragQueryInvokers": ["group:ml@example.com"],
    }
    config = {
        "mlops-hub:clouds": '["aws", "gcp"]',
        "mlops-hub:mlflowBackendStoreUris": json.dumps({"aws": STORE_URI, "gcp": STORE_URI}),
        "mlops-hub:servingApiKeyHashes": json.dumps({"aws": API_KEY_LINES, "gcp": API_KEY_LINES}),
    }

    def gcp(**fields: object) -> GcpSettings:
        settings = parse_settings(_with({**config, "mlops-hub:gcp": json.dumps({**block, **fields})}))
        assert settings.gcp is not None
        return settings.gcp

    assert gcp().data_volume_size_gib == FILESTORE_MIN_GIB == 1024
    assert gcp(dataVolumeSizeGib=2560).data_volume_size_gib == 2560
    assert gcp(dataVolumeSizeGib=FILESTORE_MAX_GIB).data_volume_size_gib == 65434
    for size, bound in ((100, "greater than or equal to 1024"), (65435, "less than or equal to 65434")):
        with pytest.raises(SettingsError) as caught:
            gcp(dataVolumeSizeGib=size)
        assert str(caught.value) == f"mlops-hub:gcp.dataVolumeSizeGib = {size}: Input should be {bound}"
