"""GcpWorkloadIdentity: one Kubernetes ServiceAccount bound to one Google service account (GKE Workload Identity).

The Google service account (GSA) lets exactly one Kubernetes service account impersonate it: the
`roles/iam.workloadIdentityUser` binding sits on the GSA itself (not the project) for the member
`serviceAccount:<project>.svc.id.goog[<namespace>/<service account>]`. Its permissions are the project roles
passed in by name. Roles that make the holder an owner, an administrator or able to act as other service
accounts are refused before any child exists.
"""

import re
from collections.abc import Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

TYPE_TOKEN = "mlopshub:index:GcpWorkloadIdentity"

GSA_ANNOTATION = "iam.gke.io/gcp-service-account"
"""The annotation GKE's metadata server reads to map a Kubernetes service account to a GSA."""
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
"""The role that lets a Kubernetes service account impersonate the GSA it is granted on."""

BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
"""Project-wide legacy roles: thousands of permissions each."""
IMPERSONATION_ROLES = frozenset(
    {
        "roles/iam.serviceAccountTokenCreator",
        "roles/iam.serviceAccountUser",
        "roles/iam.serviceAccountOpenIdTokenCreator",
        WORKLOAD_IDENTITY_USER,
    }
)
"""Roles that, granted on the project, let the holder act as any service account in it."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_ACCOUNT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_ROLE = re.compile(
    r"^(roles|projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/roles|organizations/\d+/roles)/[A-Za-z0-9_.]{1,64}$"
)


class GcpWorkloadIdentityArgs(TypedDict):
    """Arguments of GcpWorkloadIdentity."""

    project: pulumi.Input[str]
    """Project of the GSA, of the role grants and of the cluster (its pool is `<project>.svc.id.goog`)."""
    namespace: str
    """Namespace of the service account; it must already exist (this component does not create it)."""
    service_account: str
    """Name of the Kubernetes service account to create; the only one that may use the GSA."""
    roles: Sequence[str]
    """Project roles granted to the GSA (`roles/...` or custom `projects/<p>/roles/...`); basic, admin and
    impersonation roles are refused."""
    account_id: NotRequired[str]
    """The GSA's account id, 6 to 30 characters (default: the component's name)."""
    automount_service_account_token: NotRequired[bool]
    """Mount a Kubernetes API token into pods of this account (default False). Workload Identity does not
    need it: the GKE metadata server hands out Google tokens. Set True only for Kubernetes API clients."""


def workload_identity_member(project: str, namespace: str, service_account: str) -> str:
    """The IAM member that stands for one Kubernetes service account of a GKE cluster in `project`."""
    return f"serviceAccount:{project}.svc.id.goog[{namespace}/{service_account}]"


def role_problem(role: str) -> str | None:
    """Why `role` may not be granted to a workload, or None when it may."""
    if not _ROLE.match(role):
        return "is not a role name (roles/<service>.<role> or projects/<project>/roles/<id>)"
    if role in BASIC_ROLES:
        return "is a basic role with project-wide access; grant the predefined roles the workload needs"
    if role in IMPERSONATION_ROLES:
        return "lets the workload act as other service accounts"
    if role.rsplit("/", 1)[-1].lower().endswith("admin"):
        return "is an administrator role; grant a narrower one (e.g. storage.objectUser, not storage.admin)"
    return None


def _slug(role: str) -> str:
    """`roles/storage.objectViewer` → `storage-objectviewer`, for child names."""
    return re.sub(r"[/.]", "-", role.removeprefix("roles/")).lower()


def _validate(name: str, args: GcpWorkloadIdentityArgs) -> str:
    """Check every plain argument; returns the GSA's account id."""
    owner = f"GcpWorkloadIdentity {name}"
    namespace, service_account = args["namespace"], args["service_account"]
    if not _DNS_LABEL.match(namespace):
        raise ValueError(
            f"{owner}: namespace {namespace!r} is not a Kubernetes namespace name (RFC 1123 label)"
        )
    if not _DNS_SUBDOMAIN.match(service_account):
        raise ValueError(
            f"{owner}: service_account {service_account!r} is not a Kubernetes object name (RFC 1123 subdomain)"
        )
    account_id = args.get("account_id", name)
    if not _ACCOUNT_ID.match(account_id):
        raise ValueError(
            f"{owner}: account_id {account_id!r} must be 6 to 30 lowercase letters, digits or hyphens, starting "
            "with a letter and not ending with a hyphen; pass account_id when the name does not fit"
        )
    seen: set[str] = set()
    for role in args["roles"]:
        problem = role_problem(role)
        if problem:
            raise ValueError(f"{owner}: role {role!r} {problem}")
        if _slug(role) in seen:
            raise ValueError(f"{owner}: role {role!r} is listed twice")
        seen.add(_slug(role))
    return account_id


class GcpWorkloadIdentity(pulumi.ComponentResource):
    """A Google service account that exactly one Kubernetes service account can use, with project roles."""

    email: pulumi.Output[str]
    """Email of the Google service account."""
    service_account_name: pulumi.Output[str]
    """Name of the Kubernetes service account (for pods' `serviceAccountName`)."""
    namespace: pulumi.Output[str]
    """Namespace of the Kubernetes service account."""

    def __init__(
        self, name: str, args: GcpWorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        account_id = _validate(name, args)
        # Without an explicit provider the ServiceAccount would land in whatever cluster the ambient
        # kubeconfig points at.
        if self.get_provider("kubernetes:core/v1:ServiceAccount") is None:
            raise ValueError(
                f"GcpWorkloadIdentity {name}: pass the cluster's Kubernetes provider in opts "
                "(providers=[..., cluster.kubernetes_provider])"
            )
        project = args["project"]
        namespace, service_account = args["namespace"], args["service_account"]
        child = pulumi.ResourceOptions(parent=self)

        gsa = gcp.serviceaccount.Account(
            f"{name}-gsa",
            project=project,
            account_id=account_id,
            display_name=f"Workload {namespace}/{service_account}",
            description=f"Used by Kubernetes service account {namespace}/{service_account} via Workload Identity",
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity-user",
            service_account_id=gsa.name,
            role=WORKLOAD_IDENTITY_USER,
            member=pulumi.Output.from_input(project).apply(
                lambda p: workload_identity_member(p, namespace, service_account)
            ),
            opts=child,
        )
        for role in args["roles"]:
            gcp.projects.IAMMember(
                f"{name}-grant-{_slug(role)}",
                project=project,
                role=role,
                member=gsa.member,
                opts=child,
            )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-ksa",
            metadata={
                "name": service_account,
                "namespace": namespace,
                "annotations": {GSA_ANNOTATION: gsa.email},
                "labels": {"app.kubernetes.io/managed-by": "pulumi"},
            },
            automount_service_account_token=args.get("automount_service_account_token", False),
            opts=child,
        )

        self.email = gsa.email
        # From the URN (known in a preview, unlike metadata, whose annotation waits on the GSA's email), so
        # the names are known early and still carry the dependency on the service account.
        self.service_account_name = account.urn.apply(lambda _: service_account)
        self.namespace = account.urn.apply(lambda _: namespace)
        self.register_outputs(
            {
                "email": self.email,
                "service_account_name": self.service_account_name,
                "namespace": self.namespace,
            }
        )
