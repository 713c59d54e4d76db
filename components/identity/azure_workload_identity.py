"""AzureWorkloadIdentity: one Kubernetes ServiceAccount bound to one user-assigned managed identity.

The identity trusts the cluster's OIDC issuer for exactly one service account
(`system:serviceaccount:<ns>:<sa>`) and one audience (`api://AzureADTokenExchange`) through a federated
identity credential. Its permissions are role assignments listed explicitly by the caller; Owner,
Contributor and User Access Administrator are refused, as are scopes at subscription level or above, so
a workload cannot quietly administer a subscription. Scopes given as plain text are checked before any
child exists; scopes that are Outputs are checked when they resolve, which fails the deployment before
the role assignment is made.

The ServiceAccount goes through the Kubernetes provider in `opts`; the identity and role assignments
through the azure-native provider there. Pods that use it also need the label
`azure.workload.identity/use: "true"` (the workload identity webhook mutates only labelled pods).
"""

import functools
import re
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization, managedidentity

TYPE_TOKEN = "mlopshub:index:AzureWorkloadIdentity"

CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
"""The annotation the workload identity webhook reads to know which identity a service account maps to."""
USE_LABEL = "azure.workload.identity/use"
"""The label that opts service accounts and pods into workload identity."""
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
"""The audience of the projected token Entra ID exchanges for an access token."""

FORBIDDEN_ROLES: dict[str, str] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab9d-f2a01a8ef1fc": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
}
"""Built-in roles a workload never gets: they administer whatever scope they are given."""

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ROLE_DEFINITION = re.compile(
    rf"^(?:(?:/subscriptions/{_GUID})?/providers/Microsoft\.Authorization/roleDefinitions/)?(?P<guid>{_GUID})$",
    re.IGNORECASE,
)
_BROAD_SCOPE = re.compile(
    r"^/?$|^/subscriptions/[^/]+/?$|^/providers/Microsoft\.Management/managementGroups/[^/]+/?$",
    re.IGNORECASE,
)
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class RoleAssignmentSpec(TypedDict):
    """One role the identity gets, on one scope."""

    role_definition_id: str
    """Role definition: its GUID, or its full id (`/subscriptions/<id>/providers/Microsoft.Authorization/
    roleDefinitions/<guid>`). Plain: it is checked against FORBIDDEN_ROLES before any child exists."""
    scope: pulumi.Input[str]
    """Resource id the role applies to (a resource group or narrower; never a subscription)."""


class AzureWorkloadIdentityArgs(TypedDict):
    """Arguments of AzureWorkloadIdentity."""

    resource_group_name: pulumi.Input[str]
    """Resource group of the managed identity."""
    location: pulumi.Input[str]
    """Azure region of the managed identity."""
    oidc_issuer_url: pulumi.Input[str]
    """The cluster's OIDC issuer URL (`AksGpuCluster.oidc_issuer_url`)."""
    namespace: str
    """Namespace of the service account; it must already exist (this component does not create it)."""
    service_account: str
    """Name of the service account to create; the identity trusts this one account only."""
    role_assignments: Sequence[RoleAssignmentSpec]
    """Roles the identity gets, each on an explicit scope."""
    tags: pulumi.Input[Mapping[str, pulumi.Input[str]]]
    """Tags put on the managed identity (azure-native has no provider default tags)."""
    automount_service_account_token: NotRequired[bool]
    """Mount a Kubernetes API token into pods of this account (default False); workload identity projects
    its own token and does not need it."""


def federated_subject(namespace: str, service_account: str) -> str:
    """The token subject of a Kubernetes service account."""
    return f"system:serviceaccount:{namespace}:{service_account}"


def role_guid(owner: str, role_definition_id: str) -> str:
    """The role's GUID, after refusing malformed ids and FORBIDDEN_ROLES.

    Raises:
        ValueError: the id is not a role definition id, or names a forbidden role.
    """
    match = _ROLE_DEFINITION.match(role_definition_id)
    if match is None:
        raise ValueError(
            f"{owner}: role_definition_id {role_definition_id!r} is neither a role GUID nor a role definition id"
        )
    guid = match["guid"].lower()
    if guid in FORBIDDEN_ROLES:
        raise ValueError(
            f"{owner}: role {FORBIDDEN_ROLES[guid]} ({guid}) is not granted to workloads; "
            "use a role with only the actions the workload needs"
        )
    return guid


def check_scope(owner: str, scope: str) -> str:
    """Return `scope`, refusing the root, management groups and bare subscriptions.

    Raises:
        ValueError: the scope is a subscription or broader.
    """
    if _BROAD_SCOPE.match(scope):
        raise ValueError(
            f"{owner}: scope {scope!r} is a whole subscription or broader; "
            "scope the role to a resource group or a resource"
        )
    return scope


def _role_definition_id(subscription_id: str, role_definition_id: str, guid: str) -> str:
    if role_definition_id.lower().startswith(("/subscriptions/", "/providers/")):
        return role_definition_id
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


class AzureWorkloadIdentity(pulumi.ComponentResource):
    """A managed identity that exactly one Kubernetes service account can use, with explicit roles."""

    client_id: pulumi.Output[str]
    """Client id of the managed identity (what SDKs inside the pod authenticate as)."""
    principal_id: pulumi.Output[str]
    """Object (principal) id of the managed identity (what role assignments name)."""
    service_account_name: pulumi.Output[str]
    """Name of the Kubernetes service account."""
    namespace: pulumi.Output[str]
    """Namespace of the Kubernetes service account."""

    def __init__(
        self, name: str, args: AzureWorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        owner = f"AzureWorkloadIdentity {name}"
        namespace, service_account = args["namespace"], args["service_account"]
        if not _DNS_LABEL.match(namespace):
            raise ValueError(
                f"{owner}: namespace {namespace!r} is not a Kubernetes namespace name (RFC 1123 label)"
            )
        if not _DNS_SUBDOMAIN.match(service_account):
            raise ValueError(
                f"{owner}: service_account {service_account!r} is not a Kubernetes object name (RFC 1123 subdomain)"
            )
        grants = []
        for grant in args["role_assignments"]:
            guid = role_guid(owner, grant["role_definition_id"])
            scope = grant["scope"]
            if isinstance(scope, str):
                check_scope(owner, scope)
            grants.append((grant["role_definition_id"], guid, scope))
        tags = args["tags"]
        child = pulumi.ResourceOptions(parent=self)

        identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_group_name=args["resource_group_name"],
            location=args["location"],
            tags=tags,
            opts=child,
        )
        managedidentity.FederatedIdentityCredential(
            f"{name}-federation",
            resource_group_name=args["resource_group_name"],
            resource_name_=identity.name,
            issuer=args["oidc_issuer_url"],
            subject=federated_subject(namespace, service_account),
            audiences=[TOKEN_EXCHANGE_AUDIENCE],
            opts=child,
        )
        if grants:
            subscription = authorization.get_client_config_output(
                opts=pulumi.InvokeOutputOptions(parent=self)
            ).subscription_id
            for index, (given, guid, scope) in enumerate(grants):
                authorization.RoleAssignment(
                    f"{name}-role-{index}",
                    principal_id=identity.principal_id,
                    principal_type="ServicePrincipal",
                    role_definition_id=subscription.apply(
                        functools.partial(_role_definition_id, role_definition_id=given, guid=guid)
                    ),
                    scope=pulumi.Output.from_input(scope).apply(lambda value: check_scope(owner, value)),
                    opts=child,
                )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={
                "name": service_account,
                "namespace": namespace,
                "annotations": {CLIENT_ID_ANNOTATION: identity.client_id},
                "labels": {USE_LABEL: "true", "app.kubernetes.io/managed-by": "pulumi"},
            },
            automount_service_account_token=args.get("automount_service_account_token", False),
            opts=child,
        )

        self.client_id = identity.client_id
        self.principal_id = identity.principal_id
        # From the URN (known in a preview, unlike metadata, whose annotation waits on the client id).
        self.service_account_name = account.urn.apply(lambda _: service_account)
        self.namespace = account.urn.apply(lambda _: namespace)
        self.register_outputs(
            {
                "client_id": self.client_id,
                "principal_id": self.principal_id,
                "service_account_name": self.service_account_name,
                "namespace": self.namespace,
            }
        )
