"""Reusable Pulumi ComponentResources, one domain package each."""
