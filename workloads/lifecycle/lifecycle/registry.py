"""The model registry's vocabulary: one registered model per use case, aliases mark the roles.

MLflow aliases are the promotion mechanism: serving follows `champion`, training leaves a candidate
that did not win as `challenger`, and promotion moves the old champion to `previous_champion` so the
monitor can roll back in one step.
"""

from typing import Final

CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"
PREVIOUS_CHAMPION: Final = "previous_champion"
DEFAULT_MODEL_NAME: Final = "fraud-detector"

HOLDOUT_METRIC: Final = "holdout_roc_auc"
"""The metric champion and challenger are compared on (higher is better)."""
REFERENCE_ARTIFACT: Final = "reference/reference.parquet"
"""Sample of the training inputs logged with every model run: the monitor's drift reference."""


def model_uri(model_name: str, alias: str = CHAMPION) -> str:
    """`models:/<name>@<alias>`, the URI MLflow resolves through the alias at load time."""
    return f"models:/{model_name}@{alias}"
