"""The feature contract of the example model: one table of features with their valid domains.

Training validates with the Pandera schema built from it, serving validates requests against it, and
monitoring computes drift over these columns. A team forking mlops-hub replaces `FEATURES` (and the
synthetic generator) with its own; the workloads read nothing else about the data.
"""

from dataclasses import dataclass
from typing import Final

import pandera.pandas as pa


@dataclass(frozen=True)
class Feature:
    """One numeric model input and the closed interval of values the model accepts."""

    name: str
    minimum: float
    maximum: float
    description: str


FEATURES: Final[tuple[Feature, ...]] = (
    Feature("amount", 0.0, 50_000.0, "transaction amount in EUR"),
    Feature("account_age_days", 0.0, 20_000.0, "days since the account was opened"),
    Feature("transactions_24h", 0.0, 500.0, "transactions on the account in the last 24 hours"),
    Feature("distance_km", 0.0, 20_000.0, "distance from the account's usual location"),
    Feature("hour", 0.0, 23.0, "hour of day, local time"),
    Feature("merchant_risk", 0.0, 1.0, "merchant category risk score"),
    Feature("device_trust", 0.0, 1.0, "device fingerprint trust score"),
    Feature("failed_logins_7d", 0.0, 100.0, "failed logins in the last 7 days"),
)
"""Model inputs, in the column order the model is trained and served with."""

FEATURE_NAMES: Final[tuple[str, ...]] = tuple(feature.name for feature in FEATURES)
LABEL: Final = "label"
"""Binary target: 1 = fraud."""


def training_schema() -> pa.DataFrameSchema:
    """Pandera schema of a training table: every feature present, numeric, non-null and in its domain,
    and a 0/1 label. `lazy=True` validation reports every failing row, which training quarantines."""
    columns = {
        feature.name: pa.Column(
            float,
            checks=pa.Check.in_range(feature.minimum, feature.maximum),
            nullable=False,
            coerce=True,
            description=feature.description,
        )
        for feature in FEATURES
    }
    columns[LABEL] = pa.Column(int, checks=pa.Check.isin([0, 1]), nullable=False, coerce=True)
    return pa.DataFrameSchema(columns, strict="filter", ordered=False, name="training-table")
