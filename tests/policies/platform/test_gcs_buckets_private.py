"""gcs-buckets-private: a compliant baseline and single-property mutations."""

from typing import Any

import pytest

from mlops_policies.gcs_buckets_private import POLICY
from mlops_policies.platform_types import GCS_BUCKET

BASELINE: dict[str, Any] = {
    "location": "EUROPE-WEST4",
    "uniformBucketLevelAccess": True,
    "publicAccessPrevention": "enforced",
}
ACLS = "object ACLs are in use (a single ACL can publish an object): set uniformBucketLevelAccess: true"
PREVENTION = "public access prevention is not enforced: set publicAccessPrevention: enforced"


def test_baseline_passes(check_policy: Any) -> None:
    assert check_policy(POLICY, GCS_BUCKET, BASELINE) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("uniformBucketLevelAccess", False, [ACLS]),
        ("uniformBucketLevelAccess", ..., [ACLS]),
        ("publicAccessPrevention", "inherited", [PREVENTION]),
        ("publicAccessPrevention", ..., [PREVENTION]),
    ],
    ids=["acls", "acls-by-default", "inherited", "unset"],
)
def test_mutations(check_policy: Any, with_value: Any, path: str, value: Any, expected: list[str]) -> None:
    assert check_policy(POLICY, GCS_BUCKET, with_value(BASELINE, path, value)) == expected


def test_other_types_are_ignored(check_policy: Any) -> None:
    assert check_policy(POLICY, "aws:s3/bucket:Bucket", {}) == []
