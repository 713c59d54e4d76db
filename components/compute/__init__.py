"""GPU Kubernetes clusters behind one contract (contract.py), and their add-ons."""
