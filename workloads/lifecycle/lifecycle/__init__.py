"""What the training, serving and monitoring workloads share: the feature contract, the example
data generator, the decision event log, prediction capture and the registry's alias names.

Small and dependency-light on purpose: every workload image copies this package beside its own.
"""
