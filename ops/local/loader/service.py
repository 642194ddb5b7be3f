"""The loader as a whole: one thread per consumer group, the endpoints they follow (the
Kafka parameter here, the database one through Store), and the health it reports."""

from __future__ import annotations

import logging
import threading
from typing import Any

from confluent_kafka.admin import AdminClient

from ops.contracts import DatabaseEndpoint, KafkaEndpoint
from ops.local.follow import KAFKA_FOLLOW_SECONDS, Followed, ssm_reader
from ops.local.ingest.store import Store
from ops.local.loader.config import LoaderConfig
from ops.local.loader.group import GroupLoader
from ops.local.loader.metrics import LoaderMetrics

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 2.0


class Loader:
    def __init__(
        self, config: LoaderConfig, kafka: Followed[KafkaEndpoint] | None = None, store: Store | None = None
    ) -> None:
        self.config = config
        self.metrics = LoaderMetrics()
        self.kafka = kafka or Followed(
            ssm_reader(config.kafka_parameter, KafkaEndpoint.from_json), KAFKA_FOLLOW_SECONDS
        )
        database = ssm_reader(config.database_parameter, DatabaseEndpoint.from_json)
        self.store = store or Store(database, pool_size=len(config.groups) + 2)
        self.stopping = threading.Event()
        self.groups = [
            GroupLoader(spec, self.kafka, self.store, self.metrics, self.stopping) for spec in config.groups
        ]
        self._threads: list[threading.Thread] = []
        self._admin_lock = threading.Lock()
        self._admin: tuple[KafkaEndpoint, AdminClient] | None = None

    def start(self) -> None:
        for group in self.groups:
            thread = threading.Thread(target=group.run, name=f"group-{group.spec.group}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop reading; each group commits what it wrote and leaves the group."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.error("%s did not stop within %.0f s", thread.name, timeout)
        self.store.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, the report): healthy when a broker and the database answer."""
        body: dict[str, Any] = {"status": "ok", "kafka": None, "database": None}
        errors: list[str] = []
        try:
            endpoint = self.kafka.get()
            body["kafka"] = str(endpoint)
            self._admin_for(endpoint).list_topics(timeout=HEALTH_TIMEOUT_SECONDS)
        except Exception as error:  # health reports any failure, it never raises
            self.kafka.invalidate()
            errors.append(f"kafka: {type(error).__name__}")
        try:
            body["database"] = str(self.store.ping())
        except Exception as error:
            self.store.invalidate()
            errors.append(f"database: {type(error).__name__}")
        body["groups"] = {group.spec.group: group.status() for group in self.groups}
        if errors:
            body.update(status="unhealthy", errors=errors)
        return not errors, body

    def _admin_for(self, endpoint: KafkaEndpoint) -> AdminClient:
        with self._admin_lock:
            if self._admin is None or self._admin[0].location != endpoint.location:
                config: dict[str, str | int | float | bool] = {
                    "bootstrap.servers": endpoint.bootstrap_servers,
                    "reconnect.backoff.max.ms": 1000,
                }
                self._admin = (endpoint, AdminClient(config))
            return self._admin[1]
