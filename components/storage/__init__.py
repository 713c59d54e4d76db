"""Shared storage for a cluster's pods: file systems behind a ReadWriteMany StorageClass."""
