"""A synthetic fraud table with a drift knob, for `hub loop`, the tests and the benchmarks.

`drift` moves the inputs (bigger amounts, more night-time and far-away transactions) *and* the
concept (which combinations are fraud), so a model trained before the drift really does get worse
after it and a model retrained on drifted data really does get better: the loop's decisions are
earned, not scripted.
"""

import numpy as np
import pandas as pd

from lifecycle.features import FEATURES, LABEL


def generate(rows: int, *, seed: int, drift: float = 0.0) -> pd.DataFrame:
    """`rows` labelled transactions; `drift` in [0, 1] shifts inputs and concept together."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    if not 0.0 <= drift <= 1.0:
        raise ValueError(f"drift must be between 0 and 1, got {drift}")
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(mean=4.0 + 1.2 * drift, sigma=1.0, size=rows)
    account_age = rng.gamma(shape=2.0, scale=700.0 * (1.0 - 0.6 * drift), size=rows)
    transactions = rng.poisson(lam=3.0 + 6.0 * drift, size=rows).astype(float)
    distance = rng.exponential(scale=30.0 + 400.0 * drift, size=rows)
    night_share = 0.15 + 0.45 * drift
    hour = np.where(
        rng.random(rows) < night_share, rng.integers(0, 6, rows), rng.integers(6, 24, rows)
    ).astype(float)
    merchant_risk = rng.beta(2.0 + 3.0 * drift, 5.0, size=rows)
    device_trust = rng.beta(5.0, 2.0 + 3.0 * drift, size=rows)
    failed_logins = rng.poisson(lam=0.3 + 2.0 * drift, size=rows).astype(float)

    # Before drift fraud is about big amounts on young accounts; after it, about many transactions
    # from untrusted devices far away. A model of one regime scores poorly on the other.
    score_before = (
        1.4 * np.log1p(amount) - 0.002 * account_age + 2.0 * merchant_risk + 0.4 * failed_logins - 8.5
    )
    score_after = 0.35 * transactions + 0.004 * distance - 4.0 * device_trust + 1.5 * (hour < 6) - 4.5
    logit = (1.0 - drift) * score_before + drift * score_after + rng.normal(0.0, 0.5, rows)
    label = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame(
        {
            "amount": amount,
            "account_age_days": account_age,
            "transactions_24h": transactions,
            "distance_km": distance,
            "hour": hour,
            "merchant_risk": merchant_risk,
            "device_trust": device_trust,
            "failed_logins_7d": failed_logins,
        }
    )
    for feature in FEATURES:
        frame[feature.name] = frame[feature.name].clip(feature.minimum, feature.maximum)
    frame[LABEL] = label
    return frame
