"""azure-storage-secure-transport: storage accounts take HTTPS with TLS 1.2+ only and no anonymous blob access."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import is_false, report_all, unversioned
from mlops_policies.platform_types import STORAGE_ACCOUNT
from mlops_policies.support import Controls, resource_policy

MINIMUM_TLS = "TLS1_2"
_ACCEPTED_TLS = frozenset({"TLS1_2", "TLS1_3"})
_HTTPS_ONLY_KEYS = ("enableHttpsTrafficOnly", "supportsHttpsTrafficOnly")


def insecure_transport(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for HTTP allowed, TLS below 1.2, and anonymous blob access not switched off."""
    if unversioned(type_token) != STORAGE_ACCOUNT:
        return
    # HTTPS-only is the API default since 2019-04-01: only an explicit false opens plain HTTP.
    if any(is_false(props.get(key)) for key in _HTTPS_ONLY_KEYS):
        yield "plain HTTP is accepted: set enableHttpsTrafficOnly: true"
    if props.get("minimumTlsVersion") not in _ACCEPTED_TLS:
        yield f"TLS versions below 1.2 are accepted: set minimumTlsVersion: {MINIMUM_TLS}"
    # Older API versions default to allowing anonymous access; an explicit false holds on every version.
    if not is_false(props.get("allowBlobPublicAccess")):
        yield "containers can be made anonymously readable: set allowBlobPublicAccess: false"


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(insecure_transport(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="azure-storage-secure-transport",
    description=(
        "Azure storage accounts accept HTTPS only, with TLS 1.2 or later, and never allow anonymous "
        "(public) blob access."
    ),
    severity=Severity.HIGH,
    remediation="Set enableHttpsTrafficOnly: true, minimumTlsVersion: TLS1_2 and allowBlobPublicAccess: false.",
    controls=Controls(
        cis=("Azure-3.1", "Azure-3.7", "Azure-3.15"), nist=("SC-8", "SC-13", "AC-3"), gdpr=("Art.32",)
    ),
    validate=_validate,
)
