"""Model registries per cloud (artifact storage, image registry, model registry) and the MLflow tracking server."""
