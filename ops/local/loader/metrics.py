"""The loader's Prometheus metrics, in a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class LoaderMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        by_topic = ["group", "topic"]
        self.consumed = Counter(
            "loader_consumed",
            "Records read and handled (stored, redelivered or rejected)",
            by_topic,
            registry=self.registry,
        )
        self.stored = Counter(
            "loader_stored", "Records written to the warehouse", by_topic, registry=self.registry
        )
        self.redelivered = Counter(
            "loader_redelivered",
            "Records read again whose id the warehouse already held (nothing written)",
            by_topic,
            registry=self.registry,
        )
        self.rejected = Counter(
            "loader_rejected", "Records that could not be decoded (skipped)", by_topic, registry=self.registry
        )
        self.write_failures = Counter(
            "loader_write_failures",
            "Warehouse writes that failed (the record is read again after a pause)",
            by_topic,
            registry=self.registry,
        )
        self.lag = Gauge(
            "loader_consumer_lag",
            "High watermark minus the consumer's position",
            ["group", "topic", "partition"],
            registry=self.registry,
        )
