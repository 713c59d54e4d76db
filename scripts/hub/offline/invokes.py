"""Offline answers for the account-level invokes Pulumi programs commonly call.

The answers are derived from the provider's own configuration (its region, project, location), so a
program sees data shaped like the cloud's; identifiers are the documentation placeholders each cloud uses
(account 123456789012, the all-zero subscription). Any other invoke gets no data and a warning, because
there is no honest offline answer to, say, a lookup of an existing VPC.
"""

from collections.abc import Callable, Mapping
from typing import Any

from pulumi.runtime.config import get_config

_AWS_ACCOUNT = "123456789012"
_AZURE_ZERO_ID = "00000000-0000-0000-0000-000000000000"


def _aws_region(provider: Mapping[str, Any]) -> str:
    region = provider.get("region") or get_config("aws:region")
    return str(region) if region else "us-east-1"


def _aws_zones(args: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any]:
    region = _aws_region(provider)
    suffixes = "abc"
    parts = region.split("-")
    zone_id_prefix = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]  # eu-west-1 -> euw1
    return {
        "id": region,
        "names": [f"{region}{s}" for s in suffixes],
        "zoneIds": [f"{zone_id_prefix}-az{i + 1}" for i in range(len(suffixes))],
        "groupNames": [region] * len(suffixes),
        "state": args.get("state", "available"),
    }


def _aws_caller(args: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": _AWS_ACCOUNT,
        "accountId": _AWS_ACCOUNT,
        "arn": f"arn:aws:iam::{_AWS_ACCOUNT}:user/offline-preview",
        "userId": "AIDAOFFLINEPREVIEW",
    }


def _aws_region_info(args: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any]:
    region = str(args.get("region") or args.get("name") or _aws_region(provider))
    return {
        "id": region,
        "name": region,
        "region": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
        "description": region,
    }


def _aws_partition(args: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": "aws",
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


def _gcp_client(args: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any]:
    project = str(provider.get("project") or get_config("gcp:project") or "offline-project")
    return {
        "id": project,
        "project": project,
        "region": provider.get("region") or get_config("gcp:region") or "",
        "zone": provider.get("zone") or "",
        "accessToken": "",
    }


def _gcp_project(args: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any]:
    project = str(args.get("projectId") or provider.get("project") or "offline-project")
    return {"id": f"projects/{project}", "projectId": project, "number": "123456789012", "name": project}


def _azure_client(args: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "clientId": _AZURE_ZERO_ID,
        "objectId": _AZURE_ZERO_ID,
        "subscriptionId": str(provider.get("subscriptionId") or _AZURE_ZERO_ID),
        "tenantId": str(provider.get("tenantId") or _AZURE_ZERO_ID),
    }


_ANSWERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _aws_zones,
    "aws:index/getCallerIdentity:getCallerIdentity": _aws_caller,
    "aws:index/getRegion:getRegion": _aws_region_info,
    "aws:index/getPartition:getPartition": _aws_partition,
    "gcp:organizations/getClientConfig:getClientConfig": _gcp_client,
    "gcp:organizations/getProject:getProject": _gcp_project,
    "azure-native:authorization:getClientConfig": _azure_client,
}

OFFLINE_INVOKES = frozenset(_ANSWERS)
"""Invoke tokens answered offline."""


def answer_invoke(token: str, args: Mapping[str, Any], provider: Mapping[str, Any]) -> dict[str, Any] | None:
    """The offline result of invoke `token`, or None when it has no offline answer."""
    answer = _ANSWERS.get(token)
    return None if answer is None else answer(args, provider)
