"""Prometheus series of one app instance, on their own registry (tests build many apps).

Label children on the request path are resolved once and cached, so recording a request is a dict
lookup and two lock-protected additions.
"""

from contextlib import suppress

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

ROUTES = ("/predict", "/feedback", "/healthz", "/readyz", "/metrics", "/model")
LATENCY_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Every series the service exposes on /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "serving_request_duration_seconds",
            "Request latency by route and status code.",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter("serving_predictions", "Rows scored.", registry=self.registry)
        self.errors = Counter(
            "serving_errors",
            "Requests answered with an error, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "serving_rate_limited",
            "Requests refused by the per-key rate limit.",
            ["key_id"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "serving_model_info",
            "The model version served (value 1).",
            ["model_name", "version"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "serving_model_reloads", "Model versions loaded and swapped in.", registry=self.registry
        )
        self.load_failures = Counter(
            "model_load_failures", "Model versions that failed to load or validate.", registry=self.registry
        )
        self.extraction_suspected = Gauge(
            "extraction_suspected",
            "1 while a key's traffic looks like a model-extraction sweep.",
            ["key_id"],
            registry=self.registry,
        )
        self.extraction_flags = Counter(
            "serving_extraction_flags",
            "Times a key was newly flagged for suspected extraction.",
            ["key_id"],
            registry=self.registry,
        )
        self.feedback_labels = Counter(
            "serving_feedback_labels", "Ground-truth labels accepted by /feedback.", registry=self.registry
        )
        self.capture_pending = Gauge(
            "serving_capture_pending_records",
            "Capture records waiting to be written.",
            registry=self.registry,
        )
        self._latency_children: dict[tuple[str, int], Histogram] = {}
        self._error_children: dict[str, Counter] = {}

    def observe(self, route: str, status: int, seconds: float) -> None:
        """Record one request's latency (the route must be one of `ROUTES` or `other`)."""
        child = self._latency_children.get((route, status))
        if child is None:
            child = self._latency_children[(route, status)] = self.latency.labels(route, str(status))
        child.observe(seconds)

    def error(self, reason: str) -> None:
        """Count one error response by reason."""
        child = self._error_children.get(reason)
        if child is None:
            child = self._error_children[reason] = self.errors.labels(reason)
        child.inc()

    @staticmethod
    def remove(metric: MetricWrapperBase, *labels: str) -> None:
        """Drop one labelled child if present."""
        with suppress(KeyError):
            metric.remove(*labels)
