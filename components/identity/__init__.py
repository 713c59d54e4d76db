"""Workload identities: Kubernetes service accounts bound to cloud identities, one component per cloud."""
