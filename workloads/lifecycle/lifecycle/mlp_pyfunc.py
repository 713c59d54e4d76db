"""MLflow "model from code" for the torch trainer's MLP: logged as this file, not as a pickle.

MLflow copies this file into the model and runs it at load time; it names the model class, and the
weights come from the `.npz` artifact. Loading therefore deserializes no Python objects at all.
"""

from mlflow.models import set_model

from lifecycle.scoring import MlpPythonModel

set_model(MlpPythonModel())
