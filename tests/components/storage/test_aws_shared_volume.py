"""Behaviour of AwsSharedVolume: its rendered documents, and what it registers under the offline engine's mocks.

The IAM, KMS and file system policies are compared with golden files in `golden/`. After an intended change
to one, rewrite them and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/components/storage/test_aws_shared_volume.py -k golden
"""

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components.identity.aws_workload_identity import check_policy_document, irsa_trust_policy
from components.storage.aws_shared_volume import (
    EFS_CSI_ADDON,
    TYPE_TOKEN,
    AwsSharedVolume,
    AwsSharedVolumeArgs,
    addon_configuration,
    csi_controller_policy,
    file_system_key_policy,
    file_system_policy,
    storage_class_parameters,
)
from mlops_policies.iam_no_privilege_escalation import escalation_findings
from mlops_policies.iam_no_unconstrained_sensitive_actions import sensitive_findings
from mlops_policies.iam_no_wildcard_actions import wildcard_findings
from mlops_policies.iam_oidc_trust_pinned import unpinned_findings
from mlops_policies.iam_resources_scoped import unscoped_findings
from scripts.hub.offline.engine import ProgramError, RecordedResource, RunResult

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

NAME = "data"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
FILE_SYSTEM_ID = "fs-0example"
FILE_SYSTEM_ARN = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{FILE_SYSTEM_ID}"
VPC_ID = "vpc-0example"
SUBNETS = ["subnet-0a", "subnet-0b", "subnet-0c"]
NODE_SG = "sg-0nodes"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/EXAMPLE"
ISSUER = f"https://oidc.eks.{REGION}.amazonaws.com/id/EXAMPLE"
UID = 10001

FILE_SYSTEM = "aws:efs/fileSystem:FileSystem"
MOUNT_TARGET = "aws:efs/mountTarget:MountTarget"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ADDON = "aws:eks/addon:Addon"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"


class Recorder(Protocol):
    """What these tests use of the shared `pulumi_run` fixture (tests/conftest.py is not importable)."""

    @property
    def resources(self) -> list[RecordedResource]: ...
    def run(self, body: Callable[[], None]) -> RunResult: ...
    def of_type(self, type_token: str) -> list[RecordedResource]: ...
    def one(self, type_token: str) -> RecordedResource: ...
    def named(self, name: str) -> RecordedResource: ...
    def children_of(self, parent: RecordedResource) -> list[RecordedResource]: ...
    def tags_of(self, resource: RecordedResource) -> dict[str, Any] | None: ...


def volume_program(*names: str, **overrides: Any) -> Callable[[], None]:
    """A program body: an AWS provider with default tags, a Kubernetes provider, one volume per name."""

    def body() -> None:
        provider = aws.Provider(
            "p", region=REGION, default_tags=aws.ProviderDefaultTagsArgs(tags={"team": "t"})
        )
        kubernetes = k8s.Provider("k", kubeconfig="{}")
        for name in names or (NAME,):
            args = cast(
                AwsSharedVolumeArgs,
                {
                    "vpc_id": VPC_ID,
                    "subnet_ids": SUBNETS,
                    "client_security_group_id": NODE_SG,
                    "cluster_name": "gpu",
                    "oidc_provider_arn": OIDC_ARN,
                    "oidc_issuer_url": ISSUER,
                    "posix_id": UID,
                    "tags": {"extra": "x"},
                    **overrides,
                },
            )
            AwsSharedVolume(name, args, opts=pulumi.ResourceOptions(providers=[provider, kubernetes]))

    return body


@pytest.fixture(scope="module")
def default_runs() -> dict[str, RunResult]:
    return {}


@pytest.fixture
def volume(pulumi_run: Recorder, default_runs: dict[str, RunResult]) -> Recorder:
    """A recorded run of the default volume; later tests read the same recording."""
    if "default" in default_runs:
        cast(Any, pulumi_run).last = default_runs["default"]
    else:
        default_runs["default"] = pulumi_run.run(volume_program())
    return pulumi_run


def depends_on(resource: RecordedResource, prop: str) -> list[str]:
    return sorted(urn.rsplit("::", 1)[-1] for urn in resource.property_dependencies.get(prop, []))


def dependency_names(resource: RecordedResource) -> set[str]:
    return {urn.rsplit("::", 1)[-1] for urn in resource.dependencies}


def assert_matches_golden(name: str, document: str) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    rendered = json.loads(document)
    if UPDATE_GOLDEN:
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(json.dumps(rendered, indent=2) + "\n")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    assert rendered == json.loads(path.read_text())


def controller_policy() -> str:
    return csi_controller_policy("aws", REGION, ACCOUNT, FILE_SYSTEM_ID)


@pytest.mark.parametrize(
    ("golden", "document"),
    [
        ("efs_csi_controller_policy", controller_policy),
        ("efs_key_policy", lambda: file_system_key_policy(ACCOUNT, "aws")),
        ("efs_file_system_policy", lambda: file_system_policy(FILE_SYSTEM_ARN)),
    ],
)
def test_rendered_document_matches_golden(golden: str, document: Callable[[], str]) -> None:
    assert_matches_golden(golden, document())


def test_controller_policy_passes_the_identity_checks_and_the_policy_pack() -> None:
    document = controller_policy()
    check_policy_document("AwsSharedVolume test", "efs-csi", document)
    parsed = json.loads(document)
    assert unscoped_findings(parsed) == []
    assert wildcard_findings(parsed) == []
    assert escalation_findings(parsed) == []
    assert sensitive_findings(parsed) == []


def test_controller_may_create_access_points_on_this_file_system_only() -> None:
    statements = {s["Sid"]: s for s in json.loads(controller_policy())["Statement"]}
    assert statements["CreateAccessPoints"]["Resource"] == FILE_SYSTEM_ARN
    assert statements["DescribeThisFileSystem"]["Resource"] == [
        FILE_SYSTEM_ARN,
        f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/*",
    ]
    # Deleting and tagging need the driver's tag; nothing else on the account's file systems is allowed.
    delete = statements["DeleteDriverAccessPoints"]
    assert delete["Condition"] == {"Null": {"aws:ResourceTag/efs.csi.aws.com/cluster": "false"}}
    every_action = {
        a
        for s in statements.values()
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert every_action == {
        "elasticfilesystem:DescribeAccessPoints",
        "elasticfilesystem:DescribeFileSystems",
        "elasticfilesystem:DescribeMountTargets",
        "ec2:DescribeAvailabilityZones",
        "elasticfilesystem:CreateAccessPoint",
        "elasticfilesystem:TagResource",
        "elasticfilesystem:DeleteAccessPoint",
    }


def test_trust_is_pinned_to_the_controller_service_account() -> None:
    trust = json.loads(
        irsa_trust_policy(OIDC_ARN, ISSUER.removeprefix("https://"), "kube-system", "efs-csi-controller-sa")
    )
    assert unpinned_findings(trust) == []


def test_file_system_policy_refuses_plain_nfs_and_root() -> None:
    deny, allow = json.loads(file_system_policy(FILE_SYSTEM_ARN))["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Action"] == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    assert allow["Condition"] == {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}


def test_storage_class_parameters_pin_owner_and_mode() -> None:
    assert storage_class_parameters(FILE_SYSTEM_ID, UID) == {
        "provisioningMode": "efs-ap",
        "fileSystemId": FILE_SYSTEM_ID,
        "directoryPerms": "700",
        "uid": "10001",
        "gid": "10001",
        "basePath": "/dynamic",
    }


def test_resource_counts(volume: Recorder) -> None:
    (component,) = volume.of_type(TYPE_TOKEN)
    children = volume.children_of(component)
    assert Counter(r.type for r in children) == {
        "aws:kms/key:Key": 1,
        FILE_SYSTEM: 1,
        "aws:efs/backupPolicy:BackupPolicy": 1,
        "aws:efs/fileSystemPolicy:FileSystemPolicy": 1,
        SECURITY_GROUP: 1,
        INGRESS_RULE: 1,
        MOUNT_TARGET: len(SUBNETS),
        "aws:iam/role:Role": 1,
        "aws:iam/rolePolicy:RolePolicy": 1,
        ADDON: 1,
        STORAGE_CLASS: 1,
    }
    assert all(r.name.startswith(f"{NAME}-") for r in children)


def test_file_system_is_encrypted_with_its_own_rotating_key(volume: Recorder) -> None:
    key = volume.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    file_system = volume.one(FILE_SYSTEM)
    assert file_system.inputs["encrypted"] is True
    assert depends_on(file_system, "kmsKeyId") == [f"{NAME}-key"]
    assert file_system.inputs["throughputMode"] == "elastic"
    assert file_system.inputs["lifecyclePolicies"] == [
        {"transitionToIa": "AFTER_30_DAYS"},
        {"transitionToPrimaryStorageClass": "AFTER_1_ACCESS"},
    ]
    backup = volume.one("aws:efs/backupPolicy:BackupPolicy")
    assert backup.inputs["backupPolicy"] == {"status": "ENABLED"}
    policy = volume.one("aws:efs/fileSystemPolicy:FileSystemPolicy")
    assert depends_on(policy, "policy") == [f"{NAME}-fs"]


def test_nfs_is_open_only_to_the_node_security_group(volume: Recorder) -> None:
    group = volume.one(SECURITY_GROUP)
    assert group.inputs["vpcId"] == VPC_ID
    assert group.inputs.get("ingress", []) == [] and group.inputs.get("egress", []) == []
    (rule,) = volume.of_type(INGRESS_RULE)
    assert {k: rule.inputs[k] for k in ("referencedSecurityGroupId", "ipProtocol", "fromPort", "toPort")} == {
        "referencedSecurityGroupId": NODE_SG,
        "ipProtocol": "tcp",
        "fromPort": 2049,
        "toPort": 2049,
    }
    assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs
    assert depends_on(rule, "securityGroupId") == [f"{NAME}-sg"]


def test_one_mount_target_per_private_subnet_behind_the_group(volume: Recorder) -> None:
    targets = sorted(volume.of_type(MOUNT_TARGET), key=lambda r: r.name)
    assert [t.inputs["subnetId"] for t in targets] == SUBNETS
    for target in targets:
        assert depends_on(target, "securityGroups") == [f"{NAME}-sg"]
        assert depends_on(target, "fileSystemId") == [f"{NAME}-fs"]


def test_csi_addon_is_pinned_and_runs_as_its_irsa_role(volume: Recorder) -> None:
    addon = volume.one(ADDON)
    assert addon.inputs["addonName"] == "aws-efs-csi-driver"
    assert addon.inputs["addonVersion"] == EFS_CSI_ADDON["version"]
    assert addon.inputs["clusterName"] == "gpu"
    assert json.loads(addon.inputs["configurationValues"]) == json.loads(addon_configuration())
    assert depends_on(addon, "serviceAccountRoleArn") == [f"{NAME}-csi-role"]
    assert {f"{NAME}-csi-policy", f"{NAME}-nfs-from-nodes", *(f"{NAME}-mount-{i}" for i in range(3))} <= (
        dependency_names(addon)
    )
    role = volume.named(f"{NAME}-csi-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Condition"]["StringEquals"] == {
        f"{ISSUER.removeprefix('https://')}:sub": "system:serviceaccount:kube-system:efs-csi-controller-sa",
        f"{ISSUER.removeprefix('https://')}:aud": "sts.amazonaws.com",
    }
    # Inline only: no managed policy is attached to the controller's role.
    assert volume.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []


def test_storage_class_waits_for_the_driver(volume: Recorder) -> None:
    storage_class = volume.one(STORAGE_CLASS)
    assert storage_class.inputs["metadata"]["name"] == "efs-ap"
    assert storage_class.inputs["provisioner"] == "efs.csi.aws.com"
    assert storage_class.inputs["reclaimPolicy"] == "Delete"
    assert storage_class.inputs["volumeBindingMode"] == "Immediate"
    assert depends_on(storage_class, "parameters") == [f"{NAME}-fs"]
    assert f"{NAME}-csi-driver" in dependency_names(storage_class)
    provider = next(r for r in volume.resources if r.type == "pulumi:providers:kubernetes")
    assert storage_class.provider == provider.urn


def test_every_taggable_child_carries_caller_provider_and_name_tags(volume: Recorder) -> None:
    (component,) = volume.of_type(TYPE_TOKEN)
    for child in volume.children_of(component):
        tags = volume.tags_of(child)
        if tags is None or child.type.startswith("kubernetes:"):
            continue
        assert tags.get("extra") == "x" and tags.get("team") == "t", child.name
        assert tags.get("Name") == child.name, child.name


def test_outputs(volume: Recorder) -> None:
    (component,) = volume.of_type(TYPE_TOKEN)
    assert component.outputs is not None
    assert sorted(component.outputs) == [
        "csi_driver_role_arn",
        "file_system_id",
        "security_group_id",
        "storage_class_name",
    ]
    assert component.outputs["storage_class_name"] == "efs-ap"


def test_two_volumes_in_one_program_do_not_collide(pulumi_run: Recorder) -> None:
    pulumi_run.run(volume_program("a", "b", storage_class_name="efs-b"))
    assert len(pulumi_run.of_type(FILE_SYSTEM)) == 2


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"subnet_ids": []}, "subnet_ids is empty"),
        ({"posix_id": 0}, "posix_id 0 must be a whole number from 1"),
        ({"posix_id": True}, "posix_id True must be a whole number"),
        ({"storage_class_name": "EFS_AP"}, "storage_class_name 'EFS_AP' is not a Kubernetes object name"),
    ],
)
def test_bad_args_fail_before_any_child(
    pulumi_run: Recorder, overrides: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ProgramError) as raised:
        pulumi_run.run(volume_program(**overrides))
    assert str(raised.value.cause).startswith(f"AwsSharedVolume {NAME}: {problem}")
