"""azure-local-auth-disabled: Azure data services accept Entra ID tokens only, never keys or admin users."""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import is_true, report_all, unversioned
from mlops_policies.platform_types import (
    COGNITIVE_ACCOUNT,
    CONTAINER_REGISTRY,
    COSMOS_ACCOUNTS,
    LOG_ANALYTICS_WORKSPACE,
    STORAGE_ACCOUNT,
)
from mlops_policies.support import Controls, get, resource_policy


def _storage(props: Mapping[str, Any]) -> Iterator[str]:
    # Unset means allowed: Azure's default is to accept account keys and SAS tokens signed with them.
    if props.get("allowSharedKeyAccess") is not False:
        yield "account keys and key-signed SAS tokens are accepted: set allowSharedKeyAccess: false"


def _cosmos(props: Mapping[str, Any]) -> Iterator[str]:
    if not is_true(props.get("disableLocalAuth")):
        yield "primary and secondary keys are accepted: set disableLocalAuth: true"


def _registry(props: Mapping[str, Any]) -> Iterator[str]:
    if is_true(props.get("adminUserEnabled")):
        yield "the admin user (a shared password with push rights) is enabled: set adminUserEnabled: false"


def _cognitive(props: Mapping[str, Any]) -> Iterator[str]:
    if not is_true(get(props, "properties", "disableLocalAuth")):
        yield "API keys are accepted: set properties.disableLocalAuth: true"


def _log_analytics(props: Mapping[str, Any]) -> Iterator[str]:
    if not is_true(get(props, "features", "disableLocalAuth")):
        yield "workspace keys are accepted for ingestion and queries: set features.disableLocalAuth: true"


_CHECKS: dict[str, Callable[[Mapping[str, Any]], Iterator[str]]] = {
    STORAGE_ACCOUNT: _storage,
    **dict.fromkeys(COSMOS_ACCOUNTS, _cosmos),
    CONTAINER_REGISTRY: _registry,
    COGNITIVE_ACCOUNT: _cognitive,
    LOG_ANALYTICS_WORKSPACE: _log_analytics,
}


def local_auth(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each key- or password-based way in that the resource leaves open."""
    check = _CHECKS.get(unversioned(type_token))
    if check is not None:
        yield from check(props)


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(local_auth(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="azure-local-auth-disabled",
    description=(
        "Storage accounts, Cosmos DB accounts, container registries, Azure AI (Cognitive) Services and Log "
        "Analytics workspaces accept Microsoft Entra ID only: no shared keys, local auth or admin users."
    ),
    severity=Severity.HIGH,
    remediation=(
        "Set allowSharedKeyAccess: false (storage), disableLocalAuth: true (Cosmos DB), adminUserEnabled: false "
        "(ACR), properties.disableLocalAuth: true (Cognitive Services), features.disableLocalAuth: true (Log "
        "Analytics), and grant workloads data-plane roles through their managed identities."
    ),
    controls=Controls(cis=("Azure-3.3", "Azure-9.1"), nist=("IA-2", "IA-5", "AC-6"), gdpr=("Art.32",)),
    validate=_validate,
)
