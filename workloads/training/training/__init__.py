"""The training workload (issue #6)."""
