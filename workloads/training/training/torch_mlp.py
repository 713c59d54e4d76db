"""The torch trainer's network and loop, importing only torch and NumPy (so a GPU check can run it
on a machine without the rest of the stack).

A small ReLU MLP (inputs → hidden → hidden/2 → 1 logit) on standardized features, Adam, binary
cross-entropy, seeded and with deterministic algorithms on: the same data, seed and device give the
same weights.
"""

import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class MlpFit:
    """The fitted parameters, as float64 arrays (`weights[i]` is `(out, in)`), and where it trained."""

    mean: Matrix
    scale: Matrix
    weights: list[Matrix]
    biases: list[Matrix]
    device: str
    torch_version: str


def fit_mlp(
    features: Matrix,
    labels: npt.NDArray[np.int64],
    *,
    hidden: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    cpu_threads: int = 1,
) -> MlpFit:
    """Train on CUDA when `torch.cuda.is_available()`, else on `cpu_threads` CPU threads."""
    # Imported here: the sklearn path (the default) never pays for torch.
    import torch  # noqa: PLC0415

    # cuBLAS is only deterministic with a fixed workspace, which must be configured before CUDA starts.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0.0] = 1.0
    second = max(1, hidden // 2)

    deterministic_before = torch.are_deterministic_algorithms_enabled()
    threads_before = torch.get_num_threads()
    torch.use_deterministic_algorithms(True)
    if device.type == "cpu":
        # Matrices this small lose more to thread hand-offs than they gain: measured 1.2 s on one
        # thread against 30 s on two busy cores for 2,400 rows x 40 epochs.
        torch.set_num_threads(cpu_threads)
    try:
        torch.manual_seed(seed)
        network = torch.nn.Sequential(
            torch.nn.Linear(features.shape[1], hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, second),
            torch.nn.ReLU(),
            torch.nn.Linear(second, 1),
        ).to(device)
        inputs = torch.as_tensor((features - mean) / scale, dtype=torch.float32, device=device)
        targets = torch.as_tensor(labels, dtype=torch.float32, device=device).reshape(-1, 1)
        optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
        loss_function = torch.nn.BCEWithLogitsLoss()
        # The shuffle order comes from a CPU generator, so CPU and CUDA runs see the same batches.
        order_generator = torch.Generator().manual_seed(seed)
        rows = inputs.shape[0]
        network.train()
        for _ in range(epochs):
            order = torch.randperm(rows, generator=order_generator).to(device)
            for start in range(0, rows, batch_size):
                batch = order[start : start + batch_size]
                optimizer.zero_grad()
                loss = loss_function(network(inputs[batch]), targets[batch])
                loss.backward()
                optimizer.step()
        network.eval()
        linear_layers = [layer for layer in network if isinstance(layer, torch.nn.Linear)]
        return MlpFit(
            mean=mean,
            scale=scale,
            weights=[layer.weight.detach().cpu().double().numpy() for layer in linear_layers],
            biases=[layer.bias.detach().cpu().double().numpy() for layer in linear_layers],
            device=device.type,
            torch_version=str(torch.__version__),
        )
    finally:
        torch.use_deterministic_algorithms(deterministic_before)
        torch.set_num_threads(threads_before)
