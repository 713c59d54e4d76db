"""The model-lifecycle workloads (training, serving, monitoring) on a GPU cluster."""
