"""The ingest service's Kafka path: each accepted record produced to its raw topic, and
acknowledged to the client only once the broker acknowledged it (acks=all, idempotent).

The cluster is followed through the Kafka endpoint parameter (a failover rewrites it). Every
record carries its type, the producer's id and that producer's sequence number, so a reader
can tell a gap (a record lost) from a record never acknowledged. The id changes when the
process starts and when a fatal error forces a new producer; a move to another cluster
keeps it, so the sequence runs on across a failover."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ops.contracts import (
    KAFKA_PARAMETER_ENV,
    PRODUCER_HEADER,
    RECORD_TYPE_HEADER,
    RECORD_TYPES,
    SEQUENCE_HEADER,
    KafkaEndpoint,
    origin_header,
)
from ops.local.follow import KAFKA_FOLLOW_SECONDS, Followed, ssm_reader

log = logging.getLogger(__name__)

# JSON {record type: raw topic}; the topic on the cluster is endpoint.topic(raw topic).
TOPICS_ENV = "OPS_INGEST_TOPICS"
DEFAULT_TOPICS = {
    "financial_transaction": "raw_financial_transactions",
    "insurance_claim": "raw_insurance_claims",
}

# Longer than a killed broker takes to be fenced and its partitions to get new leaders (4 s
# session timeout, see ops/local/kafka.py), far below API Gateway's 29 s.
MESSAGE_TIMEOUT_MS = 10000
# A request waits a little longer than librdkafka's own timeout, whose report comes first.
WAIT_MARGIN_SECONDS = 2.0
SWITCH_FLUSH_SECONDS = 1.0  # what the old producer gets to finish when the cluster moves
HEALTH_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Delivery:
    """Where the broker stored an acknowledged record."""

    topic: str
    partition: int
    offset: int
    producer: str
    sequence: int
    cluster: str = ""  # the msk component it was produced to


class PublishFailed(Exception):
    """The record was not acknowledged; `produced` says whether it was handed to the
    producer at all (it may then still reach the topic: the client retries, the loader
    stores each id once)."""

    def __init__(self, reason: str, produced: bool) -> None:
        super().__init__(reason)
        self.produced = produced


class ProducersPaused(PublishFailed):
    """A failover holds the producers (the endpoint says so): nothing was produced."""

    def __init__(self, endpoint: KafkaEndpoint) -> None:
        super().__init__(f"producers paused by a failover of {endpoint.cluster}", produced=False)


@dataclass(frozen=True)
class PublisherState:
    """What /health reports of the Kafka path: the cluster, whether a failover holds the
    producers, and how many records are produced but not yet answered. A failover waits
    for `paused` with nothing in flight before it waits for the replicator."""

    endpoint: KafkaEndpoint
    paused: bool
    in_flight: int


def topics_from_environment() -> dict[str, str]:
    text = os.environ.get(TOPICS_ENV)
    return dict(DEFAULT_TOPICS) if not text else {str(k): str(v) for k, v in json.loads(text).items()}


class Publisher:
    """One producer at a time on the cluster the endpoint parameter names now."""

    def __init__(
        self,
        read_endpoint: Callable[[], KafkaEndpoint],
        topics: Mapping[str, str],
        ttl: float = KAFKA_FOLLOW_SECONDS,
        message_timeout_ms: int = MESSAGE_TIMEOUT_MS,
    ) -> None:
        missing = sorted(set(RECORD_TYPES.values()) - set(topics))
        if missing:
            raise ValueError(f"no topic for record type(s) {', '.join(missing)} in {TOPICS_ENV}")
        self._endpoint = Followed(read_endpoint, ttl)
        self._topics = dict(topics)
        self._message_timeout_ms = message_timeout_ms
        self._lock = threading.Lock()  # the producer, its endpoint, the id and the sequence
        self._producer: Producer | None = None
        self._producing_to: KafkaEndpoint | None = None
        self._producer_id = str(uuid.uuid4())
        self._sequence = 0
        self._fatal = False
        # Produced, delivery report not yet served. A lock of its own: delivery reports are
        # served by flush() too, which runs under _lock when the producer is retired.
        self._counting = threading.Lock()
        self._in_flight = 0
        self._closing = threading.Event()
        self._poller: threading.Thread | None = None

    @classmethod
    def from_environment(cls) -> Publisher:
        reader = ssm_reader(os.environ[KAFKA_PARAMETER_ENV], KafkaEndpoint.from_json)
        return cls(reader, topics_from_environment())

    @property
    def producer_id(self) -> str:
        return self._producer_id

    def publish(self, record_type: str, key: str, value: bytes) -> Delivery:
        """Produce one record and wait for the broker's acknowledgement."""
        acknowledged: Future[tuple[int, int]] = Future()

        def delivered(error: KafkaError | None, message: Message) -> None:
            with self._counting:
                self._in_flight -= 1
            if error is not None:
                self._fatal = self._fatal or error.fatal()
                acknowledged.set_exception(KafkaException(error))
            else:
                acknowledged.set_result((message.partition() or 0, _offset(message)))

        with self._lock:  # sequence numbers in produce order, with no gap for a refused produce
            try:
                endpoint, producer = self._current()
            except Exception as error:
                raise PublishFailed(f"no Kafka producer: {_one_line(error)}", produced=False) from None
            if endpoint.producers_paused:
                raise ProducersPaused(endpoint)
            topic = endpoint.topic(self._topics[record_type])
            sequence = self._sequence + 1
            headers: list[tuple[str, str | bytes | None]] = [
                (RECORD_TYPE_HEADER, record_type),
                (PRODUCER_HEADER, self._producer_id),
                (SEQUENCE_HEADER, str(sequence)),
                (origin_header(endpoint.cluster), b""),
            ]
            try:
                producer.produce(topic, value=value, key=key, headers=headers, on_delivery=delivered)
            except (BufferError, KafkaException) as error:
                self._endpoint.invalidate()
                raise PublishFailed(f"not produced: {_one_line(error)}", produced=False) from None
            with self._counting:
                self._in_flight += 1
            self._sequence = sequence
            producer_id = self._producer_id
        try:
            partition, offset = acknowledged.result(
                timeout=self._message_timeout_ms / 1000 + WAIT_MARGIN_SECONDS
            )
        except FutureTimeout:
            self._endpoint.invalidate()
            raise PublishFailed("not acknowledged in time", produced=True) from None
        except KafkaException as error:
            self._endpoint.invalidate()  # the cluster may have moved: re-read the parameter
            raise PublishFailed(f"not acknowledged: {_one_line(error)}", produced=True) from None
        return Delivery(topic, partition, offset, producer_id, sequence, endpoint.cluster)

    def ping(self) -> KafkaEndpoint:
        """The endpoint in use, if a broker of it answers a metadata request."""
        with self._lock:
            endpoint, producer = self._current()
        try:
            producer.list_topics(timeout=HEALTH_TIMEOUT_SECONDS)
        except KafkaException:
            self._endpoint.invalidate()
            raise
        return endpoint

    def state(self) -> PublisherState:
        """The endpoint as last read, and the producers' hold and work in flight."""
        with self._lock:
            endpoint, _ = self._current()
        with self._counting:
            return PublisherState(endpoint, endpoint.producers_paused, self._in_flight)

    def close(self) -> None:
        self._closing.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        with self._lock:
            if self._producer is not None:
                _retire(self._producer, SWITCH_FLUSH_SECONDS)
                self._producer = None

    # --- the producer -----------------------------------------------------------------
    def _current(self) -> tuple[KafkaEndpoint, Producer]:
        """The producer for the endpoint the parameter names now (called under the lock)."""
        endpoint = self._endpoint.get()
        if self._fatal and self._producer is not None:
            log.error("the Kafka producer %s hit a fatal error: starting a new producer", self._producer_id)
            _retire(self._producer, 0)
            self._producer = None
            self._producer_id, self._sequence = str(uuid.uuid4()), 0
        moved = self._producing_to is None or endpoint.location != self._producing_to.location
        if self._producer is None or moved:
            if self._producer is not None:
                log.warning("the Kafka endpoint moved from %s to %s", self._producing_to, endpoint)
                _retire(self._producer, SWITCH_FLUSH_SECONDS)
            self._producer = Producer(self._config(endpoint))
            self._producing_to, self._fatal = endpoint, False
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll, name="kafka-delivery-reports", daemon=True)
            self._poller.start()
        return endpoint, self._producer

    def _config(self, endpoint: KafkaEndpoint) -> dict[str, object]:
        return {
            "bootstrap.servers": endpoint.bootstrap_servers,
            "client.id": f"ingest-{self._producer_id[:8]}",
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": self._message_timeout_ms,
            "linger.ms": 2,
            # A restarted broker is found within a second, not librdkafka's default 10 s.
            "reconnect.backoff.max.ms": 1000,
            "error_cb": self._on_error,
            "logger": logging.getLogger("kafka.producer"),
        }

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self._fatal = True
            log.error("Kafka producer fatal error: %s", error)
        else:
            log.warning("Kafka producer: %s", error)

    def _poll(self) -> None:
        """Serve delivery reports: they complete the requests waiting for them."""
        while not self._closing.is_set():
            producer = self._producer
            if producer is None:
                self._closing.wait(0.1)
            else:
                producer.poll(0.1)


def _retire(producer: Producer, flush_seconds: float) -> None:
    """Give the producer's queued records `flush_seconds`, then fail what is left at once
    (their requests answer 503 now instead of waiting out their timeout)."""
    producer.flush(flush_seconds)
    producer.purge()
    producer.flush(0)


def _offset(message: Message) -> int:
    offset = message.offset()
    return -1 if offset is None else offset


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
