"""The local platform with its Kafka (`ops local up --kafka`): a primary cluster of three
KRaft brokers and a DR cluster of one, sized from the inventory, MirrorMaker 2 between them,
the ingest service producing to the primary and the loader writing PostgreSQL. Under
traffic: every acknowledged record is in PostgreSQL and on the DR cluster, the consumer
groups' offsets reach DR; a broker killed loses no acknowledged record; two killed make the
ingest service answer 503, never a 2xx for a record not stored, until they come back."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from confluent_kafka.admin import AdminClient

from ops.contracts import KafkaEndpoint
from ops.util.processes import wait_until
from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform, started_platform
from tests.integration.kafka_traffic import TOPICS, Traffic, keys_on, stored_ids


@pytest.fixture(scope="module")
def kafka_platform(short_tmp: Path) -> Iterator[RunningPlatform]:
    with started_platform(short_tmp / "kafka-platform", kafka=True) as running:
        yield running


def _status(platform: RunningPlatform) -> dict[str, dict[str, Any]]:
    result = run_cli("local", "status", "--output", "json", env=platform.env)
    return {part["name"]: part for part in json.loads(result.out)["parts"]}


def _parameter(platform: RunningPlatform, name: str) -> str:
    return str(platform.aws().client("ssm").get_parameter(Name=name)["Parameter"]["Value"])


def _bootstrap(platform: RunningPlatform, cluster: str) -> str:
    return _parameter(platform, f"/dataplat/local/{cluster}/bootstrap-brokers")


def test_up_starts_both_clusters_the_replicator_and_the_loader_sized_from_the_inventory(
    kafka_platform: RunningPlatform,
) -> None:
    parts = _status(kafka_platform)
    brokers = sorted(name for name in parts if name.startswith("kafka "))
    assert brokers == [
        "kafka events broker 1",
        "kafka events broker 2",
        "kafka events broker 3",
        "kafka events_dr broker 1",
    ]
    for name in [*brokers, "replicator events-to-dr", "loader", "ingest"]:
        assert parts[name]["healthy"], parts[name]
    assert parts["ingest"]["detail"].startswith("kafka events")
    # The topics as the inventory has them: partitions, three replicas, two in sync.
    admin = AdminClient({"bootstrap.servers": _bootstrap(kafka_platform, "events")})
    topics = admin.list_topics(timeout=10).topics
    assert len(topics["raw_financial_transactions"].partitions) == 12
    assert len(topics["raw_insurance_claims"].partitions) == 6
    assert all(len(p.replicas) == 3 for p in topics["raw_financial_transactions"].partitions.values())
    # Each cluster's brokers and the clients' endpoint are published in the emulator's SSM.
    assert len(_bootstrap(kafka_platform, "events").split(",")) == 3
    assert len(_bootstrap(kafka_platform, "events_dr").split(",")) == 1
    endpoint = KafkaEndpoint.from_json(_parameter(kafka_platform, "/dataplat/local/events/endpoint"))
    assert endpoint == KafkaEndpoint("events", _bootstrap(kafka_platform, "events"), "")


def test_up_again_starts_nothing_new(kafka_platform: RunningPlatform) -> None:
    before = {name: part["pid"] for name, part in _status(kafka_platform).items()}
    result = run_cli("local", "up", env=kafka_platform.env)
    assert result.code == 0, result.err
    after = {name: part["pid"] for name, part in _status(kafka_platform).items()}
    assert after == before


def test_every_acknowledged_record_is_in_postgres_and_on_dr_with_the_groups_offsets(
    kafka_platform: RunningPlatform,
) -> None:
    traffic = Traffic(kafka_platform, "kafka-flow")
    traffic.send(200)
    assert len(traffic.acknowledged) == 200, traffic.refused
    wait_until(
        lambda: set(traffic.acknowledged) <= stored_ids(kafka_platform),
        60,
        "every record stored",
    )
    dr = _bootstrap(kafka_platform, "events_dr")
    wait_until(
        lambda: set(traffic.acknowledged) <= keys_on(dr, list(TOPICS.values()), "check-dr"),
        90,
        "every acknowledged record replicated to DR",
    )
    # The loader's groups committed on the primary; MirrorMaker 2 syncs them to DR.
    dr_admin = AdminClient({"bootstrap.servers": dr})

    def synced() -> bool:
        from confluent_kafka import ConsumerGroupTopicPartitions

        request = [ConsumerGroupTopicPartitions("glue-financial-etl")]
        offsets = dr_admin.list_consumer_group_offsets(request)["glue-financial-etl"].result(timeout=10)
        return any(tp.offset > 0 for tp in offsets.topic_partitions)

    wait_until(synced, 90, "glue-financial-etl's offsets on DR")


def test_broker_failures_one_then_two_then_back(kafka_platform: RunningPlatform) -> None:
    """The module's platform (each costs four JVMs to start): it ends as it began, every
    broker back, so the other tests may run after it."""
    platform = kafka_platform
    # One broker killed under traffic: two of three hold min.insync.replicas 2, so nothing
    # is refused and nothing acknowledged is lost.
    traffic = Traffic(platform, "kafka-one-down")
    sender = threading.Thread(target=traffic.send, args=(400, 4))
    sender.start()
    try:
        wait_until(lambda: len(traffic.acknowledged) >= 50, 60, "traffic flowing")
        _kill_broker(platform, 3)
    finally:
        sender.join(120)
    assert not sender.is_alive()
    assert not traffic.refused, traffic.refused
    primary = _bootstrap(platform, "events")
    assert set(traffic.acknowledged) <= keys_on(primary, list(TOPICS.values()), "check-primary")
    wait_until(lambda: set(traffic.acknowledged) <= stored_ids(platform), 90, "every record stored")
    try:
        # A second one killed: the cluster cannot take a write; 503, never a 2xx.
        _kill_broker(platform, 2)
        during = Traffic(platform, "kafka-two-down")
        during.send(8, threads=4)
        assert during.refused and all(code == 503 for code in during.refused.values()), during.refused
    finally:
        # `ops local up` brings them back.
        result = run_cli("local", "up", env=platform.env)
        assert result.code == 0, result.err
    after = Traffic(platform, "kafka-back")
    wait_until(lambda: _posts_again(after), 60, "the ingest service answering 2xx again")
    expected = set(during.acknowledged) | set(after.acknowledged)
    wait_until(lambda: expected <= stored_ids(platform), 90, "the records stored after recovery")
    assert all(part["healthy"] for part in _status(platform).values())


def _posts_again(traffic: Traffic) -> bool:
    traffic.send(4, threads=2)
    return bool(traffic.acknowledged)


def _kill_broker(platform: RunningPlatform, node: int) -> None:
    pid_file = platform.state_dir / "kafka" / "events" / f"broker-{node}" / "broker.pid"
    pid = int(pid_file.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not psutil.pid_exists(pid) or _zombie(pid), 30, f"broker {node} gone")


def _zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
