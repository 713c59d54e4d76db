"""AwsSharedVolume: an encrypted EFS file system that an EKS cluster's pods share through a ReadWriteMany class.

EKS has no ReadWriteMany storage class out of the box. This component adds one: an EFS file system encrypted
with a KMS key it owns (rotation on), a mount target in each private subnet behind a security group that admits
NFS only from the cluster's node security group, automatic AWS Backup, a file system policy that refuses
clients without TLS, and the `aws-efs-csi-driver` EKS add-on (pinned) whose controller runs as an IRSA role
allowed to manage access points of this file system only. Its StorageClass provisions each claim as an EFS
access point (`provisioningMode: efs-ap`) whose directory belongs to `posix_id`, with mode 700, so the
workloads' non-root user owns what it mounts.

The provider of the cluster's Kubernetes API comes in through `opts` (`providers=[aws, kubernetes]`), like
every other component here.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.identity.aws_workload_identity import irsa_trust_policy, issuer_host
from components.tags import name_tagged

TYPE_TOKEN = "mlopshub:index:AwsSharedVolume"

EFS_CSI_ADDON = {"name": "aws-efs-csi-driver", "version": "v2.1.15-eksbuild.1"}
"""The pinned EKS add-on. Bump deliberately: check the version is offered for the cluster's Kubernetes
version (`aws eks describe-addon-versions --addon-name aws-efs-csi-driver --kubernetes-version <v>`) and
that `csi_controller_policy` still covers the calls the new controller makes."""
CSI_PROVISIONER = "efs.csi.aws.com"
CONTROLLER_NAMESPACE = "kube-system"
CONTROLLER_SERVICE_ACCOUNT = "efs-csi-controller-sa"
"""The account the add-on's controller runs as; the only one the IRSA role trusts. The node daemonset needs
no AWS identity: it mounts without the `iam` option, admitted by the file system policy."""
ACCESS_POINT_TAG = "efs.csi.aws.com/cluster"
"""The tag the driver puts on every access point it creates; deletes are limited to tagged access points."""
NFS_PORT = 2049
DIRECTORY_PERMS = "700"
"""Mode of each claim's directory: only `posix_id` reads or writes it."""
DEFAULT_STORAGE_CLASS = "efs-ap"
TRANSITION_TO_IA = "AFTER_30_DAYS"
"""Files untouched this long move to Infrequent Access (cheaper at rest, billed per read); a read moves a
file back. Old captures and past training tables are read rarely."""

_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_POSIX_ID = 4_294_967_295


class AwsSharedVolumeArgs(TypedDict):
    """Arguments of AwsSharedVolume."""

    vpc_id: pulumi.Input[str]
    """The cluster's VPC (AwsNetwork.vpc_id); holds the mount targets' security group."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """The private subnets the nodes run in, one per availability zone: one mount target each, so every
    node mounts in its own zone. At least one."""
    client_security_group_id: pulumi.Input[str]
    """The only security group admitted to NFS (EksGpuCluster.node_security_group_id)."""
    cluster_name: pulumi.Input[str]
    """The EKS cluster the CSI add-on is installed on."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (EksGpuCluster.oidc_provider_arn), for the controller's IRSA role."""
    oidc_issuer_url: pulumi.Input[str]
    """The cluster's OIDC issuer URL (EksGpuCluster.oidc_issuer_url)."""
    posix_id: int
    """UID and GID that own each claim's directory, and that EFS enforces for every access through it: the
    workloads' non-root user (MlWorkloads' RUN_AS_USER). 1 or more: never root."""
    storage_class_name: NotRequired[str]
    """Name of the StorageClass (default DEFAULT_STORAGE_CLASS)."""
    tags: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Tags added to every taggable child, on top of the provider's default tags."""


def file_system_key_policy(account_id: str, partition: str) -> str:
    """KMS key policy: account administration only. EFS uses the key through grants it makes with the
    creator's IAM permissions, so no service principal needs a statement."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministration",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def file_system_policy(file_system_arn: str) -> str:
    """File system policy: no access without TLS; clients mount and write only through a mount target.

    No `ClientRootAccess`: root on a node is squashed, and the access points pin the POSIX user anyway. The
    CSI node plugin mounts without the `iam` option, so its requests are anonymous and the second statement
    (any principal, but only through this VPC's mount targets, which the security group guards) admits them.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyWithoutTls",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "*",
                    "Resource": file_system_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "MountThroughMountTargets",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                    "Resource": file_system_arn,
                    "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
                },
            ],
        }
    )


def csi_controller_policy(partition: str, region: str, account_id: str, file_system_id: str) -> str:
    """The EFS CSI controller's permissions: AWS's managed AmazonEFSCSIDriverPolicy, narrowed to one file system.

    The managed policy lets the controller create access points on every file system of the account; here it
    may only describe this file system and create access points on it. Access points get fresh ids, so tagging
    and deleting them stays scoped, as in the managed policy, by the driver's `efs.csi.aws.com/cluster` tag.
    `ec2:DescribeAvailabilityZones` supports no resource scoping.
    """
    efs = f"arn:{partition}:elasticfilesystem:{region}:{account_id}"
    file_system = f"{efs}:file-system/{file_system_id}"
    access_points = f"{efs}:access-point/*"
    tag_present = {"Null": {f"aws:RequestTag/{ACCESS_POINT_TAG}": "false"}}
    only_driver_tag = {"ForAllValues:StringEquals": {"aws:TagKeys": ACCESS_POINT_TAG}}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DescribeThisFileSystem",
                    "Effect": "Allow",
                    "Action": [
                        "elasticfilesystem:DescribeAccessPoints",
                        "elasticfilesystem:DescribeFileSystems",
                        "elasticfilesystem:DescribeMountTargets",
                    ],
                    "Resource": [file_system, access_points],
                },
                {
                    "Sid": "DescribeZones",
                    "Effect": "Allow",
                    "Action": "ec2:DescribeAvailabilityZones",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
                },
                {
                    "Sid": "CreateAccessPoints",
                    "Effect": "Allow",
                    "Action": "elasticfilesystem:CreateAccessPoint",
                    "Resource": file_system,
                    "Condition": {**tag_present, **only_driver_tag},
                },
                {
                    "Sid": "TagNewAccessPoints",
                    "Effect": "Allow",
                    "Action": "elasticfilesystem:TagResource",
                    "Resource": access_points,
                    "Condition": {
                        "StringEquals": {"elasticfilesystem:CreateAction": "CreateAccessPoint"},
                        **tag_present,
                        **only_driver_tag,
                    },
                },
                {
                    "Sid": "DeleteDriverAccessPoints",
                    "Effect": "Allow",
                    "Action": "elasticfilesystem:DeleteAccessPoint",
                    "Resource": access_points,
                    "Condition": {"Null": {f"aws:ResourceTag/{ACCESS_POINT_TAG}": "false"}},
                },
            ],
        }
    )


def storage_class_parameters(file_system_id: str, posix_id: int) -> dict[str, str]:
    """StorageClass parameters: one access point per claim, its directory owned by `posix_id`, mode 700."""
    return {
        "provisioningMode": "efs-ap",
        "fileSystemId": file_system_id,
        "directoryPerms": DIRECTORY_PERMS,
        "uid": str(posix_id),
        "gid": str(posix_id),
        "basePath": "/dynamic",
    }


def addon_configuration() -> str:
    """Add-on values: the node plugin tolerates every taint, so pods on (tainted) GPU nodes can mount too."""
    return json.dumps({"node": {"tolerateAllTaints": True}})


def _validate(name: str, args: AwsSharedVolumeArgs) -> str:
    """Check the plain arguments; returns the StorageClass name."""
    owner = f"AwsSharedVolume {name}"
    if not args["subnet_ids"]:
        raise ValueError(f"{owner}: subnet_ids is empty; give the private subnets the nodes run in")
    posix_id = args["posix_id"]
    if isinstance(posix_id, bool) or not isinstance(posix_id, int) or not 1 <= posix_id <= _MAX_POSIX_ID:
        raise ValueError(
            f"{owner}: posix_id {posix_id!r} must be a whole number from 1 to {_MAX_POSIX_ID} (0 is root)"
        )
    class_name = args.get("storage_class_name", DEFAULT_STORAGE_CLASS)
    if not _DNS_SUBDOMAIN.match(class_name):
        raise ValueError(f"{owner}: storage_class_name {class_name!r} is not a Kubernetes object name")
    return class_name


class AwsSharedVolume(pulumi.ComponentResource):
    """An encrypted EFS file system, reachable only from the cluster's nodes, behind an `efs-ap` StorageClass."""

    file_system_id: pulumi.Output[str]
    """The EFS file system's id (`fs-…`)."""
    security_group_id: pulumi.Output[str]
    """The mount targets' security group (NFS from the node security group only)."""
    csi_driver_role_arn: pulumi.Output[str]
    """The IRSA role of the EFS CSI controller."""
    storage_class_name: pulumi.Output[str]
    """The ReadWriteMany StorageClass; claims of it become access points of the file system."""

    def __init__(
        self, name: str, args: AwsSharedVolumeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        class_name = _validate(name, args)
        posix_id = args["posix_id"]
        tags = args.get("tags")
        child = pulumi.ResourceOptions(parent=self)
        invoke = pulumi.InvokeOptions(parent=self)
        region = aws.get_region_output(opts=invoke).region
        account_id = aws.get_caller_identity_output(opts=invoke).account_id
        partition = aws.get_partition_output(opts=invoke).partition

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the EFS file system {name} at rest",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=pulumi.Output.all(account_id, partition).apply(
                lambda values: file_system_key_policy(values[0], values[1])
            ),
            tags=name_tagged(tags, f"{name}-key"),
            opts=child,
        )
        file_system = aws.efs.FileSystem(
            f"{name}-fs",
            encrypted=True,
            kms_key_id=key.arn,
            performance_mode="generalPurpose",
            # Elastic: pay for the throughput used; no burst credits for a bursty monitor and trainer to drain.
            throughput_mode="elastic",
            lifecycle_policies=[
                {"transition_to_ia": TRANSITION_TO_IA},
                {"transition_to_primary_storage_class": "AFTER_1_ACCESS"},
            ],
            tags=name_tagged(tags, f"{name}-fs"),
            opts=child,
        )
        # AWS Backup's default plan for EFS: daily backups kept 35 days (captures and monitor state have no
        # other copy).
        aws.efs.BackupPolicy(
            f"{name}-backup",
            file_system_id=file_system.id,
            backup_policy={"status": "ENABLED"},
            opts=child,
        )
        aws.efs.FileSystemPolicy(
            f"{name}-policy",
            file_system_id=file_system.id,
            policy=file_system.arn.apply(file_system_policy),
            opts=child,
        )

        security_group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            vpc_id=args["vpc_id"],
            description=f"Mount targets of EFS file system {name}: NFS from the cluster's nodes only",
            tags=name_tagged(tags, f"{name}-sg"),
            opts=child,
        )
        nfs_rule = aws.vpc.SecurityGroupIngressRule(
            f"{name}-nfs-from-nodes",
            security_group_id=security_group.id,
            referenced_security_group_id=args["client_security_group_id"],
            ip_protocol="tcp",
            from_port=NFS_PORT,
            to_port=NFS_PORT,
            description="NFS from the cluster's node security group",
            tags=name_tagged(tags, f"{name}-nfs-from-nodes"),
            opts=child,
        )
        mount_targets = [
            aws.efs.MountTarget(
                f"{name}-mount-{index}",
                file_system_id=file_system.id,
                subnet_id=subnet_id,
                security_groups=[security_group.id],
                opts=child,
            )
            for index, subnet_id in enumerate(args["subnet_ids"])
        ]

        role = aws.iam.Role(
            f"{name}-csi-role",
            description=f"EFS CSI controller of {name}: access points of this file system only",
            assume_role_policy=pulumi.Output.all(args["oidc_provider_arn"], args["oidc_issuer_url"]).apply(
                lambda values: irsa_trust_policy(
                    values[0], issuer_host(values[1]), CONTROLLER_NAMESPACE, CONTROLLER_SERVICE_ACCOUNT
                )
            ),
            tags=name_tagged(tags, f"{name}-csi-role"),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-csi-policy",
            role=role.id,
            policy=pulumi.Output.all(partition, region, account_id, file_system.id).apply(
                lambda values: csi_controller_policy(values[0], values[1], values[2], values[3])
            ),
            opts=child,
        )
        addon = aws.eks.Addon(
            f"{name}-csi-driver",
            cluster_name=args["cluster_name"],
            addon_name=EFS_CSI_ADDON["name"],
            addon_version=EFS_CSI_ADDON["version"],
            service_account_role_arn=role.arn,
            configuration_values=addon_configuration(),
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=name_tagged(tags, f"{name}-csi-driver"),
            # The controller needs its permissions, and nodes a mount target in their zone, before any claim.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy, nfs_rule, *mount_targets]),
        )
        storage_class = k8s.storage.v1.StorageClass(
            f"{name}-class",
            metadata={"name": class_name, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
            provisioner=CSI_PROVISIONER,
            parameters=file_system.id.apply(lambda fs_id: storage_class_parameters(fs_id, posix_id)),
            # Deleting a claim deletes its access point only: the directory and its files stay on the file
            # system (the driver's deleteAccessPointRootDir is off), and AWS Backup keeps them too.
            reclaim_policy="Delete",
            # EFS is regional: a claim can bind before its first pod, in any zone. Binding is an access point,
            # made in seconds, so the Kubernetes provider's wait for a Bound claim is short.
            volume_binding_mode="Immediate",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[addon]),
        )

        self.file_system_id = file_system.id
        self.security_group_id = security_group.id
        self.csi_driver_role_arn = role.arn
        self.storage_class_name = storage_class.metadata.name
        self.register_outputs(
            {
                "file_system_id": self.file_system_id,
                "security_group_id": self.security_group_id,
                "csi_driver_role_arn": self.csi_driver_role_arn,
                "storage_class_name": self.storage_class_name,
            }
        )
