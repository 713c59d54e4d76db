"""s3-public-access-blocked: a compliant baseline and single-property mutations, run as AnalyzeStack runs it."""

from typing import Any

import pytest

from mlops_policies.aws_types import (
    S3_ACCOUNT_PUBLIC_ACCESS_BLOCK,
    S3_BUCKET,
    S3_BUCKET_PUBLIC_ACCESS_BLOCK,
    S3_BUCKET_V2,
)
from mlops_policies.s3_public_access_blocked import POLICY

FLAGS = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}
MISSING = (
    "bucket has no aws:s3/bucketPublicAccessBlock; add one for it with blockPublicAcls, blockPublicPolicy, "
    "ignorePublicAcls and restrictPublicBuckets all true"
)


def _bucket(name: str = "data", resource_type: str = S3_BUCKET, **props: Any) -> dict[str, Any]:
    return {"type": resource_type, "name": name, "props": props}


def _block(unknown: str, bucket: str = "data", **changes: Any) -> dict[str, Any]:
    props = {k: v for k, v in {"bucket": unknown, **FLAGS, **changes}.items() if v is not None}
    return {
        "type": S3_BUCKET_PUBLIC_ACCESS_BLOCK,
        "name": f"{bucket}-pab",
        "props": props,
        "property_dependencies": {"bucket": [bucket]},
    }


def test_baseline_passes_with_the_bucket_unknown_in_preview(check_stack_policy: Any, unknown: str) -> None:
    run = check_stack_policy(POLICY, [_bucket(), _block(unknown)])
    assert (run.violations, run.unknown) == ([], None)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"blockPublicPolicy": False}, "blockPublicPolicy"),
        ({"blockPublicAcls": None, "ignorePublicAcls": None}, "blockPublicAcls, ignorePublicAcls"),
        ({"restrictPublicBuckets": "true"}, "restrictPublicBuckets"),  # only a real boolean counts
    ],
    ids=["policy-off", "acls-unset", "string-true"],
)
def test_flag_mutations(
    check_stack_policy: Any, unknown: str, changes: dict[str, Any], expected: str
) -> None:
    run = check_stack_policy(POLICY, [_bucket(), _block(unknown, **changes)])
    assert run.violations == [
        ("data-pab", f"public access block leaves {expected} off; set all four flags to true")
    ]


def test_a_bucket_without_a_block(check_stack_policy: Any, unknown: str) -> None:
    run = check_stack_policy(POLICY, [_bucket(), _bucket("logs", S3_BUCKET_V2), _block(unknown)])
    assert (run.violations, run.unknown) == ([("logs", MISSING)], None)


def test_pairing_by_bucket_name_when_there_is_no_dependency(check_stack_policy: Any) -> None:
    block = {"type": S3_BUCKET_PUBLIC_ACCESS_BLOCK, "name": "pab", "props": {"bucket": "mlops-data", **FLAGS}}
    assert check_stack_policy(POLICY, [_bucket(bucket="mlops-data"), block]).violations == []
    assert check_stack_policy(POLICY, [_bucket(bucket="mlops-other"), block]).violations == [
        ("data", MISSING)
    ]


def test_an_unplaceable_block_defers_missing_findings_to_the_advisory(
    check_stack_policy: Any, unknown: str
) -> None:
    block = {"type": S3_BUCKET_PUBLIC_ACCESS_BLOCK, "name": "pab", "props": {"bucket": unknown, **FLAGS}}
    run = check_stack_policy(POLICY, [_bucket(), block])
    assert run.violations == []
    assert run.unknown == "string value at .bucket can't be known during preview"


def test_an_unknown_flag_does_not_hide_another_buckets_finding(check_stack_policy: Any, unknown: str) -> None:
    run = check_stack_policy(POLICY, [_bucket(), _block(unknown, blockPublicAcls=unknown), _bucket("logs")])
    assert run.violations == [("logs", MISSING)]
    assert run.unknown == "string value at .blockPublicAcls can't be known during preview"


def test_an_account_level_block_with_all_flags_covers_every_bucket(
    check_stack_policy: Any, unknown: str
) -> None:
    account = {"type": S3_ACCOUNT_PUBLIC_ACCESS_BLOCK, "name": "account", "props": FLAGS}
    run = check_stack_policy(
        POLICY, [account, _bucket(), _bucket("logs"), _block(unknown, blockPublicPolicy=False)]
    )
    assert (run.violations, run.unknown) == ([], None)
    partial = {**account, "props": {**FLAGS, "restrictPublicBuckets": False}}
    assert check_stack_policy(POLICY, [partial, _bucket()]).violations == [("data", MISSING)]


def test_no_buckets_no_findings(check_stack_policy: Any) -> None:
    assert check_stack_policy(POLICY, []).violations == []


def test_an_unreadable_account_level_block_defers_missing_findings(
    check_stack_policy: Any, unknown: str
) -> None:
    account = {
        "type": S3_ACCOUNT_PUBLIC_ACCESS_BLOCK,
        "name": "account",
        "props": {**FLAGS, "blockPublicAcls": unknown},
    }
    run = check_stack_policy(POLICY, [account, _bucket()])
    assert run.violations == []
    assert run.unknown == "string value at .blockPublicAcls can't be known during preview"
