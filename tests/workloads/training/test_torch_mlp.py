"""The torch trainer on CPU: deterministic, and its NumPy scorer computes what torch computes."""

import numpy as np
import torch

from lifecycle.features import FEATURE_NAMES, LABEL
from lifecycle.scoring import MlpScorer
from lifecycle.synthetic import generate
from training.torch_mlp import MlpFit, fit_mlp


def test_same_seed_same_weights_and_numpy_matches_torch() -> None:
    frame = generate(600, seed=3)
    features = frame.loc[:, list(FEATURE_NAMES)].to_numpy(dtype=np.float64)
    labels = frame[LABEL].to_numpy(dtype=np.int64)

    def fit() -> MlpFit:
        return fit_mlp(features, labels, hidden=8, epochs=3, batch_size=64, learning_rate=0.01, seed=4)

    first, second = fit(), fit()

    assert first.device == "cpu"
    assert all(np.array_equal(a, b) for a, b in zip(first.weights, second.weights, strict=True))
    assert [weight.shape for weight in first.weights] == [(8, 8), (4, 8), (1, 4)]

    scorer = MlpScorer(first.mean, first.scale, first.weights, first.biases)
    with torch.no_grad():
        hidden = torch.as_tensor((features - first.mean) / first.scale)
        for index, (weight, bias) in enumerate(zip(first.weights, first.biases, strict=True)):
            hidden = hidden @ torch.as_tensor(weight).T + torch.as_tensor(bias)
            if index < len(first.weights) - 1:
                hidden = torch.relu(hidden)
        expected = torch.sigmoid(hidden)[:, 0].numpy()
    assert np.allclose(scorer.predict_proba(features)[:, 1], expected, atol=1e-12)
