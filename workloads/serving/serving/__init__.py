"""The serving workload (issue #6)."""
