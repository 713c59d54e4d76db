"""checkov over offline plans: the type tables, the shape rules, attribution to URNs and the scan guards.

The plan under test comes from real SDK classes run through the offline engine (so its shapes are the
ones `hub preview` writes): for each framework a deliberately insecure resource, which must be flagged
with its intended check on its own URN, and a compliant counterpart, which must not be.
"""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pytest

from scripts.hub.gate import arm_types, checkov_bridge, tf_types
from scripts.hub.gate.checkov_bridge import CheckovError, CheckovFinding, convert_plan, scan_plan
from scripts.hub.offline.engine import ProgramRun, run_function
from scripts.hub.offline.plan import build_plan

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "checkov"
INSECURE_DOCKERFILE = FIXTURES / "insecure.Dockerfile"
SECURE_DOCKERFILE = FIXTURES / "secure.Dockerfile"

requires_checkov = pytest.mark.skipif(
    not checkov_bridge.checkov_environment().exists(),
    reason=f"checkov's environment {checkov_bridge.CHECKOV_ENV} is missing: run `make checkov-env` "
    "(`make setup` creates it)",
)

ROLE_ARN = "arn:aws:iam::123456789012:role/eks"
DIGEST = "sha256:" + "0" * 64


def _deployment_spec(container: dict[str, Any], pod: dict[str, Any] | None = None) -> Any:
    return {
        "selector": {"match_labels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {**(pod or {}), "containers": [container]},
        },
    }


def _program() -> None:
    """One insecure resource per framework and its compliant counterpart (names say which)."""
    key = aws.kms.Key("data-key", enable_key_rotation=True, deletion_window_in_days=30)

    aws.s3.Bucket("open-bucket")
    safe = aws.s3.Bucket("safe-bucket")
    aws.s3.BucketPublicAccessBlock(
        "safe-bucket-pab",
        bucket=safe.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        "safe-bucket-sse",
        bucket=safe.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key.arn,
                }
            }
        ],
    )

    aws.eks.Cluster(
        "public-eks",
        role_arn=ROLE_ARN,
        vpc_config={"subnet_ids": ["subnet-a", "subnet-b"], "endpoint_public_access": True},
        enabled_cluster_log_types=[],
    )
    aws.eks.Cluster(
        "private-eks",
        role_arn=ROLE_ARN,
        vpc_config={
            "subnet_ids": ["subnet-a", "subnet-b"],
            "endpoint_public_access": False,
            "endpoint_private_access": True,
        },
        enabled_cluster_log_types=["api", "audit", "authenticator", "controllerManager", "scheduler"],
        encryption_config={"provider": {"key_arn": key.arn}, "resources": ["secrets"]},
    )

    aws.cloudwatch.LogGroup("plain-logs", retention_in_days=1)
    aws.cloudwatch.LogGroup("encrypted-logs", retention_in_days=365, kms_key_id=key.arn)

    admin = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    aws.iam.Policy("admin-policy", policy=json.dumps(admin))
    aws.iam.Policy(
        "read-policy",
        policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::models/*"}
                ],
            }
        ),
    )

    def trust(principal: dict[str, str]) -> str:
        statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    aws.iam.Role("open-trust-role", assume_role_policy=trust({"AWS": "*"}))
    aws.iam.Role("service-role", assume_role_policy=trust({"Service": "eks.amazonaws.com"}))

    gpu: Any = {"type": "nvidia-l4", "count": 1}
    gcp.container.Cluster(
        "open-gke",
        location="europe-west4",
        initial_node_count=1,
        node_config={"machine_type": "g2-standard-8", "guest_accelerators": [gpu]},
    )
    gcp.container.Cluster(
        "private-gke",
        location="europe-west4",
        initial_node_count=1,
        private_cluster_config={
            "enable_private_nodes": True,
            "enable_private_endpoint": True,
            "master_ipv4_cidr_block": "172.16.0.0/28",
        },
        master_authorized_networks_config={
            "cidr_blocks": [{"cidr_block": "10.0.0.0/8", "display_name": "corp"}]
        },
        network_policy={"enabled": True},
        release_channel={"channel": "REGULAR"},
        node_config={
            "machine_type": "g2-standard-8",
            "guest_accelerators": [gpu],
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "workload_metadata_config": {"mode": "GKE_METADATA"},
        },
    )

    storage: dict[str, Any] = {
        "resource_group_name": "rg-ml",
        "kind": "StorageV2",
        "sku": {"name": "Standard_GRS"},
    }
    deny_by_default: Any = {"default_action": "Deny", "bypass": "AzureServices"}
    azure_native.storage.StorageAccount("httpstore", enable_https_traffic_only=False, **storage)
    azure_native.storage.StorageAccount(
        "tlsstore",
        enable_https_traffic_only=True,
        minimum_tls_version="TLS1_2",
        network_rule_set=deny_by_default,
        **storage,
    )

    namespace = k8s.core.v1.Namespace("workloads")  # autonamed: its name is unknown in a preview
    metadata: Any = {"namespace": namespace.metadata.name}
    k8s.apps.v1.Deployment(
        "root-web",
        metadata=metadata,
        spec=_deployment_spec({"name": "web", "image": "nginx:1.27", "security_context": {"run_as_user": 0}}),
    )
    probe = {"http_get": {"path": "/health", "port": 8080}}
    k8s.apps.v1.Deployment(
        "hardened-web",
        metadata=metadata,
        spec=_deployment_spec(
            {
                "name": "web",
                "image": f"registry.example.com/web@{DIGEST}",
                "image_pull_policy": "Always",
                "security_context": {
                    "allow_privilege_escalation": False,
                    "read_only_root_filesystem": True,
                    "run_as_non_root": True,
                    "run_as_user": 10001,
                    "capabilities": {"drop": ["ALL"]},
                },
                "liveness_probe": probe,
                "readiness_probe": probe,
                "resources": {
                    "limits": {"cpu": "1", "memory": "512Mi"},
                    "requests": {"cpu": "1", "memory": "512Mi"},
                },
            },
            pod={
                "automount_service_account_token": False,
                "security_context": {
                    "run_as_non_root": True,
                    "run_as_user": 10001,
                    "seccomp_profile": {"type": "RuntimeDefault"},
                },
            },
        ),
    )
    k8s.helm.v3.Release("gpu-operator", chart="gpu-operator", namespace=namespace.metadata.name)


@pytest.fixture(scope="module")
def plan() -> dict[str, Any]:
    """The plan document of _program, as `hub preview --out` writes it."""
    result = run_function(_program, ProgramRun(entry=REPO_ROOT, project="mlops-hub", stack="checkov"))
    return build_plan("mlops-hub", "checkov", {}, result)


def _urn(plan: dict[str, Any], name: str) -> str:
    found = [r["urn"] for r in plan["resources"] if r["name"] == name]
    assert len(found) == 1, f"expected one resource named {name}, found {found}"
    return str(found[0])


@pytest.fixture(scope="module")
def findings(plan: dict[str, Any]) -> list[CheckovFinding]:
    """One scan of the whole plan and both Dockerfiles (the worker keeps checkov imported for the rest)."""
    if not checkov_bridge.checkov_environment().exists():
        pytest.skip(f"checkov's environment {checkov_bridge.CHECKOV_ENV} is missing: run `make checkov-env`")
    return scan_plan(plan, dockerfiles=[INSECURE_DOCKERFILE, SECURE_DOCKERFILE])


def _checks_on(findings: list[CheckovFinding], urn: str) -> set[str]:
    return {f.check_id for f in findings if f.urn == urn}


INSECURE = [
    ("open-bucket", "aws:s3/bucket:Bucket", "terraform_plan", {"CKV2_AWS_6", "CKV_AWS_145"}),
    (
        "public-eks",
        "aws:eks/cluster:Cluster",
        "terraform_plan",
        {"CKV_AWS_37", "CKV_AWS_38", "CKV_AWS_39", "CKV_AWS_58"},
    ),
    ("plain-logs", "aws:cloudwatch/logGroup:LogGroup", "terraform_plan", {"CKV_AWS_158", "CKV_AWS_338"}),
    ("admin-policy", "aws:iam/policy:Policy", "terraform_plan", {"CKV_AWS_62", "CKV_AWS_63", "CKV_AWS_286"}),
    ("open-trust-role", "aws:iam/role:Role", "terraform_plan", {"CKV_AWS_60"}),
    (
        "open-gke",
        "gcp:container/cluster:Cluster",
        "terraform_plan",
        {"CKV_GCP_12", "CKV_GCP_20", "CKV_GCP_25", "CKV_GCP_68", "CKV_GCP_69", "CKV_GCP_70"},
    ),
    (
        "httpstore",
        "azure-native:storage:StorageAccount",
        "arm",
        {"CKV_AZURE_3", "CKV_AZURE_35", "CKV_AZURE_44"},
    ),
    ("root-web", "kubernetes:apps/v1:Deployment", "kubernetes", {"CKV_K8S_23", "CKV_K8S_40", "CKV_K8S_8"}),
]
SECURE = [
    ("safe-bucket", "open-bucket"),
    ("private-eks", "public-eks"),
    ("encrypted-logs", "plain-logs"),
    ("read-policy", "admin-policy"),
    ("service-role", "open-trust-role"),
    ("private-gke", "open-gke"),
    ("tlsstore", "httpstore"),
    ("hardened-web", "root-web"),
]


@requires_checkov
@pytest.mark.parametrize(
    ("name", "token", "framework", "expected"), INSECURE, ids=[row[0] for row in INSECURE]
)
def test_insecure_resource_is_flagged_on_its_urn(
    plan: dict[str, Any],
    findings: list[CheckovFinding],
    name: str,
    token: str,
    framework: str,
    expected: set[str],
) -> None:
    urn = _urn(plan, name)
    mine = [f for f in findings if f.urn == urn]
    assert expected <= {f.check_id for f in mine}
    assert {(f.resource_type, f.framework) for f in mine} == {(token, framework)}


@requires_checkov
@pytest.mark.parametrize(("name", "insecure"), SECURE, ids=[row[0] for row in SECURE])
def test_secure_counterpart_is_not_flagged_for_those_checks(
    plan: dict[str, Any], findings: list[CheckovFinding], name: str, insecure: str
) -> None:
    intended = next(expected for row_name, _, _, expected in INSECURE if row_name == insecure)
    assert _checks_on(findings, _urn(plan, name)) & intended == set()


@requires_checkov
def test_pod_template_findings_belong_to_the_deployment(
    plan: dict[str, Any], findings: list[CheckovFinding]
) -> None:
    # checkov scans the template as `Pod.<ns>.<deployment>.app-web`; CKV2_K8S_6 is reported on that Pod.
    assert "CKV2_K8S_6" in _checks_on(findings, _urn(plan, "root-web"))


@requires_checkov
def test_dockerfile_findings_name_the_dockerfile(findings: list[CheckovFinding]) -> None:
    assert {"CKV_DOCKER_2", "CKV_DOCKER_8"} <= _checks_on(findings, str(INSECURE_DOCKERFILE))
    assert (
        _checks_on(findings, str(SECURE_DOCKERFILE)) & {"CKV_DOCKER_2", "CKV_DOCKER_8", "CKV_DOCKER_7"}
        == set()
    )
    assert {f.resource_type for f in findings if f.framework == "dockerfile"} == {"Dockerfile"}


@requires_checkov
def test_every_finding_is_on_a_plan_resource_or_given_dockerfile(
    plan: dict[str, Any], findings: list[CheckovFinding]
) -> None:
    urns = {r["urn"] for r in plan["resources"]} | {str(INSECURE_DOCKERFILE), str(SECURE_DOCKERFILE)}
    assert findings and {f.urn for f in findings} <= urns
    assert all(f.severity is None for f in findings)  # offline: no platform key, no severities


@requires_checkov
def test_cli_and_worker_agree(
    plan: dict[str, Any], findings: list[CheckovFinding], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHECKOV_BRIDGE_MODE", "cli")
    assert scan_plan(plan, dockerfiles=[INSECURE_DOCKERFILE, SECURE_DOCKERFILE]) == findings


@requires_checkov
def test_skip_checks_leaves_them_out(plan: dict[str, Any]) -> None:
    found = scan_plan(plan, skip_checks=["CKV_AWS_37", "CKV_K8S_23"])
    assert {"CKV_AWS_37", "CKV_K8S_23"} & {f.check_id for f in found} == set()
    assert "CKV_AWS_38" in {f.check_id for f in found}


def _patched_conversion(
    monkeypatch: pytest.MonkeyPatch, plan: dict[str, Any], change: Callable[[checkov_bridge.Conversion], None]
) -> None:
    conversion = convert_plan(plan)
    change(conversion)
    monkeypatch.setattr(checkov_bridge, "convert_plan", lambda _: conversion)


@requires_checkov
def test_count_guard_fires_when_checkov_scans_fewer_resources(
    plan: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without terraform_version checkov silently scans nothing and exits 0.
    def drop_version(conversion: checkov_bridge.Conversion) -> None:
        assert conversion.terraform_plan is not None
        del conversion.terraform_plan["terraform_version"]

    _patched_conversion(monkeypatch, plan, drop_version)
    expected = convert_plan(plan).expected_counts["terraform_plan"]
    with pytest.raises(
        CheckovError, match=rf"scanned 0 terraform_plan resource\(s\) where {expected} were converted"
    ):
        scan_plan(plan)


@requires_checkov
def test_crash_guard_fires_when_a_check_fails_to_run(
    plan: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty list makes CKV_AWS_37 crash; checkov logs it and leaves the check out of the report.
    def empty_log_types(conversion: checkov_bridge.Conversion) -> None:
        assert conversion.terraform_plan is not None
        for resource in conversion.terraform_plan["planned_values"]["root_module"]["resources"]:
            if resource["type"] == "aws_eks_cluster":
                resource["values"]["enabled_cluster_log_types"] = []

    _patched_conversion(monkeypatch, plan, empty_log_types)
    with pytest.raises(CheckovError, match="Failed to run check CKV_AWS_37"):
        scan_plan(plan)


def test_missing_environment_names_the_make_target(plan: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckovError, match="make checkov-env"):
        scan_plan(plan, checkov_python=tmp_path / "no-venv" / "bin" / "python")


# --- conversion (no checkov needed) ------------------------------------------------------------------


def _tf_resource(conversion: checkov_bridge.Conversion, address: str) -> dict[str, Any]:
    assert conversion.terraform_plan is not None
    resources = conversion.terraform_plan["planned_values"]["root_module"]["resources"]
    return next(r for r in resources if r["address"] == address)


def _tf_section(conversion: checkov_bridge.Conversion, section: str, address: str) -> dict[str, Any]:
    assert conversion.terraform_plan is not None
    container = conversion.terraform_plan[section]
    resources = container if isinstance(container, list) else container["root_module"]["resources"]
    return next(r for r in resources if r["address"] == address)


def test_terraform_plan_has_what_checkov_requires(plan: dict[str, Any]) -> None:
    conversion = convert_plan(plan)
    assert conversion.terraform_plan is not None
    assert conversion.terraform_plan["terraform_version"]
    tf_count = sum(1 for r in plan["resources"] if r["type"].startswith(("aws:", "gcp:")))
    assert conversion.expected_counts["terraform_plan"] == tf_count
    assert len(conversion.terraform_plan["planned_values"]["root_module"]["resources"]) == tf_count


def test_nested_objects_become_blocks_and_list_blocks_get_both_names(plan: dict[str, Any]) -> None:
    conversion = convert_plan(plan)
    eks = _tf_resource(conversion, "aws_eks_cluster.public-eks")["values"]
    assert eks["vpc_config"] == [{"subnet_ids": ["subnet-a", "subnet-b"], "endpoint_public_access": True}]
    assert "enabled_cluster_log_types" not in eks  # empty list dropped
    gke = _tf_resource(conversion, "google_container_cluster.open-gke")["values"]
    node_config = gke["node_config"][0]
    assert (
        node_config["guest_accelerators"]
        == node_config["guest_accelerator"]
        == [{"type": "nvidia-l4", "count": 1}]
    )


def test_unknown_values_move_to_after_unknown_and_references(plan: dict[str, Any]) -> None:
    conversion = convert_plan(plan)
    address = "aws_cloudwatch_log_group.encrypted-logs"
    assert "kms_key_id" not in _tf_resource(conversion, address)["values"]
    change = _tf_section(conversion, "resource_changes", address)["change"]
    assert change["after_unknown"] == {"kms_key_id": True}
    expressions = _tf_section(conversion, "configuration", address)["expressions"]
    assert expressions["kms_key_id"]["references"] == ["aws_kms_key.data-key.id", "aws_kms_key.data-key"]
    eks_unknown = _tf_section(conversion, "resource_changes", "aws_eks_cluster.private-eks")["change"][
        "after_unknown"
    ]
    assert eks_unknown == {"encryption_config": [{"provider": [{"key_arn": True}]}]}


def test_shape_rules_on_a_hand_written_plan() -> None:
    plan = {
        "resources": [
            {
                "urn": "urn:pulumi:s::p::aws:cloudwatch/logGroup:LogGroup::lg",
                "type": "aws:cloudwatch/logGroup:LogGroup",
                "name": "lg",
                "custom": True,
                "propertyDependencies": {},
                "inputs": {
                    "retentionInDays": 7.0,
                    "policy": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
                    "tags": {"Name": "lg", "team": "[unknown]"},
                    "emptyBlock": {},
                    "subnetIds": ["subnet-1", "[unknown]"],
                },
            }
        ]
    }
    conversion = convert_plan(plan)
    values = _tf_resource(conversion, "aws_cloudwatch_log_group.lg")["values"]
    # Policy documents must be JSON strings: given as objects, all 9 IAM checks passed.
    admin = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    assert values == {
        "retention_in_days": 7,
        "policy": admin,
        "tags": {"Name": "lg"},
        "subnet_ids": ["subnet-1"],
    }
    assert isinstance(values["retention_in_days"], int)
    after_unknown = _tf_section(conversion, "resource_changes", "aws_cloudwatch_log_group.lg")["change"][
        "after_unknown"
    ]
    assert after_unknown == {"tags": {"team": True}, "subnet_ids": [True]}


def test_arm_template_nests_properties_and_renames(plan: dict[str, Any]) -> None:
    template = convert_plan(plan).arm_template
    assert template is not None
    assert (
        template["$schema"].endswith("deploymentTemplate.json#") and template["contentVersion"] == "1.0.0.0"
    )
    account = next(r for r in template["resources"] if r["name"] == "tlsstore")
    assert account["type"] == "Microsoft.Storage/storageAccounts" and account["apiVersion"]
    assert account["kind"] == "StorageV2" and account["sku"] == {"name": "Standard_GRS"}
    assert account["properties"] == {
        "supportsHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
    }


def test_kubernetes_objects_get_names_and_helm_releases_are_skipped(plan: dict[str, Any]) -> None:
    conversion = convert_plan(plan)
    deployment = next(d for d in conversion.kubernetes["kubernetes"] if d["metadata"]["name"] == "root-web")
    assert deployment["metadata"]["namespace"] == "workloads"  # from the autonamed Namespace it depends on
    owners = {resource_id for unit, resource_id in conversion.owners if unit == "kubernetes"}
    assert {
        "Deployment.workloads.root-web",
        "Pod.workloads.root-web.app-web",
        "Namespace.default.workloads",
    } <= owners
    assert conversion.expected_counts["kubernetes"] == 5  # namespace, 2 deployments, their 2 pods
    assert [urn.rsplit("::", 1)[-1] for urn, _ in conversion.skipped] == ["gpu-operator"]


def test_each_cluster_is_its_own_kubernetes_scan() -> None:
    def namespace(cluster: str) -> dict[str, Any]:
        provider = f"urn:pulumi:s::p::pulumi:providers:kubernetes::{cluster}"
        return {
            "urn": f"urn:pulumi:s::p::kubernetes:core/v1:Namespace::{cluster}-apps",
            "type": "kubernetes:core/v1:Namespace",
            "name": f"{cluster}-apps",
            "custom": True,
            "provider": provider,
            "inputs": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}},
        }

    providers = [
        {
            "urn": f"urn:pulumi:s::p::pulumi:providers:kubernetes::{c}",
            "type": "pulumi:providers:kubernetes",
            "name": c,
        }
        for c in ("eks", "gke")
    ]
    conversion = convert_plan({"resources": [*providers, namespace("eks"), namespace("gke")]})
    assert conversion.expected_counts == {"kubernetes@eks": 1, "kubernetes@gke": 1}
    assert ("kubernetes@gke", "Namespace.default.apps") in conversion.owners  # not renamed: another scan
    assert checkov_bridge._batches(
        {"terraform_plan": ["t"], "kubernetes@eks": ["a"], "kubernetes@gke": ["b"]}
    ) == [
        {"terraform_plan": ["t"], "kubernetes@eks": ["a"]},
        {"kubernetes@gke": ["b"]},
    ]


def test_duplicate_names_stay_apart() -> None:
    def bucket(parent: str) -> dict[str, Any]:
        return {
            "urn": f"urn:pulumi:s::p::mlopshub:index:{parent}$aws:s3/bucket:Bucket::data",
            "type": "aws:s3/bucket:Bucket",
            "name": "data",
            "custom": True,
            "inputs": {},
        }

    conversion = convert_plan({"resources": [bucket("A"), bucket("B")]})
    addresses = sorted(resource_id for _, resource_id in conversion.owners)
    assert addresses == ["aws_s3_bucket.data", "aws_s3_bucket.data_2"]


# --- type tables ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("aws:eks/cluster:Cluster", "aws_eks_cluster"),
        ("aws:eks/nodeGroup:NodeGroup", "aws_eks_node_group"),
        ("aws:s3/bucket:Bucket", "aws_s3_bucket"),
        ("aws:s3/bucketV2:BucketV2", "aws_s3_bucket"),
        ("aws:ec2/instance:Instance", "aws_instance"),
        ("aws:ec2/flowLog:FlowLog", "aws_flow_log"),
        ("aws:ec2transitgateway/transitGateway:TransitGateway", "aws_ec2_transit_gateway"),
        ("aws:rds/instance:Instance", "aws_db_instance"),
        ("aws:lb/loadBalancer:LoadBalancer", "aws_lb"),
        ("aws:cfg/rule:Rule", "aws_config_rule"),
        ("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws_iam_openid_connect_provider"),
        ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws_vpc_security_group_ingress_rule"),
        ("gcp:container/nodePool:NodePool", "google_container_node_pool"),
        ("gcp:projects/iAMMember:IAMMember", "google_project_iam_member"),
        ("gcp:serviceaccount/account:Account", "google_service_account"),
        ("gcp:organizations/project:Project", "google_project"),
        ("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", "google_kms_crypto_key_iam_member"),
        ("gcp:artifactregistry/repository:Repository", "google_artifact_registry_repository"),
    ],
)
def test_terraform_types(token: str, expected: str) -> None:
    assert tf_types.TF_TYPES[token] == expected


def test_terraform_type_of_a_token_newer_than_the_table() -> None:
    assert tf_types.terraform_type("aws:eks/futureThing:FutureThing") == "aws_eks_future_thing"
    assert tf_types.terraform_type("kubernetes:core/v1:Pod") is None


@requires_checkov
def test_terraform_table_is_fresh_and_reaches_checkovs_types() -> None:
    python = checkov_bridge.checkov_environment()
    tokens = [token for package in ("aws", "gcp") for token in tf_types.sdk_tokens(package)]
    assert tf_types.generate(tokens, tf_types.checkov_catalog(python)) == tf_types.TF_TYPES
    reached = set(tf_types.TF_TYPES.values())
    missing = {name for name in tf_types.checkov_checked_types(python) if name not in reached}
    # Types the providers dropped (no Pulumi token exists for them any more).
    assert missing <= {
        "aws_db_security_group",
        "aws_elasticache_security_group",
        "aws_redshift_security_group",
        "google_notebooks_instance",
        "google_notebooks_runtime",
        "google_project_services",
    }


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("azure-native:containerservice:ManagedCluster", "Microsoft.ContainerService/managedClusters"),
        ("azure-native:containerservice:AgentPool", "Microsoft.ContainerService/managedClusters/agentPools"),
        ("azure-native:storage:StorageAccount", "Microsoft.Storage/storageAccounts"),
        ("azure-native:storage:BlobContainer", "Microsoft.Storage/storageAccounts/blobServices/containers"),
        ("azure-native:keyvault:Vault", "Microsoft.KeyVault/vaults"),
        ("azure-native:network:NetworkSecurityGroup", "Microsoft.Network/networkSecurityGroups"),
        ("azure-native:network:PublicIPAddress", "Microsoft.Network/publicIPAddresses"),
        ("azure-native:cosmosdb:DatabaseAccount", "Microsoft.DocumentDB/databaseAccounts"),
        (
            "azure-native:managedidentity:UserAssignedIdentity",
            "Microsoft.ManagedIdentity/userAssignedIdentities",
        ),
    ],
)
def test_arm_types(token: str, expected: str) -> None:
    found = arm_types.arm_type(token)
    assert found is not None and found.type == expected
    assert len(found.api_version) >= len("2024-01-01")


def test_arm_table_is_fresh() -> None:
    assert arm_types.generate() == arm_types.ARM_TABLE


@pytest.fixture(autouse=True, scope="module")
def _no_bridge_mode_leak() -> Iterator[None]:
    saved = os.environ.pop("CHECKOV_BRIDGE_MODE", None)
    yield
    if saved is not None:
        os.environ["CHECKOV_BRIDGE_MODE"] = saved


def test_arm_resources_are_named_by_their_azure_name_not_the_logical_name() -> None:
    resource = {
        "urn": "urn:pulumi:dev::p::azure-native:storage:StorageAccount::models-artifacts",
        "type": "azure-native:storage:StorageAccount",
        "name": "models-artifacts",
        "custom": True,
        "parent": None,
        "dependencies": [],
        "propertyDependencies": {},
        "provider": None,
        "inputs": {"accountName": "modelsartifacts", "resourceGroupName": "rg", "kind": "StorageV2"},
        "options": {},
    }
    conversion = convert_plan({"project": "p", "stack": "dev", "resources": [resource]})
    assert conversion.arm_template is not None
    assert [r["name"] for r in conversion.arm_template["resources"]] == ["modelsartifacts"]
