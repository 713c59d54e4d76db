"""gcp-no-basic-roles: a compliant baseline and single-property mutations."""

import json
from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.gcp_no_basic_roles import POLICY

MEMBER = "gcp:projects/iAMMember:IAMMember"
BINDING = "gcp:serviceaccount/iAMBinding:IAMBinding"
BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember"
POLICY_TYPE = "gcp:projects/iAMPolicy:IAMPolicy"
BASELINE: dict[str, Any] = {
    "project": "p",
    "role": "roles/logging.logWriter",
    "member": "serviceAccount:n@p.iam.gserviceaccount.com",
}
FIX = "grant a predefined or custom role with only the permissions the principal uses"


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, MEMBER, BASELINE) == []


@pytest.mark.parametrize(
    ("resource_type", "role", "expected"),
    [
        (MEMBER, "roles/owner", [f"grants the basic role `roles/owner`; {FIX}"]),
        (MEMBER, "roles/editor", [f"grants the basic role `roles/editor`; {FIX}"]),
        (BINDING, "roles/viewer", [f"grants the basic role `roles/viewer`; {FIX}"]),
        (BUCKET_MEMBER, "roles/editor", [f"grants the basic role `roles/editor`; {FIX}"]),
        (MEMBER, "roles/iam.serviceAccountUser", []),
    ],
    ids=["owner", "editor", "viewer-on-binding", "bucket-member", "predefined-role"],
)
def test_role_mutations(check_policy: Any, resource_type: str, role: str, expected: list[str]) -> None:
    assert check_policy(POLICY, resource_type, {**BASELINE, "role": role}) == expected


def test_policy_documents_are_read_binding_by_binding(check_policy: Any) -> None:
    document = {
        "bindings": [
            {"role": "roles/run.invoker", "members": ["serviceAccount:a@p.iam.gserviceaccount.com"]},
            {"role": "roles/owner", "members": ["user:admin@example.com"]},
        ]
    }
    assert check_policy(POLICY, POLICY_TYPE, {"project": "p", "policyData": json.dumps(document)}) == [
        f"policy binding 1 grants the basic role `roles/owner`; {FIX}"
    ]


def test_other_types_are_ignored(check_policy: Any) -> None:
    assert check_policy(POLICY, "gcp:projects/iAMCustomRole:IAMCustomRole", {"role": "roles/owner"}) == []
    assert check_policy(POLICY, "aws:iam/role:Role", {"role": "roles/owner"}) == []


def test_an_unknown_role_is_left_to_the_sdk(check_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_policy(POLICY, MEMBER, {**BASELINE, "role": unknown})


def test_members_unknown_in_preview_do_not_stop_the_check(check_policy: Any, unknown: str) -> None:
    # The member is usually another resource's output (a service account's `member`); the role decides.
    assert check_policy(POLICY, MEMBER, {**BASELINE, "member": unknown}) == []
    assert check_policy(POLICY, MEMBER, {**BASELINE, "role": "roles/editor", "member": unknown}) == [
        f"grants the basic role `roles/editor`; {FIX}"
    ]
