"""resources-in-allowed-regions: every resource lands in a region its stack's residency zone allows."""

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import (
    STRING_LIST,
    config_schema,
    config_value,
    package_of,
    report_all,
    shown,
    stack_config,
)
from mlops_policies.platform_types import CLOUD_OF_PACKAGE
from mlops_policies.support import Controls, resource_policy

OWN_KEYS: dict[str, tuple[str, ...]] = {
    "aws": ("region", "availabilityZone"),
    "gcp": ("region", "location", "zone"),
    "azure": ("location",),
}
"""Inputs that place a resource itself (pulumi-aws 7 gives nearly every resource a `region`)."""
PROVIDER_KEYS: dict[str, tuple[str, ...]] = {
    "aws": ("region",),
    "gcp": ("region", "zone"),
    "azure": ("location",),
}
"""Provider inputs that place the resources which do not say where they go."""
STACK_CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "aws": ("aws:region",),
    "gcp": ("gcp:region", "gcp:zone"),
    "azure": ("azure-native:location",),
}
"""Stack config the default provider of each cloud reads its placement from."""
NOT_A_REGION = frozenset({"global"})
"""Locations of global resources (Azure DNS zones, GCP global key rings): not a residency choice."""

_AWS_ZONE = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")
_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")
_REGION_TEXT = re.compile(r"^[a-z0-9-]{2,40}$")


def normalized_region(cloud: str, value: str) -> str:
    """A region as the allowed lists spell it: lowercase, Azure without spaces, zones as their region."""
    region = value.strip().lower()
    if cloud == "azure":
        return region.replace(" ", "")
    zone = (_AWS_ZONE if cloud == "aws" else _GCP_ZONE).match(region)
    return zone.group(1) if zone else region


def _outside(cloud: str, value: str, allowed: frozenset[str]) -> str | None:
    region = normalized_region(cloud, value)
    if region in NOT_A_REGION or region in allowed:
        return None
    return region


def placement_problems(
    cloud: str,
    own: Mapping[str, Any],
    inherited: tuple[str, Any] | None,
    allowed: Sequence[str],
) -> Iterator[str]:
    """Messages for placements outside `allowed` (empty: every region is allowed).

    Args:
        cloud: `aws`, `gcp` or `azure`.
        own: the resource's own placement inputs that are set (`region`, `location`, `zone`...).
        inherited: (where it comes from, value) of the provider's placement, used when `own` has none.
        allowed: the allowed regions of this cloud.
    """
    if not allowed:
        return
    permitted = frozenset(normalized_region(cloud, region) for region in allowed)
    placed = {key: value for key, value in own.items() if isinstance(value, str) and value.strip()}
    for key, value in placed.items():
        region = _outside(cloud, value, permitted)
        if region is not None:
            yield f"{key} {shown(region, _REGION_TEXT)} is outside the allowed {cloud} regions (allowedRegions.{cloud})"
    if placed:
        return
    if inherited is None or not (isinstance(inherited[1], str) and inherited[1].strip()):
        if cloud == "aws":
            yield (
                "no AWS region is pinned on the resource or its provider, so the deploying environment "
                "(AWS_REGION, the profile) decides: set the provider's region"
            )
        return
    source, value = inherited
    region = _outside(cloud, value, permitted)
    if region is not None:
        yield (
            f"{source} deploys to {shown(region, _REGION_TEXT)}, outside the allowed {cloud} regions "
            f"(allowedRegions.{cloud})"
        )


def _inherited(args: ResourceValidationArgs, cloud: str) -> tuple[str, Any] | None:
    if args.provider is not None:
        props = args.provider.props
        for key in PROVIDER_KEYS[cloud]:
            if props.get(key):
                return f"its provider ({key})", props[key]
        return None
    config = stack_config()
    for key in STACK_CONFIG_KEYS[cloud]:
        if config.get(key):
            return f"the default provider (stack config {key})", config[key]
    return None


def allowed_regions(args: ResourceValidationArgs, cloud: str) -> list[str]:
    """The configured allowed regions of `cloud` (empty: any).

    Raises:
        ValueError: `allowedRegions` is not an object of string lists.
    """
    configured = config_value(args, "allowedRegions", {})
    if not isinstance(configured, Mapping):
        raise ValueError("policy config `allowedRegions` must map aws, gcp and azure to lists of regions")
    regions = configured.get(cloud) or []
    if (
        not isinstance(regions, Sequence)
        or isinstance(regions, str)
        or not all(isinstance(r, str) for r in regions)
    ):
        raise ValueError(f"policy config `allowedRegions.{cloud}` must be a list of regions")
    return list(regions)


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    cloud = CLOUD_OF_PACKAGE.get(package_of(args.resource_type))
    if cloud is None:
        return
    allowed = allowed_regions(args, cloud)
    if not allowed:
        return
    own = {key: args.props[key] for key in OWN_KEYS[cloud] if key in args.props}
    inherited = None if own else _inherited(args, cloud)
    report_all(placement_problems(cloud, own, inherited, allowed), report_violation)


POLICY = resource_policy(
    name="resources-in-allowed-regions",
    description=(
        "Every AWS, GCP and Azure resource, through its own region/location or its provider's, lands in a "
        "region its stack's data-residency zone allows."
    ),
    severity=Severity.CRITICAL,
    remediation=(
        "Deploy to a region listed in the stack's allowedRegions (policies/config/<stack>.json, the residency "
        "zone of stacks/residency.py): set the provider's region/location and any per-resource region, "
        "location or zone to one of them. Moving data out of the EU/EEA needs a GDPR Chapter V transfer basis."
    ),
    controls=Controls(nist=("SC-7", "CM-6"), gdpr=("Art.44",), eu_ai_act=("Art.10",)),
    validate=_validate,
    config_schema=config_schema(
        {
            "allowedRegions": {
                "type": "object",
                "properties": {"aws": STRING_LIST, "gcp": STRING_LIST, "azure": STRING_LIST},
                "default": {},
                "description": "Allowed regions per cloud (aws, gcp, azure); an empty or absent list allows any.",
            }
        }
    ),
)
