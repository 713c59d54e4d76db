"""azure-no-owner-like-custom-roles: custom Azure roles never allow every action or role assignment."""

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from mlops_policies.platform_support import report_all, unversioned
from mlops_policies.platform_types import ROLE_DEFINITION
from mlops_policies.support import Controls, as_list, resource_policy

EVERY_ACTION = "*"
ROLE_ASSIGNING_ACTIONS = frozenset(
    {
        "microsoft.authorization/*",
        "microsoft.authorization/*/write",
        "microsoft.authorization/roleassignments/*",
        "microsoft.authorization/roleassignments/write",
        "microsoft.authorization/roledefinitions/*",
        "microsoft.authorization/roledefinitions/write",
    }
)
"""Actions (lowercased) that let the holder grant itself any role: Owner in all but name."""


def owner_like_permissions(type_token: str, props: Mapping[str, Any]) -> Iterator[str]:
    """A message for each permission block allowing `*` or assigning roles."""
    if unversioned(type_token) != ROLE_DEFINITION:
        return
    for index, permission in enumerate(as_list(props.get("permissions"))):
        if not isinstance(permission, Mapping):
            continue
        actions = [a for a in as_list(permission.get("actions")) if isinstance(a, str)]
        excluded = {a.lower() for a in as_list(permission.get("notActions")) if isinstance(a, str)}
        if EVERY_ACTION in actions:
            yield f"permissions[{index}] allows every action (`*`); list the actions the role needs"
        assigning = sorted(
            {a for a in actions if a.lower() in ROLE_ASSIGNING_ACTIONS and a.lower() not in excluded}
        )
        if assigning:
            yield (
                f"permissions[{index}] can assign roles ({', '.join(f'`{a}`' for a in assigning)}), so its holder "
                "can make itself Owner; leave role assignment to the built-in User Access Administrator role"
            )


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    report_all(owner_like_permissions(args.resource_type, args.props), report_violation)


POLICY = resource_policy(
    name="azure-no-owner-like-custom-roles",
    description=(
        "Custom Azure role definitions never allow every action (`*`) or role assignment "
        "(Microsoft.Authorization write), which would make them Owner-equivalent."
    ),
    severity=Severity.CRITICAL,
    remediation=(
        "List the specific Microsoft.<Provider>/<resource>/<action> operations the role needs; use built-in "
        "roles for administration and grant them through time-bound (PIM) assignments."
    ),
    controls=Controls(cis=("Azure-1.23",), nist=("AC-6", "AC-6(1)", "AC-2")),
    validate=_validate,
)
