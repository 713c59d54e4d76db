"""Benchmarks of the offline toolkit; run each as `python -m scripts.benchmarks.<name>`."""
