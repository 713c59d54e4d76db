"""Prometheus metrics of the monitor, in a registry of its own (one per Monitor, so tests stay apart)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.exposition import push_to_gateway


class MonitorMetrics:
    """The gauges and counters one monitor updates each cycle."""

    def __init__(self) -> None:
        """Create every series in a fresh registry."""
        self.registry = CollectorRegistry()
        self.drift_share = Gauge(
            "mlops_monitor_drift_share",
            "Share of feature columns drifted in the last judged window.",
            registry=self.registry,
        )
        self.column_drift_score = Gauge(
            "mlops_monitor_column_drift_score",
            "Evidently drift score per feature column in the last judged window (p-value or distance; see method).",
            ["column", "method"],
            registry=self.registry,
        )
        self.drift_detected = Gauge(
            "mlops_monitor_drift_detected",
            "1 when the last judged window drifted, else 0.",
            registry=self.registry,
        )
        self.window_rows = Gauge(
            "mlops_monitor_window_rows",
            "Rows in the last judged (or pending) window.",
            registry=self.registry,
        )
        self.live_roc_auc = Gauge(
            "mlops_monitor_live_roc_auc",
            "Live ROC AUC per model version on labelled captures.",
            ["version"],
            registry=self.registry,
        )
        self.live_accuracy = Gauge(
            "mlops_monitor_live_accuracy",
            "Live accuracy per model version on labelled captures.",
            ["version"],
            registry=self.registry,
        )
        self.labelled_rows = Gauge(
            "mlops_monitor_labelled_rows",
            "Labelled captured rows per model version.",
            ["version"],
            registry=self.registry,
        )
        self.champion_version = Gauge(
            "mlops_monitor_champion_version",
            "Registry version behind the champion alias.",
            registry=self.registry,
        )
        self.last_success = Gauge(
            "mlops_monitor_last_success_timestamp_seconds",
            "Unix time of the last cycle that completed.",
            registry=self.registry,
        )
        self.errors = Counter(
            "mlops_monitor_errors", "Cycle errors by kind.", ["kind"], registry=self.registry
        )
        self.retrains = Counter(
            "mlops_monitor_retrains_triggered", "Retrains triggered.", ["trigger"], registry=self.registry
        )
        self.rollbacks = Counter("mlops_monitor_rollbacks", "Champion rollbacks.", registry=self.registry)

    def serve(self, port: int, host: str) -> None:
        """Serve `/metrics` from a daemon thread."""
        start_http_server(port, addr=host, registry=self.registry)

    def push(self, gateway_url: str, job: str = "mlops-monitoring") -> None:
        """Push every series to a Pushgateway (the `--once` CronJob has no process left to scrape)."""
        push_to_gateway(gateway_url, job=job, registry=self.registry, timeout=10)
