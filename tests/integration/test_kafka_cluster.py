"""A real three-node Kafka cluster (KRaft) on loopback, as the local platform's primary MSK
cluster will be: replication factor 3, min.insync.replicas 2. One node killed (SIGKILL):
writes go on and no acknowledged record is lost."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from ops.local.kafka import LocalCluster, new_cluster_id
from ops.util.ports import free_port
from ops.util.processes import wait_until

TOPIC = "raw_financial_transactions"


def _brokers_up(bootstrap: str, count: int) -> bool:
    try:
        return len(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=2).brokers) == count
    except KafkaException:
        return False


@pytest.fixture
def cluster(short_tmp: Path, request: pytest.FixtureRequest) -> Iterator[LocalCluster]:
    running = LocalCluster.plan(
        short_tmp / f"kafka-{request.node.name}"[:60], 3, [free_port() for _ in range(6)]
    )
    running.start(new_cluster_id())
    try:
        wait_until(lambda: _brokers_up(running.bootstrap, 3), 120, "three Kafka brokers")
        admin = AdminClient({"bootstrap.servers": running.bootstrap})
        topic = NewTopic(TOPIC, num_partitions=3, replication_factor=3, config={"min.insync.replicas": "2"})
        admin.create_topics([topic])[TOPIC].result(timeout=60)
        yield running
    finally:
        running.stop()


class Writer:
    """An idempotent producer with acks=all: what the brokers acknowledged, and what they
    refused, by key."""

    def __init__(self, bootstrap: str) -> None:
        settings = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "message.timeout.ms": 15000,
        }
        self.producer = Producer(settings)
        self.acknowledged: set[str] = set()
        self.refused: set[str] = set()
        self.sent = 0

    def _delivered(self, error: Any, message: Any) -> None:
        key = message.key().decode()
        (self.refused if error is not None else self.acknowledged).add(key)

    def write(self, count: int, prefix: str) -> None:
        for _ in range(count):
            self.producer.produce(
                TOPIC, key=f"{prefix}-{self.sent:05d}", value=b"{}", on_delivery=self._delivered
            )
            self.sent += 1
        self.producer.flush(30)


def _stored(bootstrap: str) -> set[str]:
    """Every key on the topic, read up to each partition's end as the brokers report it.
    Partitions are assigned, not subscribed: no group coordinator (it may have been on the
    killed broker) is needed to read."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "check", "enable.auto.commit": False})
    try:
        partitions = (
            AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics[TOPIC].partitions
        )
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)[1] for p in partitions
        }
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in ends])
        positions = dict.fromkeys(ends, 0)
        read: set[str] = set()

        def at_the_end() -> bool:
            for message in consumer.consume(num_messages=500, timeout=1):
                key, partition, offset = message.key(), message.partition(), message.offset()
                if (
                    message.error() is None
                    and isinstance(key, bytes)
                    and partition is not None
                    and offset is not None
                ):
                    read.add(key.decode())
                    positions[partition] = offset + 1
            return all(positions[p] >= end for p, end in ends.items())

        wait_until(at_the_end, 60, f"reading {TOPIC} to its end")
        return read
    finally:
        consumer.close()


def _kill(cluster: LocalCluster, index: int) -> None:
    pid = cluster.brokers[index].running()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: cluster.brokers[index].running() is None, 30, "the killed broker gone")


def test_one_broker_killed_loses_no_acknowledged_record(cluster: LocalCluster) -> None:
    writer = Writer(cluster.bootstrap)
    writer.write(200, "before")
    _kill(cluster, 2)
    writer.write(200, "after")
    assert not writer.refused and len(writer.acknowledged) == 400  # two replicas hold the ISR
    assert writer.acknowledged <= _stored(cluster.bootstrap)
