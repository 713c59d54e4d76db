"""log-retention-at-least-180-days: a compliant baseline and single-property mutations."""

from typing import Any

import pytest
from pulumi_policy.proxy import UnknownValueError

from mlops_policies.aws_types import LOG_GROUP
from mlops_policies.log_retention_at_least_180_days import POLICY

BASELINE: dict[str, Any] = {"name": "/mlops-hub/serving", "retentionInDays": 365}


def test_baseline_passes(check_aws_policy: Any) -> None:
    assert check_aws_policy(POLICY, LOG_GROUP, BASELINE) == []


@pytest.mark.parametrize(
    ("retention", "expected"),
    [
        (None, []),  # never expire
        (0, []),  # never expire
        (180, []),
        (
            30,
            [
                "keeps log events 30 days; set retentionInDays to at least 180 (or leave it unset to keep them)"
            ],
        ),
        (
            179,
            [
                "keeps log events 179 days; set retentionInDays to at least 180 (or leave it unset to keep them)"
            ],
        ),
    ],
    ids=["unset", "zero", "minimum", "month", "one-short"],
)
def test_mutations(check_aws_policy: Any, retention: int | None, expected: list[str]) -> None:
    props = {k: v for k, v in {**BASELINE, "retentionInDays": retention}.items() if v is not None}
    assert check_aws_policy(POLICY, LOG_GROUP, props) == expected


@pytest.mark.parametrize("minimum", [400, 400.0], ids=["int", "float-as-delivered"])
def test_minimum_is_configurable(check_aws_policy: Any, minimum: float) -> None:
    assert check_aws_policy(POLICY, LOG_GROUP, BASELINE, config={"minimumDays": minimum}) == [
        "keeps log events 365 days; set retentionInDays to at least 400 (or leave it unset to keep them)"
    ]
    assert (
        check_aws_policy(
            POLICY, LOG_GROUP, {**BASELINE, "retentionInDays": 400}, config={"minimumDays": minimum}
        )
        == []
    )


def test_an_unknown_retention_is_not_swallowed(check_aws_policy: Any, unknown: str) -> None:
    with pytest.raises(UnknownValueError):
        check_aws_policy(POLICY, LOG_GROUP, {**BASELINE, "retentionInDays": unknown})


def test_schema_states_the_default() -> None:
    assert POLICY.config_schema is not None
    assert POLICY.config_schema.properties["minimumDays"]["default"] == 180
