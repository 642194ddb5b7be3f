"""A real Apache Kafka broker (KRaft), from the jars tools/kafka/pom.xml pins, on loopback:
formatted once, started detached, written to and read back with confluent-kafka (an
idempotent producer with acks=all, a consumer group), stopped with no JVM left. The
first brick of the local platform's Kafka clusters (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from ops.local.kafka import BrokerSpec, LocalBroker, new_cluster_id
from ops.util.ports import free_port
from ops.util.processes import wait_until

TOPIC = "raw_financial_transactions"


def _answers(bootstrap: str) -> bool:
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2)
    except KafkaException:
        return False
    return True


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    port, controller = free_port(), free_port()
    spec = BrokerSpec(node_id=1, port=port, controller_port=controller, voters=f"1@127.0.0.1:{controller}")
    running = LocalBroker(tmp_path / "broker-1", spec)
    running.format(new_cluster_id())
    running.start()
    try:
        wait_until(lambda: _answers(running.bootstrap), 60, "the Kafka broker", running.log_file)
        yield running
    finally:
        running.stop()


def test_a_record_acknowledged_by_the_broker_is_read_back_by_a_consumer_group(broker: LocalBroker) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)]).values():
        future.result(timeout=30)
    acknowledged: list[str] = []

    def delivered(error: object, message: object) -> None:
        if error is None:
            acknowledged.append(message.key().decode())  # type: ignore[attr-defined]

    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "acks": "all"})
    for sequence in range(100):
        key = f"TX-{sequence:04d}"
        producer.produce(
            TOPIC, key=key, value=b"{}", headers={"sequence": str(sequence)}, on_delivery=delivered
        )
    assert producer.flush(30) == 0
    assert sorted(acknowledged) == [f"TX-{n:04d}" for n in range(100)]
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "warehouse-loader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([TOPIC])
    read: dict[str, str] = {}
    try:
        wait_until(lambda: _read_some(consumer, read) >= 100, 60, "the consumer group reading every record")
    finally:
        consumer.close()
    assert sorted(read) == sorted(acknowledged)
    assert {read[key] for key in ("TX-0000", "TX-0099")} == {"0", "99"}  # the sequence header


def _read_some(consumer: Consumer, read: dict[str, str]) -> int:
    for message in consumer.consume(num_messages=100, timeout=1):
        key = message.key()
        if message.error() is None and isinstance(key, bytes):
            sequence = dict(message.headers() or [])["sequence"]
            read[key.decode()] = sequence.decode() if isinstance(sequence, bytes) else str(sequence)
    return len(read)


def test_a_stopped_broker_leaves_no_jvm_and_restarts_with_its_data(broker: LocalBroker) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic("kept", num_partitions=1, replication_factor=1)])["kept"].result(timeout=30)
    pid = broker.running()
    assert pid is not None
    assert broker.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    broker.format("another-id-is-ignored")  # formatted once: the data stays
    broker.start()
    wait_until(lambda: _answers(broker.bootstrap), 60, "the Kafka broker again", broker.log_file)
    topics = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10).topics
    assert "kept" in topics
