"""azure-no-owner-like-custom-roles: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.azure_no_owner_like_custom_roles import POLICY
from mlops_policies.platform_types import ROLE_DEFINITION

BASELINE: dict[str, Any] = {
    "roleName": "ml-model-reader",
    "scope": "/subscriptions/s",
    "permissions": [
        {
            "actions": ["Microsoft.MachineLearningServices/workspaces/models/read"],
            "notActions": [],
            "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"],
        }
    ],
}
EVERY = "permissions[0] allows every action (`*`); list the actions the role needs"


def _assigning(actions: str) -> str:
    return (
        f"permissions[0] can assign roles ({actions}), so its holder can make itself Owner; "
        "leave role assignment to the built-in User Access Administrator role"
    )


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, ROLE_DEFINITION, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("permissions.0.actions", ["*"], [EVERY]),
        # Contributor's shape: still every action outside Microsoft.Authorization.
        ("permissions.0.notActions", ["Microsoft.Authorization/*/Write"], []),
        (
            "permissions.0.actions",
            ["Microsoft.Authorization/roleAssignments/write"],
            [_assigning("`Microsoft.Authorization/roleAssignments/write`")],
        ),
        ("permissions.0.actions", ["microsoft.authorization/*"], [_assigning("`microsoft.authorization/*`")]),
        ("permissions.0.dataActions", ["*"], []),
    ],
    ids=["star", "not-actions-alone", "role-assignment-write", "authorization-star", "data-actions-star"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, ROLE_DEFINITION, with_value(BASELINE, path, value)) == expected


def test_contributor_like_roles_still_allow_every_action(check_policy: Any) -> None:
    props = {"permissions": [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/Write"]}]}
    assert check_policy(POLICY, ROLE_DEFINITION, props) == [EVERY]


def test_excluded_role_assignment_is_fine(check_policy: Any) -> None:
    props = {
        "permissions": [
            {
                "actions": ["Microsoft.Authorization/roleAssignments/write"],
                "notActions": ["Microsoft.Authorization/roleAssignments/write"],
            }
        ]
    }
    assert check_policy(POLICY, ROLE_DEFINITION, props) == []
