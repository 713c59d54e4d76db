"""How a registered model is loaded and scored, whichever trainer produced it.

Training tags every model version with `flavor`: `sklearn` (load with `mlflow.sklearn.load_model`, the
fast path) or `pyfunc` (load with `mlflow.pyfunc.load_model`). Both answer the same question the same
way: `predict_proba(features)` on a float matrix in `FEATURE_NAMES` order returns an `(n, 2)` array of
`[P(legit), P(fraud)]`, and the pyfunc's own `predict` returns that array too.

The torch trainer's MLP is logged as `MlpPythonModel`: its weights as a NumPy `.npz` artifact (no
pickle) and a forward pass in NumPy, so serving needs neither torch nor a GPU and one row scores in
microseconds. The class is pickled by reference, so any image that loads such a model needs this
package (serving, monitoring and training all copy it).
"""

from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol, cast

import mlflow.sklearn
import numpy as np
import numpy.typing as npt
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel, load_model
from mlflow.pyfunc.model import PythonModel

from lifecycle.features import FEATURE_NAMES

FLAVOR_TAG: Final = "flavor"
"""Model-version tag naming the loader to use (`Flavor`)."""
WEIGHTS_ARTIFACT: Final = "weights"
"""Key of the `.npz` artifact of an `MlpPythonModel`."""

FloatMatrix = npt.NDArray[np.float64]


class Flavor(StrEnum):
    """Values of the `flavor` model-version tag."""

    SKLEARN = "sklearn"
    PYFUNC = "pyfunc"


class ProbabilityModel(Protocol):
    """What serving, monitoring and training call: `(n, 8)` features → `(n, 2)` class probabilities."""

    def predict_proba(self, features: Any) -> Any:
        """`[P(legit), P(fraud)]` for each row."""
        ...


def feature_matrix(rows: pd.DataFrame | npt.ArrayLike) -> FloatMatrix:
    """Rows as a float64 matrix in `FEATURE_NAMES` order (a DataFrame is reordered by column name)."""
    if isinstance(rows, pd.DataFrame):
        return rows.loc[:, list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    matrix = np.asarray(rows, dtype=np.float64)
    return matrix.reshape(1, -1) if matrix.ndim == 1 else matrix


class MlpScorer:
    """A ReLU multilayer perceptron with one logit output, on standardized inputs, in NumPy."""

    def __init__(
        self,
        mean: FloatMatrix,
        scale: FloatMatrix,
        weights: list[FloatMatrix],
        biases: list[FloatMatrix],
    ) -> None:
        """`weights[i]` is `(out, in)` like torch's `Linear.weight`; the last layer has one output."""
        if len(weights) != len(biases) or not weights:
            raise ValueError("an MLP needs one bias per weight matrix and at least one layer")
        if weights[-1].shape[0] != 1:
            raise ValueError(f"the last layer must have one output, got {weights[-1].shape[0]}")
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.weights = [np.asarray(weight, dtype=np.float64).T.copy() for weight in weights]
        self.biases = [np.asarray(bias, dtype=np.float64) for bias in biases]

    def predict_proba(self, features: Any) -> FloatMatrix:
        """`[P(legit), P(fraud)]` for each row of `features`."""
        hidden = (feature_matrix(features) - self.mean) / self.scale
        for weight, bias in zip(self.weights[:-1], self.biases[:-1], strict=True):
            hidden = np.maximum(hidden @ weight + bias, 0.0)
        logit = (hidden @ self.weights[-1] + self.biases[-1])[:, 0]
        fraud = 0.5 * (1.0 + np.tanh(0.5 * logit))  # the logistic function, without overflow warnings
        return np.column_stack((1.0 - fraud, fraud))

    def save(self, path: Path) -> None:
        """Write the parameters as an uncompressed `.npz` (plain arrays, loadable without pickle)."""
        arrays: dict[str, FloatMatrix] = {"mean": self.mean, "scale": self.scale}
        for index, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"weight_{index}"] = weight.T
            arrays[f"bias_{index}"] = bias
        with path.open("wb") as handle:
            np.savez(handle, **cast(dict[str, Any], arrays))

    @classmethod
    def load(cls, path: Path) -> "MlpScorer":
        """Read parameters written by `save`."""
        with np.load(path, allow_pickle=False) as arrays:
            layers = sum(1 for name in arrays.files if name.startswith("weight_"))
            return cls(
                mean=arrays["mean"],
                scale=arrays["scale"],
                weights=[arrays[f"weight_{index}"] for index in range(layers)],
                biases=[arrays[f"bias_{index}"] for index in range(layers)],
            )


class MlpPythonModel(PythonModel):
    """The MLflow pyfunc of an `MlpScorer`: `predict` returns `(n, 2)` probabilities like `predict_proba`."""

    def __init__(self) -> None:
        """Empty until MLflow calls `load_context` with the weights artifact."""
        self._scorer: MlpScorer | None = None

    def load_context(self, context: Any) -> None:
        """Load the `.npz` weights MLflow downloaded with the model."""
        self._scorer = MlpScorer.load(Path(context.artifacts[WEIGHTS_ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        """`[P(legit), P(fraud)]` for each row (a DataFrame with the feature columns, or a matrix)."""
        return self.predict_proba(model_input)

    def predict_proba(self, features: Any) -> FloatMatrix:
        """`[P(legit), P(fraud)]` for each row, as scikit-learn classifiers answer."""
        if self._scorer is None:
            raise RuntimeError("MlpPythonModel used before load_context")
        return self._scorer.predict_proba(features)


class _PyfuncProbabilities:
    """Any other pyfunc whose `predict` returns `(n, 2)` probabilities or `(n,)` fraud probabilities."""

    def __init__(self, model: PyFuncModel) -> None:
        self._model = model

    def predict_proba(self, features: Any) -> FloatMatrix:
        frame = pd.DataFrame(feature_matrix(features), columns=list(FEATURE_NAMES))
        output = np.asarray(self._model.predict(frame), dtype=np.float64)
        if output.ndim == 2 and output.shape[1] == 2:
            return output
        fraud = output.reshape(-1)
        return np.column_stack((1.0 - fraud, fraud))


def load_probability_model(model_uri: str, flavor: str | None) -> ProbabilityModel:
    """Load a registered model by the loader its `flavor` tag names (`None`: through pyfunc).

    Args:
        model_uri: `models:/<name>/<version>`, `models:/<name>@<alias>` or a run's model URI.
        flavor: the version's `flavor` tag, if any.
    """
    if flavor == Flavor.SKLEARN:
        return cast(ProbabilityModel, mlflow.sklearn.load_model(model_uri))
    loaded = load_model(model_uri)
    try:
        inner = loaded.unwrap_python_model()  # type: ignore[no-untyped-call]
    except MlflowException:  # another flavor's pyfunc, not a PythonModel: use its `predict`
        inner = None
    if isinstance(inner, MlpPythonModel):
        return inner
    return _PyfuncProbabilities(loaded)
