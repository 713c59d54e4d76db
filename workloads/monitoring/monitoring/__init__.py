"""The monitoring workload (issue #6)."""
