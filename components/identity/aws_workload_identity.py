"""AwsWorkloadIdentity: one Kubernetes ServiceAccount bound to one IAM role through IRSA.

The role trusts the cluster's OIDC provider for exactly one service account (`system:serviceaccount:<ns>:<sa>`)
and one audience (`sts.amazonaws.com`). Its permissions are inline policies written for the workload; managed
policy ARNs are never accepted, so a role cannot quietly grow `*FullAccess`. Documents given as plain JSON
text are checked here, before any child exists; documents that are Outputs cannot be read at construction
time and are checked by the policy pack (issue 4) on the plan instead.
"""

import fnmatch
import json
import re
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.tags import name_tagged

TYPE_TOKEN = "mlopshub:index:AwsWorkloadIdentity"

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
"""The annotation EKS's pod identity webhook reads to inject the role's web-identity token."""
STS_AUDIENCE = "sts.amazonaws.com"
"""The audience of the projected token IRSA exchanges with STS."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")


class AwsWorkloadIdentityArgs(TypedDict):
    """Arguments of AwsWorkloadIdentity."""

    namespace: str
    """Namespace of the service account; it must already exist (this component does not create it)."""
    service_account: str
    """Name of the service account to create; the role trusts this one account only."""
    oidc_provider_arn: pulumi.Input[str]
    """ARN of the cluster's IAM OIDC provider (`EksGpuCluster.oidc_provider_arn`)."""
    oidc_issuer_url: pulumi.Input[str]
    """The cluster's OIDC issuer URL (`https://oidc.eks.<region>.amazonaws.com/id/<id>`)."""
    policy_documents: Mapping[str, pulumi.Input[str]]
    """Inline policy name → JSON policy document. Plain-text documents are checked at construction (no
    `*`, `*:*` or `<service>:*` actions, no `NotAction` allows, no `iam:PassRole` on `*`); Output documents
    are checked by the policy pack. Managed policy ARNs are not accepted."""
    automount_service_account_token: NotRequired[bool]
    """Mount a Kubernetes API token into pods of this account (default False). IRSA does not need it: the
    webhook projects its own AWS token. Set True only for workloads that call the Kubernetes API."""
    tags: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Tags added to the IAM role, on top of the provider's default tags."""


def irsa_trust_policy(oidc_provider_arn: str, issuer_host: str, namespace: str, service_account: str) -> str:
    """Trust policy: web-identity tokens of one service account, for the STS audience, from one cluster.

    Args:
        oidc_provider_arn: the cluster's IAM OIDC provider.
        issuer_host: the issuer URL without `https://` (the prefix of the token's condition keys).
        namespace: the service account's namespace.
        service_account: the service account's name.
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer_host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                            f"{issuer_host}:aud": STS_AUDIENCE,
                        }
                    },
                }
            ],
        }
    )


def issuer_host(issuer_url: str) -> str:
    """The issuer URL as IAM condition keys spell it: no scheme, no trailing slash."""
    return issuer_url.removeprefix("https://").rstrip("/")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _statement_label(index: int, statement: Mapping[str, Any]) -> str:
    sid = statement.get("Sid")
    return f"statement {index}" + (f" (Sid {sid!r})" if sid else "")


def _broad_action(action: str) -> bool:
    """`*`, `*:*`, `<service>:*` or any action of a wildcard service (`*:Get*`)."""
    service, _, name = action.partition(":")
    return action == "*" or "*" in service or name == "*"


def _grants_pass_role(action: str) -> bool:
    return fnmatch.fnmatchcase("iam:passrole", action.lower())


def check_policy_document(owner: str, policy_name: str, document: str) -> None:
    """Reject a policy document that grants whole services or lets the holder pass any role.

    Only `Allow` statements are judged (a broad `Deny` narrows, never widens). Rejected: `Action` `*`, `*:*`,
    `<service>:*` or a wildcard service; `NotAction` in an Allow (it allows everything not listed);
    `iam:PassRole` (or a pattern matching it) on `Resource: "*"` or with `NotResource`.

    Args:
        owner: `"<Component> <name>"`, put at the start of every error.
        policy_name: the document's name, for the error.
        document: the JSON text.

    Raises:
        ValueError: one line naming the document, the statement and what is wrong.
    """
    where = f"{owner}: policy document {policy_name!r}"
    try:
        parsed = json.loads(document)
    except json.JSONDecodeError as err:
        hint = (
            " (managed policy ARNs are not accepted; inline the statements)"
            if document.startswith("arn:")
            else ""
        )
        raise ValueError(f"{where} is not JSON{hint}: {err.msg} at character {err.pos}") from None
    if not isinstance(parsed, dict) or "Statement" not in parsed:
        raise ValueError(f"{where} is not an IAM policy document (no Statement)")
    for index, statement in enumerate(_as_list(parsed["Statement"])):
        if not isinstance(statement, dict):
            raise ValueError(f"{where} statement {index} is not an object")
        if statement.get("Effect") == "Deny":
            continue
        label = _statement_label(index, statement)
        if "NotAction" in statement:
            raise ValueError(
                f"{where} {label} uses NotAction in an Allow, which allows every action not listed; "
                "list the actions the workload needs"
            )
        actions = [str(a) for a in _as_list(statement.get("Action", []))]
        for action in actions:
            if _broad_action(action):
                raise ValueError(
                    f"{where} {label} allows {action!r}, every action of a service; "
                    "list the actions the workload needs"
                )
        resources = [str(r) for r in _as_list(statement.get("Resource", []))]
        every_resource = "*" in resources or "NotResource" in statement
        passing = [a for a in actions if _grants_pass_role(a)]
        if every_resource and passing:
            raise ValueError(
                f"{where} {label} allows {passing[0]!r} on every resource, which lets the holder hand any "
                "role to a service; name the role ARNs it may pass"
            )


class AwsWorkloadIdentity(pulumi.ComponentResource):
    """An IAM role that exactly one Kubernetes service account can assume (IRSA), with inline policies."""

    role_arn: pulumi.Output[str]
    """ARN of the IAM role the service account assumes."""
    service_account_name: pulumi.Output[str]
    """Name of the Kubernetes service account."""
    namespace: pulumi.Output[str]
    """Namespace of the Kubernetes service account."""

    def __init__(
        self, name: str, args: AwsWorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        owner = f"AwsWorkloadIdentity {name}"
        namespace, service_account = args["namespace"], args["service_account"]
        if not _DNS_LABEL.match(namespace):
            raise ValueError(
                f"{owner}: namespace {namespace!r} is not a Kubernetes namespace name (RFC 1123 label)"
            )
        if not _DNS_SUBDOMAIN.match(service_account):
            raise ValueError(
                f"{owner}: service_account {service_account!r} is not a Kubernetes object name (RFC 1123 subdomain)"
            )
        documents = args["policy_documents"]
        for policy_name, document in documents.items():
            if not _POLICY_NAME.match(policy_name):
                raise ValueError(
                    f"{owner}: policy name {policy_name!r} must be 1 to 128 letters, digits or +=,.@_-"
                )
            # Output documents are unknown until deployment; the policy pack checks them on the plan.
            if isinstance(document, str):
                check_policy_document(owner, policy_name, document)
        tags = args.get("tags")
        child = pulumi.ResourceOptions(parent=self)

        trust_policy = pulumi.Output.all(args["oidc_provider_arn"], args["oidc_issuer_url"]).apply(
            lambda values: irsa_trust_policy(values[0], issuer_host(values[1]), namespace, service_account)
        )
        role = aws.iam.Role(
            f"{name}-role",
            description=f"IRSA role of service account {namespace}/{service_account}",
            assume_role_policy=trust_policy,
            max_session_duration=3600,
            tags=name_tagged(tags, f"{name}-role"),
            opts=child,
        )
        for policy_name, document in documents.items():
            aws.iam.RolePolicy(
                f"{name}-{policy_name}-policy",
                name=policy_name,
                role=role.id,
                policy=document,
                opts=child,
            )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata={
                "name": service_account,
                "namespace": namespace,
                "annotations": {ROLE_ARN_ANNOTATION: role.arn},
                "labels": {"app.kubernetes.io/managed-by": "pulumi"},
            },
            automount_service_account_token=args.get("automount_service_account_token", False),
            opts=child,
        )

        self.role_arn = role.arn
        # From the URN (known in a preview, unlike metadata, whose annotation waits on the role's ARN), so
        # the names are known early and still carry the dependency on the service account.
        self.service_account_name = account.urn.apply(lambda _: service_account)
        self.namespace = account.urn.apply(lambda _: namespace)
        self.register_outputs(
            {
                "role_arn": self.role_arn,
                "service_account_name": self.service_account_name,
                "namespace": self.namespace,
            }
        )
