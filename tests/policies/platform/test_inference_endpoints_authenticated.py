"""inference-endpoints-authenticated: a compliant baseline per endpoint type and single-property mutations."""

import json
from typing import Any

import pytest

from mlops_policies.inference_endpoints_authenticated import POLICY
from mlops_policies.platform_types import (
    APIGATEWAYV2_ROUTE,
    CLOUD_RUN_SERVICE,
    CLOUD_RUN_V2_SERVICE,
    CONTAINER_APP,
    CONTAINER_APP_AUTH,
    LAMBDA_FUNCTION_URL,
)

BASELINES: dict[str, dict[str, Any]] = {
    APIGATEWAYV2_ROUTE: {
        "apiId": "a",
        "routeKey": "POST /v1/predict",
        "authorizationType": "JWT",
        "authorizerId": "z",
    },
    LAMBDA_FUNCTION_URL: {"functionName": "predict", "authorizationType": "AWS_IAM"},
    CLOUD_RUN_V2_SERVICE: {
        "location": "europe-west4",
        "ingress": "INGRESS_TRAFFIC_ALL",
        "template": {"containers": [{"image": "i"}]},
    },
    CLOUD_RUN_SERVICE: {
        "location": "europe-west4",
        "metadata": {"annotations": {"run.googleapis.com/ingress": "all"}},
    },
    CONTAINER_APP: {"configuration": {"ingress": {"external": False, "targetPort": 8080}}},
    CONTAINER_APP_AUTH: {
        "containerAppName": "api",
        "platform": {"enabled": True},
        "globalValidation": {"unauthenticatedClientAction": "Return401"},
    },
}
ROUTE_OPEN = "the route accepts unauthenticated calls (authorizationType NONE): use JWT, AWS_IAM or CUSTOM"
URL_OPEN = "the function URL is public (authorizationType NONE): use AWS_IAM and sign requests (SigV4)"
RUN_OPEN = (
    "the service takes traffic from the Internet (ingress INGRESS_TRAFFIC_ALL) with the IAM invoker check "
    "disabled (invokerIamDisabled): re-enable it or restrict ingress"
)
RUN_V1_OPEN = (
    "the service takes traffic from the Internet (ingress all) with the IAM invoker check disabled "
    "(run.googleapis.com/invoker-iam-disabled): re-enable it or restrict ingress"
)
NO_CLIENT_CERTS = (
    "external ingress admits callers without client certificates: make ingress internal behind an "
    "authenticating gateway, or set clientCertificateMode: require (an app protected by Easy Auth "
    "needs a waiver naming its ContainerAppsAuthConfig)"
)
ANONYMOUS = (
    "unauthenticated callers are not turned away: set globalValidation.unauthenticatedClientAction "
    "to Return401 (APIs) or RedirectToLoginPage"
)


@pytest.mark.parametrize("resource_type", sorted(BASELINES))
def test_baselines_pass(check_policy: Any, resource_type: str) -> None:
    assert check_policy(POLICY, resource_type, BASELINES[resource_type]) == []


@pytest.mark.parametrize(
    ("resource_type", "path", "value", "expected"),
    [
        (APIGATEWAYV2_ROUTE, "authorizationType", "NONE", [ROUTE_OPEN]),
        (APIGATEWAYV2_ROUTE, "authorizationType", ..., [ROUTE_OPEN]),
        (APIGATEWAYV2_ROUTE, "routeKey", "$default", []),
        (LAMBDA_FUNCTION_URL, "authorizationType", "NONE", [URL_OPEN]),
        (CLOUD_RUN_V2_SERVICE, "invokerIamDisabled", True, [RUN_OPEN]),
        (CLOUD_RUN_V2_SERVICE, "ingress", ..., []),
        (
            CLOUD_RUN_SERVICE,
            "metadata.annotations.run.googleapis.com/invoker-iam-disabled",
            "true",
            [RUN_V1_OPEN],
        ),
        (CONTAINER_APP, "configuration.ingress.external", True, [NO_CLIENT_CERTS]),
        (
            CONTAINER_APP_AUTH,
            "platform.enabled",
            False,
            ["authentication is switched off (platform.enabled: false)"],
        ),
        (CONTAINER_APP_AUTH, "globalValidation.unauthenticatedClientAction", "AllowAnonymous", [ANONYMOUS]),
        (CONTAINER_APP_AUTH, "globalValidation", ..., [ANONYMOUS]),
    ],
    ids=[
        "route-none",
        "route-default-none",
        "route-catch-all-authorized",
        "function-url-public",
        "run-invoker-check-off",
        "run-ingress-default-with-iam",
        "run-v1-invoker-check-off",
        "container-app-external",
        "auth-off",
        "auth-anonymous",
        "auth-unset",
    ],
)
def test_mutations(
    check_policy: Any, with_value: Any, resource_type: str, path: str, value: Any, expected: list[str]
) -> None:
    if path.startswith("metadata.annotations."):
        props = with_value(
            BASELINES[resource_type],
            "metadata.annotations",
            {
                **BASELINES[resource_type]["metadata"]["annotations"],
                path.removeprefix("metadata.annotations."): value,
            },
        )
    else:
        props = with_value(BASELINES[resource_type], path, value)
    assert check_policy(POLICY, resource_type, props) == expected


@pytest.mark.parametrize(
    ("ingress", "invoker_disabled", "expected"),
    [
        ("INGRESS_TRAFFIC_INTERNAL_ONLY", True, []),
        ("INGRESS_TRAFFIC_ALL", False, []),
        ("INGRESS_TRAFFIC_ALL", True, [RUN_OPEN]),
    ],
)
def test_cloud_run_ingress_and_iam(
    check_policy: Any, ingress: str, invoker_disabled: bool, expected: list[str]
) -> None:
    props = {**BASELINES[CLOUD_RUN_V2_SERVICE], "ingress": ingress, "invokerIamDisabled": invoker_disabled}
    assert check_policy(POLICY, CLOUD_RUN_V2_SERVICE, props) == expected


def test_websocket_routes_without_an_authorizer_slot_are_skipped(check_policy: Any) -> None:
    for key in ("$disconnect", "sendMessage"):
        assert check_policy(POLICY, APIGATEWAYV2_ROUTE, {"apiId": "a", "routeKey": key}) == []
    assert check_policy(POLICY, APIGATEWAYV2_ROUTE, {"apiId": "a", "routeKey": "$connect"}) == [ROUTE_OPEN]


def test_container_apps_with_client_certificates_pass(check_policy: Any) -> None:
    ingress = {"external": True, "clientCertificateMode": "require", "allowInsecure": True}
    assert check_policy(POLICY, CONTAINER_APP, {"configuration": {"ingress": ingress}}) == [
        "external ingress accepts plain HTTP (allowInsecure: true): set it to false"
    ]


@pytest.mark.parametrize(
    ("resource_type", "props", "expected"),
    [
        (
            "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
            {"name": "s", "role": "roles/run.invoker", "member": "allUsers"},
            [
                "grants `roles/run.invoker` to allUsers: anyone can call the service; "
                "grant roles/run.invoker to the calling service accounts only"
            ],
        ),
        (
            "gcp:cloudrun/iamBinding:IamBinding",
            {
                "service": "s",
                "role": "roles/run.invoker",
                "members": ["allAuthenticatedUsers", "serviceAccount:a@p.iam.gserviceaccount.com"],
            },
            [
                "grants `roles/run.invoker` to allAuthenticatedUsers: anyone can call the service; "
                "grant roles/run.invoker to the calling service accounts only"
            ],
        ),
        (
            "gcp:cloudfunctionsv2/functionIamPolicy:FunctionIamPolicy",
            {
                "policyData": json.dumps(
                    {"bindings": [{"role": "roles/cloudfunctions.invoker", "members": ["allUsers"]}]}
                )
            },
            [
                "policy binding 0 grants `roles/cloudfunctions.invoker` to allUsers: anyone can call the service; "
                "grant roles/run.invoker to the calling service accounts only"
            ],
        ),
        (
            "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
            {
                "name": "s",
                "role": "roles/run.invoker",
                "member": "serviceAccount:a@p.iam.gserviceaccount.com",
            },
            [],
        ),
        # Public grants elsewhere are other policies' business (gcs-buckets-private prevents them on buckets).
        (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            {"bucket": "b", "role": "roles/storage.objectViewer", "member": "allUsers"},
            [],
        ),
    ],
    ids=["v2-member", "v1-binding", "function-policy", "named-invoker", "not-an-endpoint"],
)
def test_public_invoker_grants(
    check_policy: Any, resource_type: str, props: dict[str, Any], expected: list[str]
) -> None:
    assert check_policy(POLICY, resource_type, props) == expected
