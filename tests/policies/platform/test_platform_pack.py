"""The platform policies as a set: metadata, the per-stack config files, and one run over the wire."""

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from mlops_policies import (
    aks_api_private,
    aks_local_accounts_disabled,
    aks_secrets_encrypted,
    azure_local_auth_disabled,
    azure_managed_identities,
    azure_no_owner_like_custom_roles,
    azure_storage_secure_transport,
    cost_attribution_tags_present,
    gcp_no_basic_roles,
    gcp_no_default_service_accounts,
    gcs_buckets_private,
    gke_nodes_shielded,
    gke_private_cluster,
    gke_secrets_encrypted,
    gke_workload_identity_enabled,
    gpu_pools_scale_to_zero_outside_prod,
    inference_endpoints_authenticated,
    k8s_capabilities_dropped,
    k8s_gpu_pods_tolerate_gpu_taint,
    k8s_gpu_requests_equal_limits,
    k8s_images_from_allowed_registries_pinned,
    k8s_no_privileged_or_host_namespaces,
    k8s_pods_run_as_non_root,
    k8s_read_only_root_filesystem,
    k8s_resource_limits_set,
    resources_in_allowed_regions,
)
from scripts.hub.gate.pack_client import analyze_with_pack
from stacks.residency import Cloud, Residency, allowed_regions

REPO_ROOT = Path(__file__).resolve().parents[3]
MODULES = [
    gcp_no_basic_roles,
    gcp_no_default_service_accounts,
    gke_workload_identity_enabled,
    gke_private_cluster,
    gke_secrets_encrypted,
    gke_nodes_shielded,
    gcs_buckets_private,
    aks_local_accounts_disabled,
    aks_api_private,
    aks_secrets_encrypted,
    azure_local_auth_disabled,
    azure_managed_identities,
    azure_no_owner_like_custom_roles,
    azure_storage_secure_transport,
    k8s_pods_run_as_non_root,
    k8s_no_privileged_or_host_namespaces,
    k8s_read_only_root_filesystem,
    k8s_capabilities_dropped,
    k8s_resource_limits_set,
    k8s_gpu_requests_equal_limits,
    k8s_gpu_pods_tolerate_gpu_taint,
    k8s_images_from_allowed_registries_pinned,
    resources_in_allowed_regions,
    cost_attribution_tags_present,
    gpu_pools_scale_to_zero_outside_prod,
    inference_endpoints_authenticated,
]
POLICIES: dict[str, ResourceValidationPolicy] = {m.POLICY.name: m.POLICY for m in MODULES}
CONFIG_FILES = sorted((REPO_ROOT / "policies" / "config").glob("*.json"))
_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_policy_is_fully_described(module: Any) -> None:
    policy = module.POLICY
    assert _KEBAB.match(policy.name) and policy.name.replace("-", "_") == module.__name__.rsplit(".", 1)[-1]
    assert policy.description and policy.remediation_steps and policy.severity is not None
    assert policy.enforcement_level in {EnforcementLevel.MANDATORY, EnforcementLevel.ADVISORY}
    assert policy.tags and all(":" in tag for tag in policy.tags)


def test_only_the_gpu_toleration_policy_is_advisory() -> None:
    advisory = [name for name, p in POLICIES.items() if p.enforcement_level == EnforcementLevel.ADVISORY]
    assert advisory == ["k8s-gpu-pods-tolerate-gpu-taint"]


def test_there_are_26_distinct_policies() -> None:
    assert len(POLICIES) == len(MODULES) == 26


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_config_files_set_only_properties_the_schemas_declare(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    for name, properties in document.items():
        policy = POLICIES[name]
        declared = set(policy.config_schema.properties) if policy.config_schema else set()
        assert set(properties) - {"enforcementLevel"} <= declared, name


def test_config_files_exist_for_the_shipped_stacks() -> None:
    shipped = sorted(p.stem.removeprefix("Pulumi.") for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml"))
    assert [p.stem for p in CONFIG_FILES] == shipped


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_config_files_copy_the_eu_residency_zone(path: Path) -> None:
    # Every shipped stack is `residency: eu`; the pack may not import stacks/, so the lists are copied.
    regions = json.loads(path.read_text(encoding="utf-8"))["resources-in-allowed-regions"]["allowedRegions"]
    assert {cloud: set(values) for cloud, values in regions.items()} == {
        cloud.value: set(allowed_regions(Residency.EU, cloud) or ()) for cloud in Cloud
    }


def _resource(
    urn_type: str, name: str, inputs: dict[str, Any], provider: str | None = None
) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:dev::mlops-hub::{urn_type}::{name}",
        "type": urn_type,
        "name": name,
        "parent": None,
        "custom": True,
        "dependencies": [],
        "propertyDependencies": {},
        "provider": provider,
        "inputs": inputs,
        "options": {},
    }


def test_the_platform_policies_over_the_wire(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    imports = ", ".join(m.__name__.rsplit(".", 1)[-1] for m in MODULES)
    (pack / "__main__.py").write_text(
        "from pulumi_policy import EnforcementLevel, PolicyPack\n"
        f"from mlops_policies import {imports}\n"
        "PolicyPack(name='platform', enforcement_level=EnforcementLevel.MANDATORY, policies=["
        + ", ".join(f"{m.__name__.rsplit('.', 1)[-1]}.POLICY" for m in MODULES)
        + "])\n"
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(REPO_ROOT / "policies"), os.environ.get("PYTHONPATH", "")])
    )
    provider = _resource(
        "pulumi:providers:aws",
        "aws-us",
        {
            "region": "us-east-1",
            "defaultTags": json.dumps({"tags": {"environment": "dev", "team": "t", "cost-center": "c"}}),
        },
    )
    privileged = {
        "name": "agent",
        "image": "nvcr.io/nvidia/k8s/dcgm-exporter:4.1.1",
        "securityContext": {"privileged": True},
    }

    def deployment(namespace: str) -> dict[str, Any]:
        return {
            "metadata": {"namespace": namespace},
            "spec": {"template": {"spec": {"containers": [privileged]}}},
        }

    plan = {
        "project": "mlops-hub",
        "stack": "dev",
        "resources": [
            provider,
            _resource("aws:ec2/vpc:Vpc", "vpc", {"cidrBlock": "10.0.0.0/16"}, provider["urn"]),
            _resource("kubernetes:apps/v1:Deployment", "ml", deployment("ml")),
            _resource("kubernetes:apps/v1:Deployment", "gpu", deployment("gpu-operator")),
            _resource(
                "gcp:container/cluster:Cluster",
                "gke",
                {"databaseEncryption": {"state": "ENCRYPTED", "keyName": "[unknown]"}},
            ),
        ],
    }
    config = json.loads((REPO_ROOT / "policies" / "config" / "dev.json").read_text(encoding="utf-8"))
    result = analyze_with_pack(pack, plan, config={}, policy_config=config)

    assert set(result.policies) == set(POLICIES)
    found = {(d.policy, d.urn.rsplit("::", 1)[-1], d.enforcement) for d in result.diagnostics}
    assert ("resources-in-allowed-regions", "vpc", "mandatory") in found
    assert ("k8s-no-privileged-or-host-namespaces", "ml", "mandatory") in found
    assert ("k8s-images-from-allowed-registries-pinned", "ml", "mandatory") not in found
    assert not {f for f in found if f[1] == "gpu"}
    assert ("gke-secrets-encrypted", "gke", "advisory") in found
    message = next(d.message for d in result.diagnostics if d.policy == "resources-in-allowed-regions")
    assert message.endswith(
        "its provider (region) deploys to `us-east-1`, outside the allowed aws regions (allowedRegions.aws)"
    )
