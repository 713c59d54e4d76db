"""inference-endpoints-authenticated: model-serving endpoints reachable from the Internet demand authentication.

What each provider's inputs let a resource policy see:
- API Gateway v2 routes: `authorizationType` (NONE by default). WebSocket routes other than `$connect`
  cannot carry an authorizer (the connection was authorized on `$connect`) and are skipped.
- Lambda function URLs: `authorizationType` NONE is public.
- Cloud Run: ingress `all` (the default) with the IAM invoker check disabled, and IAM grants to `allUsers`
  or `allAuthenticatedUsers` on Cloud Run services and Cloud Functions.
- Container Apps: external ingress is authenticated only by what the app's own inputs show, client
  certificates (`clientCertificateMode: require`); Easy Auth lives in a separate ContainerAppsAuthConfig
  resource that a resource policy cannot correlate, so an app protected only by it needs a waiver. Auth
  configs themselves must not let anonymous callers through.
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.gke_support import iam_grants
from mlops_policies.platform_support import is_false, is_true, module_of, report_all, shown, unversioned
from mlops_policies.platform_types import (
    APIGATEWAYV2_ROUTE,
    CLOUD_RUN_SERVICE,
    CLOUD_RUN_V2_SERVICE,
    CONTAINER_APP,
    CONTAINER_APP_AUTH,
    GCP_INVOKER_MODULES,
    LAMBDA_FUNCTION_URL,
)
from mlops_policies.support import Controls, get, resource_policy

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
V2_INGRESS_ALL = "INGRESS_TRAFFIC_ALL"
"""Cloud Run v2 ingress from the Internet, the default."""
V1_INGRESS_ALL = "all"
"""Cloud Run v1 ingress annotation value for Internet traffic, the default."""
V1_INGRESS = "run.googleapis.com/ingress"
V1_INVOKER_IAM_DISABLED = "run.googleapis.com/invoker-iam-disabled"
AUTHENTICATING_ACTIONS = frozenset({"RedirectToLoginPage", "Return401", "Return403"})
_ROLE = re.compile(r"^roles/[A-Za-z0-9_.]{1,100}$")


def _is_websocket_route(route_key: Any) -> bool:
    # HTTP route keys are `METHOD /path` or `$default`; WebSocket keys are `$connect`, `$disconnect`,
    # `$default` or a bare action name. `$default` stays checked: an HTTP API's catch-all uses it.
    if not isinstance(route_key, str):
        return False
    return route_key == "$disconnect" or (" " not in route_key and not route_key.startswith("$"))


def _api_gateway_route(props: Mapping[str, Any]) -> Iterator[str]:
    if _is_websocket_route(props.get("routeKey")):
        return
    if props.get("authorizationType") in (None, "", "NONE"):
        yield "the route accepts unauthenticated calls (authorizationType NONE): use JWT, AWS_IAM or CUSTOM"


def _function_url(props: Mapping[str, Any]) -> Iterator[str]:
    if props.get("authorizationType") != "AWS_IAM":
        yield "the function URL is public (authorizationType NONE): use AWS_IAM and sign requests (SigV4)"


def _cloud_run_v2(props: Mapping[str, Any]) -> Iterator[str]:
    ingress = props.get("ingress") or V2_INGRESS_ALL
    if (
        ingress == V2_INGRESS_ALL
        and is_true(props.get("invokerIamDisabled"))
        and not is_true(props.get("iapEnabled"))
    ):
        yield (
            "the service takes traffic from the Internet (ingress INGRESS_TRAFFIC_ALL) with the IAM invoker check "
            "disabled (invokerIamDisabled): re-enable it or restrict ingress"
        )


def _cloud_run_v1(props: Mapping[str, Any]) -> Iterator[str]:
    annotations = get(props, "metadata", "annotations")
    annotations = annotations if isinstance(annotations, Mapping) else {}
    ingress = annotations.get(V1_INGRESS) or V1_INGRESS_ALL
    if ingress == V1_INGRESS_ALL and annotations.get(V1_INVOKER_IAM_DISABLED) == "true":
        yield (
            f"the service takes traffic from the Internet (ingress all) with the IAM invoker check disabled "
            f"({V1_INVOKER_IAM_DISABLED}): re-enable it or restrict ingress"
        )


def _public_invoker_grants(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    for grant in iam_grants(type_token, props):
        public = sorted({m for m in grant.members() if m in PUBLIC_MEMBERS})
        if public:
            where = f"{grant.where} " if grant.where else ""
            yield (
                f"{where}grants {shown(grant.role, _ROLE)} to {', '.join(public)}: anyone can call the service; "
                "grant roles/run.invoker to the calling service accounts only"
            )


def _container_app(props: Mapping[str, Any]) -> Iterator[str]:
    ingress = get(props, "configuration", "ingress")
    if not isinstance(ingress, Mapping) or not is_true(ingress.get("external")):
        return
    if is_true(ingress.get("allowInsecure")):
        yield "external ingress accepts plain HTTP (allowInsecure: true): set it to false"
    if ingress.get("clientCertificateMode") != "require":
        yield (
            "external ingress admits callers without client certificates: make ingress internal behind an "
            "authenticating gateway, or set clientCertificateMode: require (an app protected by Easy Auth "
            "needs a waiver naming its ContainerAppsAuthConfig)"
        )


def _container_app_auth(props: Mapping[str, Any]) -> Iterator[str]:
    if is_false(get(props, "platform", "enabled")):
        yield "authentication is switched off (platform.enabled: false)"
    if get(props, "globalValidation", "unauthenticatedClientAction") not in AUTHENTICATING_ACTIONS:
        yield (
            "unauthenticated callers are not turned away: set globalValidation.unauthenticatedClientAction "
            "to Return401 (APIs) or RedirectToLoginPage"
        )


def unauthenticated_endpoints(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each way the resource lets unauthenticated callers reach a model endpoint."""
    token = unversioned(type_token)
    if token == APIGATEWAYV2_ROUTE:
        yield from _api_gateway_route(props)
    elif token == LAMBDA_FUNCTION_URL:
        yield from _function_url(props)
    elif token == CLOUD_RUN_V2_SERVICE:
        yield from _cloud_run_v2(props)
    elif token == CLOUD_RUN_SERVICE:
        yield from _cloud_run_v1(props)
    elif token == CONTAINER_APP:
        yield from _container_app(props)
    elif token == CONTAINER_APP_AUTH:
        yield from _container_app_auth(props)
    elif token.startswith("gcp:") and module_of(token) in GCP_INVOKER_MODULES:
        yield from _public_invoker_grants(token, props)


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(unauthenticated_endpoints(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="inference-endpoints-authenticated",
    description=(
        "Inference endpoints (API Gateway routes, Lambda function URLs, Cloud Run services and functions, "
        "Container Apps) reachable from the Internet require authenticated callers."
    ),
    severity=Severity.CRITICAL,
    remediation=(
        "API Gateway: a JWT/IAM/Lambda authorizer on every HTTP route. Lambda URLs: authorizationType AWS_IAM. "
        "Cloud Run: keep the IAM invoker check, grant roles/run.invoker to named service accounts, or restrict "
        "ingress. Container Apps: internal ingress behind an authenticating gateway or client certificates; "
        "Easy Auth with unauthenticatedClientAction Return401."
    ),
    controls=Controls(nist=("AC-3", "IA-2", "SC-7"), eu_ai_act=("Art.15",), gdpr=("Art.32",)),
    validate=_validate,
)
