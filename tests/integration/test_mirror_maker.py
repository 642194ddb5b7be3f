"""A real MirrorMaker 2 (ops.local.mirror) between two real single-node Kafka clusters on
loopback: records, keys and headers replicated; a consumer group's offsets translated to the
DR cluster so that it resumes there with no record missing and no duplicate; the `prefixed`
naming; one JVM per replicator, and none left once stopped."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from ops.contracts import origin_header
from ops.errors import OpsError
from ops.local.kafka import KAFKA_LIBS_ENV, LocalCluster, new_cluster_id
from ops.local.mirror import (
    MAIN_CLASS,
    LocalMirror,
    MirrorSpec,
    replication_lag,
    synced_group_offsets,
)
from ops.util.ports import free_port
from ops.util.processes import wait_until

TOPIC = "raw_financial_transactions"
GROUP = "glue-financial-etl"
QUIET = {"log_level": 0}  # the brokers start while we poll: no librdkafka connection errors


def _up(bootstrap: str) -> bool:
    try:
        return len(AdminClient({"bootstrap.servers": bootstrap, **QUIET}).list_topics(timeout=2).brokers) == 1
    except KafkaException:
        return False


class Pairs:
    """Source and DR clusters of one node each, shared by the module's tests; every test
    uses its own pair or its own cluster aliases (MM2 names its Connect group and internal
    topics after the source alias)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: dict[str, tuple[LocalCluster, LocalCluster]] = {}
        self.ready: set[str] = set()

    def launch(self, name: str) -> tuple[LocalCluster, LocalCluster]:
        """Start the pair's brokers (no wait: pairs start side by side)."""
        if name not in self.started:
            source, target = (
                LocalCluster.plan(self.root / f"{name}-{side}", 1, [free_port(), free_port()])
                for side in ("source", "target")
            )
            self.started[name] = (source, target)  # before starting: stopped even if a start fails
            source.start(new_cluster_id())
            target.start(new_cluster_id())
        return self.started[name]

    def get(self, name: str) -> tuple[LocalCluster, LocalCluster]:
        pair = self.launch(name)
        if name not in self.ready:
            for cluster in pair:
                what, log = f"the Kafka broker {cluster.root.name}", cluster.brokers[0].log_file
                wait_until(functools.partial(_up, cluster.bootstrap), 120, what, log)
            self.ready.add(name)
        return pair

    def stop(self) -> None:
        for pair in self.started.values():
            for cluster in pair:
                cluster.stop()


@pytest.fixture(scope="module")
def pairs(short_tmp: Path) -> Iterator[Pairs]:
    started = Pairs(short_tmp / "mirror-maker")
    try:
        for name in ("identical", "prefixed", "both-ways"):
            started.launch(name)
        yield started
    finally:
        started.stop()


@pytest.fixture
def mirrors() -> Iterator[list[LocalMirror]]:
    """Mirrors a test starts: every one is stopped, whatever happens."""
    started: list[LocalMirror] = []
    try:
        yield started
    finally:
        for mirror in started:
            mirror.stop()


def _spec(source_cluster: LocalCluster, target_cluster: LocalCluster, **changes: Any) -> MirrorSpec:
    settings: dict[str, Any] = {
        "name": "events-to-dr",
        "source": "events",
        "source_bootstrap": source_cluster.bootstrap,
        "target": "events_dr",
        "target_bootstrap": target_cluster.bootstrap,
        "topics": [TOPIC],
        "groups": [GROUP],
        "topic_names": "identical",
        "source_size": 1,
        "target_size": 1,
    }
    return MirrorSpec(**(settings | changes))


def _caught_up(spec: MirrorSpec) -> bool:
    return replication_lag(spec) == {topic: 0 for topic in spec.topics}


def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)


def _produce(bootstrap: str, topic: str, sequences: range, origin: str = "events") -> None:
    """Records marked as the platform's producers mark them: produced on `origin`."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    refused: list[object] = []
    for sequence in sequences:
        producer.produce(
            topic,
            key=f"TX-{sequence:05d}",
            value=b'{"amount": 1}',
            headers={"sequence": str(sequence), origin_header(origin): b""},
            on_delivery=lambda error, _: refused.append(error) if error is not None else None,
        )
    assert producer.flush(30) == 0 and not refused


def _sequence(message: Any) -> int:
    return int(dict(message.headers() or [])["sequence"])


def _records(bootstrap: str, topic: str) -> dict[str, int]:
    """Every record of `topic`, key -> its sequence header, read from each partition's start
    to its end offset (no consumer group); empty if the cluster has no such topic."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=10).topics  # every topic: asking for one could create it
    if topic not in metadata:
        return {}
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "check", "enable.auto.commit": False})
    try:
        ends: dict[int, int] = {}
        starts = []
        for partition in metadata[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high > low:
                ends[partition] = high
                starts.append(TopicPartition(topic, partition, low))
        consumer.assign(starts)
        read: dict[str, int] = {}
        done: set[int] = set()

        def read_some() -> bool:
            for message in consumer.consume(num_messages=500, timeout=1):
                if message.error() is None:
                    read[bytes(message.key() or b"").decode()] = _sequence(message)
                    if (message.offset() or 0) + 1 >= ends[message.partition() or 0]:
                        done.add(message.partition() or 0)
            return done == set(ends)

        wait_until(read_some, 30, f"reading {topic}")
        return read
    finally:
        consumer.close()


def _read_and_commit(bootstrap: str, topic: str, group: str, count: int) -> dict[int, int]:
    """A consumer of `group` reads `count` records, commits and leaves: its committed
    offsets by partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    read: list[int] = []
    try:

        def read_some() -> bool:
            batch = consumer.consume(num_messages=count - len(read), timeout=1)
            read.extend(_sequence(m) for m in batch if m.error() is None)
            return len(read) == count

        wait_until(read_some, 60, f"group {group} reading {count} records")
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
        return {tp.partition: tp.offset for tp in committed}
    finally:
        consumer.close()


def _resume(bootstrap: str, topic: str, group: str) -> list[int]:
    """A consumer of `group` on the DR cluster after failover: the sequences it reads from
    the group's committed offsets to the end of every partition."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",  # a partition with no offset: duplicates, never a loss
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    read: list[int] = []
    at_end: set[int] = set()
    try:

        def read_some() -> bool:
            for message in consumer.consume(num_messages=500, timeout=1):
                error = message.error()
                if error is None:
                    read.append(_sequence(message))
                elif error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition() or 0)
            return len(at_end) == 3

        wait_until(read_some, 60, f"group {group} reading to the end of {topic} on the DR cluster")
        return read
    finally:
        consumer.close()


def test_a_group_resumes_on_the_dr_cluster_with_every_record_and_no_duplicate(
    pairs: Pairs, mirrors: list[LocalMirror]
) -> None:
    source, target = pairs.get("identical")
    spec = _spec(source, target)
    _create_topic(source.bootstrap, TOPIC)
    _produce(source.bootstrap, TOPIC, range(200))
    assert replication_lag(spec) == {TOPIC: 200}  # not on the DR cluster yet
    mirror = LocalMirror(pairs.root / "mirror-identical", spec)
    mirrors.append(mirror)
    started = time.monotonic()
    mirror.start()
    wait_until(lambda: _caught_up(spec), 90, "the first 200 records replicated", mirror.log_file)
    replicated = time.monotonic() - started

    # The group reads what there is, commits and stops; MM2 translates its offsets.
    committed = _read_and_commit(source.bootstrap, TOPIC, GROUP, 200)
    expected = {(TOPIC, partition): offset for partition, offset in committed.items()}
    first_seen: list[dict[tuple[str, int], int]] = []

    def translated() -> bool:
        synced = synced_group_offsets(spec, GROUP)
        if len(synced) == 3 and not first_seen:
            first_seen.append(synced)
        return synced == expected

    wait_until(translated, 30, f"{GROUP}'s offsets synced to the DR cluster", mirror.log_file)
    assert all(first_seen[0][key] <= offset for key, offset in expected.items())  # never ahead: no loss

    # Records keep coming after the group stopped; then the source is lost.
    _produce(source.bootstrap, TOPIC, range(200, 300))
    wait_until(lambda: _caught_up(spec), 60, "every record replicated", mirror.log_file)
    assert _records(target.bootstrap, TOPIC) == _records(source.bootstrap, TOPIC)  # keys and headers
    assert len(_records(target.bootstrap, TOPIC)) == 300
    assert mirror.stop()

    read = _resume(target.bootstrap, TOPIC, GROUP)
    missing = set(range(200, 300)) - set(read)
    duplicates = len(read) - len(set(read)) + sum(1 for sequence in read if sequence < 200)
    first_gap = sum(offset - first_seen[0][key] for key, offset in expected.items())
    print(
        f"replicated in {replicated:.1f} s; first translation {first_gap} records behind; "
        f"resumed with {len(read)} records, {duplicates} duplicates, {len(missing)} missing"
    )
    assert not missing
    assert duplicates == 0  # offset.lag.max=0, held-back syncs flushed each second: exact translation


def test_prefixed_names_put_the_source_alias_first(pairs: Pairs, mirrors: list[LocalMirror]) -> None:
    source, target = pairs.get("prefixed")
    spec = _spec(source, target, topic_names="prefixed", groups=[])
    mirror = LocalMirror(pairs.root / "mirror-prefixed", spec)
    assert mirror.target_topic(TOPIC) == "events.raw_financial_transactions"
    _create_topic(source.bootstrap, TOPIC)
    _produce(source.bootstrap, TOPIC, range(50))
    assert replication_lag(spec) == {TOPIC: 50}
    mirrors.append(mirror)
    mirror.start()
    wait_until(lambda: _caught_up(spec), 90, "the records replicated", mirror.log_file)
    replica = "events.raw_financial_transactions"
    assert _records(target.bootstrap, replica) == _records(source.bootstrap, TOPIC)
    assert TOPIC not in AdminClient({"bootstrap.servers": target.bootstrap}).list_topics(timeout=10).topics


def _produce_to_every_partition(bootstrap: str, topic: str, key: str, origin: str) -> None:
    """One record with key `key` into each of the topic's 3 partitions."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    headers: dict[str, str | bytes | None] = {"sequence": "-1", origin_header(origin): b""}
    for partition in range(3):
        producer.produce(topic, key=key, value=b"{}", partition=partition, headers=headers)
    assert producer.flush(30) == 0


def _keys(bootstrap: str, topic: str) -> list[tuple[str, str]]:
    """Every record of `topic` read from the start: its key and its origin mark, in
    partition order."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    partitions = admin.list_topics(timeout=10).topics[topic].partitions
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "keys", "enable.auto.commit": False})
    found: list[tuple[str, str]] = []
    try:
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high == low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            read: list[Any] = []

            def read_all(wanted: int = high - low, into: list[Any] = read) -> bool:
                into.extend(m for m in consumer.consume(num_messages=500, timeout=1) if m.error() is None)
                return len(into) >= wanted

            wait_until(read_all, 30, f"reading {topic}[{partition}]")
            for message in read:
                origins = [key for key, _ in message.headers() or [] if key.startswith("origin.")]
                found.append((bytes(message.key() or b"").decode(), ",".join(origins)))
        return found
    finally:
        consumer.close()


def test_a_reverse_replicator_beside_the_original_copies_back_only_what_was_produced_on_dr(
    pairs: Pairs, mirrors: list[LocalMirror]
) -> None:
    """A failover's two directions at once, identical names: no record goes round."""
    source, target = pairs.get("both-ways")
    forward = _spec(source, target, groups=[])
    _create_topic(source.bootstrap, TOPIC)
    _produce(source.bootstrap, TOPIC, range(60))
    mirrors.append(LocalMirror(pairs.root / "mirror-forward", forward))
    mirrors[-1].start()
    wait_until(lambda: _caught_up(forward), 90, "the records replicated", mirrors[-1].log_file)

    reverse = forward.reversed("events-dr-to-events")
    assert (reverse.source, reverse.target, reverse.topic_names) == ("events_dr", "events", "identical")
    mirrors.append(LocalMirror(pairs.root / "mirror-reverse", reverse))
    mirrors[-1].start()
    _produce(target.bootstrap, TOPIC, range(1000, 1030), origin="events_dr")  # after a failover

    # A marker in every partition of each side, crossed over: each replicator has read
    # everything before it (a record gone round would be there by then).
    _produce_to_every_partition(target.bootstrap, TOPIC, "marker-on-dr", "events_dr")
    _produce_to_every_partition(source.bootstrap, TOPIC, "marker-on-source", "events")

    def markers_crossed() -> bool:
        on_source = [key for key, _ in _keys(source.bootstrap, TOPIC)]
        on_target = [key for key, _ in _keys(target.bootstrap, TOPIC)]
        return on_source.count("marker-on-dr") == 3 and on_target.count("marker-on-source") == 3

    wait_until(markers_crossed, 120, "the markers replicated both ways", mirrors[-1].log_file)
    for cluster in (source, target):
        keys = _keys(cluster.bootstrap, TOPIC)
        names = [key for key, _ in keys]
        assert len(names) == len(set(names)) + 4, cluster.bootstrap  # each key once (markers: 3 each)
        assert len(keys) == 60 + 30 + 6
    # The marks travel with the records: each says where it was produced.
    for cluster in (source, target):
        marks = dict(_keys(cluster.bootstrap, TOPIC))
        assert (marks["TX-00000"], marks["TX-01000"]) == ("origin.events", "origin.events_dr")


def _mirror_jvms(properties: Path) -> list[int]:
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = process.info["cmdline"] or []
        if MAIN_CLASS in command and str(properties) in command:
            found.append(process.info["pid"])
    return found


def test_one_jvm_per_mirror_and_none_left_once_stopped(pairs: Pairs, mirrors: list[LocalMirror]) -> None:
    source, target = pairs.get("prefixed")
    # Its own aliases: MM2 names its Connect group and internal topics after the source alias.
    spec = _spec(source, target, source="ledger", target="ledger_dr", topics=["ledger_entries"], groups=[])
    mirror = LocalMirror(pairs.root / "mirror-ledger", spec)
    mirror.root.mkdir(parents=True)
    mirror.properties_file.write_text("clusters=stale\n")
    mirrors.append(mirror)
    pid = mirror.start()
    assert mirror.start() == pid and mirror.running() == pid
    assert "clusters=ledger, ledger_dr\n" in mirror.properties_file.read_text()  # rewritten on start
    wait_until(
        lambda: "Kafka MirrorMaker started" in mirror.log_file.read_text(), 60, "MirrorMaker", mirror.log_file
    )
    assert _mirror_jvms(mirror.properties_file) == [pid]

    assert mirror.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert mirror.running() is None and _mirror_jvms(mirror.properties_file) == []
    assert not mirror.stop()


def test_missing_jars_or_java_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = MirrorSpec("events-to-dr", "events", "127.0.0.1:1", "events_dr", "127.0.0.1:2", [TOPIC], [GROUP])
    mirror = LocalMirror(tmp_path / "mirror", spec)
    monkeypatch.setenv(KAFKA_LIBS_ENV, str(tmp_path / "no-jars"))
    with pytest.raises(OpsError, match="no Kafka jars") as jars:
        mirror.start()
    monkeypatch.delenv(KAFKA_LIBS_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OpsError, match="java is not on PATH") as no_java:
        mirror.start()
    assert "\n" not in str(jars.value) + str(no_java.value)
    assert mirror.running() is None and not mirror.pid_file.exists()
