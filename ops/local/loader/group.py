"""One consumer group's loop: read a batch, write each record to the warehouse, then commit
the offsets of what was written (at least once: a record is committed only after its write;
the warehouse's primary keys make a second delivery harmless).

The consumer is owned by the group's thread alone (confluent-kafka refuses concurrent use);
others read the group's state through `status()`."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from ops.contracts import KafkaEndpoint
from ops.local.follow import Followed
from ops.local.ingest.store import Store
from ops.local.loader.config import GroupSpec
from ops.local.loader.decode import Undecodable, decode, store_record
from ops.local.loader.metrics import LoaderMetrics

log = logging.getLogger(__name__)

BATCH = 200
POLL_SECONDS = 0.5
RETRY_SECONDS = 1.0  # after a database failure, before the records are read again
LAG_SECONDS = 2.0
CLOSE_SECONDS = 5.0
COMMIT_SECONDS = 5.0


class CommitStuck(Exception):
    """A commit that got no answer: the consumer is given up and a new one subscribes (the
    records are read again, at least once)."""


class GroupLoader:
    def __init__(
        self,
        spec: GroupSpec,
        kafka: Followed[KafkaEndpoint],
        store: Store,
        metrics: LoaderMetrics,
        stop: threading.Event,
    ) -> None:
        self.spec = spec
        self._kafka = kafka
        self._store = store
        self._metrics = metrics
        self._stop = stop
        self._state_lock = threading.Lock()
        # `consuming`: subscribed (False while a failover holds the consumers);
        # `partitions`: assigned to this member now.
        self._state: dict[str, Any] = {
            "kafka": None,
            "cluster": None,
            "consuming": False,
            "topics": [],
            "partitions": 0,
            "lag": None,
        }
        self._lag_labels: set[tuple[str, str, str]] = set()
        self._lag_at = 0.0

    def status(self) -> dict[str, Any]:
        with self._state_lock:
            return dict(self._state)

    def run(self) -> None:
        """Load until `stop` is set; then close the consumer (what was written is committed)."""
        consumer: Consumer | None = None
        consuming_from: KafkaEndpoint | None = None
        try:
            while not self._stop.is_set():
                try:
                    endpoint = self._kafka.get()
                    if endpoint.consumers_stopped:  # a failover holds the consumers
                        if consumer is not None:
                            log.warning("%s: stopped by a failover of %s", self.spec.group, endpoint.cluster)
                            self._close(consumer)
                            consumer = None
                        self._stopped(endpoint)
                        self._stop.wait(POLL_SECONDS)
                        continue
                    if (
                        consumer is None
                        or consuming_from is None
                        or endpoint.location != consuming_from.location
                    ):
                        if consumer is not None:
                            log.warning("%s: the Kafka endpoint moved to %s", self.spec.group, endpoint)
                            self._close(consumer)
                        consumer, consuming_from = self._subscribe(endpoint), endpoint
                    self._load(consumer)
                    self._refresh_lag(consumer)
                except Exception:  # the loop outlives any one failure: a new consumer, shortly
                    log.exception("%s: the consumer failed; subscribing again", self.spec.group)
                    if consumer is not None:
                        self._close(consumer)
                    consumer = None
                    self._stop.wait(RETRY_SECONDS)
        finally:
            if consumer is not None:
                self._close(consumer)

    # --- one consumer -------------------------------------------------------------------
    def _subscribe(self, endpoint: KafkaEndpoint) -> Consumer:
        topics = [endpoint.topic(name) for name in self.spec.topics]
        consumer = Consumer(
            {
                "bootstrap.servers": endpoint.bootstrap_servers,
                "group.id": self.spec.group,
                "client.id": f"loader-{self.spec.group}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                # A restarted broker is found within a second, not librdkafka's default 10 s.
                "reconnect.backoff.max.ms": 1000,
                # A member lost with its broker is replaced after 10 s, not the default 45 s.
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 1000,
                "logger": logging.getLogger(f"kafka.consumer.{self.spec.group}"),
            }
        )
        consumer.subscribe(topics)
        log.info("%s: subscribed to %s on %s", self.spec.group, ", ".join(topics), endpoint)
        with self._state_lock:
            self._state.update(
                kafka=str(endpoint),
                cluster=endpoint.cluster,
                consuming=True,
                topics=topics,
                partitions=0,
                lag=None,
            )
        return consumer

    def _stopped(self, endpoint: KafkaEndpoint) -> None:
        with self._state_lock:
            self._state.update(kafka=str(endpoint), cluster=endpoint.cluster, consuming=False, topics=[])

    def _close(self, consumer: Consumer) -> None:
        """Leave the group (offsets are committed after each batch: nothing is pending).
        librdkafka's close can wait without end for a coordinator that is gone (a lost
        cluster); after CLOSE_SECONDS the consumer is left to finish closing on its own
        thread: this loop never uses it again, so nothing more is read through it."""
        closed = threading.Event()

        def close() -> None:
            try:
                consumer.close()
            except (KafkaException, RuntimeError) as error:
                log.warning("%s: closing the consumer: %s", self.spec.group, error)
            finally:
                closed.set()

        threading.Thread(target=close, name=f"close-{self.spec.group}", daemon=True).start()
        if not closed.wait(CLOSE_SECONDS):
            log.warning(
                "%s: the consumer did not close within %.0f s (its cluster does not answer); left to close",
                self.spec.group,
                CLOSE_SECONDS,
            )
        self._clear_lag()

    def _load(self, consumer: Consumer) -> None:
        # Wait for one record, then take what is already fetched: no wait for a full batch.
        first = consumer.poll(POLL_SECONDS)
        if first is None:
            return
        messages = [first, *consumer.consume(num_messages=BATCH - 1, timeout=0)]
        done: dict[tuple[str, int], int] = {}  # the next offset to commit, per partition
        for index, message in enumerate(messages):
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                log.warning("%s: %s", self.spec.group, error)
                continue
            topic, partition, offset = _position(message)
            try:
                record = decode(message)
            except Undecodable as why:
                log.warning("%s: rejected %s[%d]@%d: %s", self.spec.group, topic, partition, offset, why)
                self._count(self._metrics.rejected, topic)
                done[(topic, partition)] = offset + 1
                continue
            try:
                stored = store_record(self._store, record)
            except Exception as failure:  # any failure to write: the records are read again
                self._store.invalidate()  # the database may have moved: re-read the parameter
                self._metrics.write_failures.labels(self.spec.group, topic).inc()
                log.warning(
                    "%s: writing %s[%d]@%d failed (%s); reading it again in %.0f s",
                    self.spec.group,
                    topic,
                    partition,
                    offset,
                    " ".join(str(failure).split())[:200] or type(failure).__name__,
                    RETRY_SECONDS,
                )
                self._rewind(consumer, messages[index:])
                self._commit(consumer, done)
                self._stop.wait(RETRY_SECONDS)
                return
            self._count(self._metrics.stored if stored else self._metrics.redelivered, topic)
            done[(topic, partition)] = offset + 1
        self._commit(consumer, done)

    def _count(self, counter: Any, topic: str) -> None:
        counter.labels(self.spec.group, topic).inc()
        self._metrics.consumed.labels(self.spec.group, topic).inc()

    def _rewind(self, consumer: Consumer, unwritten: list[Message]) -> None:
        """Seek each partition back to its first record not written: it is delivered again."""
        first: dict[tuple[str, int], int] = {}
        for message in unwritten:
            if message.error() is None:
                topic, partition, offset = _position(message)
                first.setdefault((topic, partition), offset)
        for (topic, partition), offset in first.items():
            consumer.seek(TopicPartition(topic, partition, offset))

    def _commit(self, consumer: Consumer, done: dict[tuple[str, int], int]) -> None:
        if not done:
            return
        offsets = [TopicPartition(topic, partition, offset) for (topic, partition), offset in done.items()]
        answer: list[Any] = []

        def commit() -> None:
            try:
                answer.append(consumer.commit(offsets=offsets, asynchronous=False))
            except KafkaException as error:
                answer.append(error)

        # A synchronous commit waits without end for a coordinator that is gone (a lost
        # cluster): bounded here, so the loop goes on (a failover may be holding it).
        worker = threading.Thread(target=commit, name=f"commit-{self.spec.group}", daemon=True)
        worker.start()
        worker.join(COMMIT_SECONDS)
        if not answer:
            raise CommitStuck(f"committing offsets got no answer within {COMMIT_SECONDS:.0f} s")
        if isinstance(answer[0], KafkaException):
            # Written but not committed: read again later, and counted as redelivered then.
            log.warning("%s: committing offsets failed: %s", self.spec.group, answer[0])
            return
        committed: list[TopicPartition] = answer[0]
        for result in committed:
            if result.error is not None:
                log.warning(
                    "%s: committing %s[%d]: %s", self.spec.group, result.topic, result.partition, result.error
                )

    # --- lag ----------------------------------------------------------------------------
    def _refresh_lag(self, consumer: Consumer) -> None:
        if time.monotonic() - self._lag_at < LAG_SECONDS:
            assigned = len(consumer.assignment())  # local: a failover waits on it
            with self._state_lock:
                self._state.update(partitions=assigned)
            return
        self._lag_at = time.monotonic()
        labels: set[tuple[str, str, str]] = set()
        total: int | None = None
        assignment = consumer.assignment()
        positions = consumer.position(assignment) if assignment else []
        # A partition nothing was read from since it was assigned has no position yet: its
        # committed offset is where the group stands.
        committed = self._committed([p for p in positions if p.offset < 0], consumer)
        for position in positions:
            offset = position.offset if position.offset >= 0 else committed.get(_key(position), -1)
            # The high watermark of the last fetch: no request to the broker (it may be down).
            _, high = consumer.get_watermark_offsets(position, cached=True)
            if high < 0 or offset < 0:
                continue  # unknown, not zero
            key = (self.spec.group, position.topic, str(position.partition))
            lag = max(0, high - offset)
            self._metrics.lag.labels(*key).set(lag)
            labels.add(key)
            total = (total or 0) + lag
        for gone in self._lag_labels - labels:
            self._metrics.lag.remove(*gone)
        self._lag_labels = labels
        with self._state_lock:
            self._state.update(partitions=len(assignment), lag=total)

    def _committed(self, partitions: list[TopicPartition], consumer: Consumer) -> dict[tuple[str, int], int]:
        if not partitions:
            return {}
        try:
            return {_key(p): p.offset for p in consumer.committed(partitions, timeout=1)}
        except KafkaException:
            return {}

    def _clear_lag(self) -> None:
        for gone in self._lag_labels:
            self._metrics.lag.remove(*gone)
        self._lag_labels = set()
        with self._state_lock:
            self._state.update(partitions=0, lag=None)


def _key(partition: TopicPartition) -> tuple[str, int]:
    return partition.topic, partition.partition


def _position(message: Message) -> tuple[str, int, int]:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise KafkaException(f"a message without a position: {topic}[{partition}]@{offset}")
    return topic, partition, offset
