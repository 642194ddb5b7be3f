"""A real MirrorMaker 2 (Kafka Connect's mirror connectors, dedicated mode) on loopback,
replicating one direction, source cluster -> DR cluster, from the jars `make` copies into
.tools/kafka/libs. One replicator is one folder: its `mm2.properties`, its pid file and its
log, as a broker of ops.local.kafka.

How it is configured for a DR cluster whose consumer groups resume with few duplicates:

- Only the source->target flow runs. The reverse flow is disabled and so are its heartbeats,
  so MM2 starts no herder for it: nothing is written into the source (production) cluster;
  the offset syncs live on the target (`offset-syncs.topic.location=target`).
- Every topic MM2 creates (the replicas, checkpoints, heartbeats, offset syncs, Connect's
  config/offset/status storage) gets a replication factor capped at the size of the cluster
  it lives on: the DR cluster may be one broker.
- Checkpoints are emitted and consumer group offsets are written into the target's groups
  (`sync.group.offsets.enabled`) every second; topics and groups are refreshed every 2 s.
- `offset.lag.max=0`. MM2 translates a group's offset with the latest offset sync at or
  below it (to `sync + 1` when the group is past it): the records between that sync and the
  group's real position are read again on the target. A sync is forced once a partition's
  last one is `offset.lag.max` records old (default 100: up to 100 duplicates per partition
  for a group at the head of a busy topic); 0 forces one after every record. It costs little:
  MM2 keeps at most 10 syncs in flight and coalesces the others per partition, so the extra
  writes follow the sync producer's round trips, not the data rate; syncs held back are sent
  at each commit of the source task (`offset.flush.interval.ms`, 1 s here). Measured by
  tests/integration/test_mirror_maker.py: a group that had read to the head resumes on the
  target at exactly its position (0 duplicates, 0 missing), translated ~1 s after it
  committed. Not bounded by this value: a group far behind the head when it is first
  translated. MM2 keeps about one sync per power of two of distance from the head, and none
  older than what it read at start: such a partition resumes up to that distance earlier, or
  has no translated offset at all (it then starts from the consumer's auto.offset.reset).
- The replicator's producer writes with acks=all (and idempotence), as the platform's.
- No loops, as MSK Replicator prevents them: the platform's producers mark each record with
  the cluster they produced it to (`ops.contracts.origin_header`), and a replicator drops
  the records marked as produced on its target. So a failover's reverse replicator (DR ->
  primary, identical names) can run beside the original: each copies only what was not
  produced on the cluster it writes to. (A mark cannot be added by the replicator itself:
  MM2 writes headers as bytes, and Connect's InsertHeader makes strings.) A dropped record
  has no offset sync: MM2 syncs only the records it wrote.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from ops.contracts import origin_header
from ops.errors import BadInput, OpsError
from ops.local.kafka import JVM_OPTIONS, admin_settings, java, kafka_libs
from ops.util import processes

TopicNames = Literal["identical", "prefixed"]

POLICIES: dict[str, str] = {
    "identical": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
    "prefixed": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
}
MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"
# slf4j-simple (the jars' logger) prints no time by default: a log is read by time.
LOG_TIME = [
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
    "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSSZ",
]
OFFSET_LAG_MAX = 0  # see the module's docstring
ADMIN_TIMEOUT = 5.0  # seconds: a probe of a local cluster, not a batch job

# A cluster alias is a prefix of MM2's property names: no dot, no `->`.
_ALIAS = re.compile(r"[A-Za-z0-9_-]+")
# Legal Kafka topic names; group names are held to the same, so an exact name can be
# written as one of MM2's comma-separated regular expressions.
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _cap(size: int) -> int:
    """The replication factor of a topic on a cluster of `size` brokers."""
    return min(3, size)


def _exact(name: str) -> str:
    """A regular expression matching exactly `name` (`.` is its only special character;
    `[.]` needs no backslash, which a properties file would eat)."""
    return name.replace(".", "[.]")


@dataclass(frozen=True)
class MirrorSpec:
    """One direction of replication: `source` -> `target` (inventory component names)."""

    name: str  # the replicator's
    source: str
    source_bootstrap: str
    target: str
    target_bootstrap: str
    topics: Sequence[str]  # exact topic names
    groups: Sequence[str]  # exact consumer group names, whose offsets are synced
    topic_names: TopicNames = "identical"
    source_size: int = 1  # brokers: replication factors are capped at these
    target_size: int = 1

    def __post_init__(self) -> None:
        # Kept as tuples: the spec is frozen, and hashable.
        object.__setattr__(self, "topics", tuple(self.topics))
        object.__setattr__(self, "groups", tuple(self.groups))
        for alias in (self.source, self.target):
            if not _ALIAS.fullmatch(alias):
                raise BadInput(
                    f"replicator {self.name}: cluster alias {alias!r} is not letters, digits, _, -"
                )
        if self.source == self.target:
            raise BadInput(f"replicator {self.name}: source and target are both {self.source}")
        if not self.topics:
            raise BadInput(f"replicator {self.name}: no topic to replicate")
        for name in (*self.topics, *self.groups):
            if not _NAME.fullmatch(name):
                raise BadInput(f"replicator {self.name}: {name!r} is not a topic or group name")
        if self.topic_names not in POLICIES:
            raise BadInput(f"replicator {self.name}: topic_names must be identical or prefixed")
        if self.source_size < 1 or self.target_size < 1:
            raise BadInput(f"replicator {self.name}: cluster sizes must be at least 1")

    def target_topic(self, topic: str) -> str:
        """The name of source topic `topic` on the target cluster."""
        return topic if self.topic_names == "identical" else f"{self.source}.{topic}"

    def reversed(self, name: str) -> MirrorSpec:
        """The other direction (target -> source), identical names: a failover's reverse
        replicator, which copies back what is produced on the DR cluster."""
        if self.topic_names != "identical":
            raise BadInput(
                f"replicator {self.name}: a reverse replicator needs identical topic names "
                f"(topic_names is {self.topic_names})"
            )
        return MirrorSpec(
            name=name,
            source=self.target,
            source_bootstrap=self.target_bootstrap,
            target=self.source,
            target_bootstrap=self.source_bootstrap,
            topics=self.topics,
            groups=self.groups,
            topic_names="identical",
            source_size=self.target_size,
            target_size=self.source_size,
        )


class LocalMirror:
    def __init__(self, root: Path, spec: MirrorSpec) -> None:
        self.root = root
        self.spec = spec

    @property
    def pid_file(self) -> Path:
        return self.root / "mm2.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "mm2.log"

    @property
    def properties_file(self) -> Path:
        return self.root / "mm2.properties"

    def target_topic(self, topic: str) -> str:
        return self.spec.target_topic(topic)

    def settings(self) -> dict[str, str]:
        spec = self.spec
        source, target = spec.source, spec.target
        flow = f"{source}->{target}."
        target_rf = str(_cap(spec.target_size))
        settings = {
            "clusters": f"{source}, {target}",
            # The jars' plugins all have ServiceLoader manifests: scanning every class of
            # the classpath (the default) takes 10 s per herder on a small machine.
            "plugin.discovery": "service_load",
            f"{target}.plugin.discovery": "service_load",
            f"{source}.bootstrap.servers": spec.source_bootstrap,
            f"{target}.bootstrap.servers": spec.target_bootstrap,
            "replication.policy.class": POLICIES[spec.topic_names],
            f"{flow}enabled": "true",
            f"{target}->{source}.enabled": "false",
            # Without this MM2 still runs a target->source herder for heartbeats.
            f"{target}->{source}.emit.heartbeats.enabled": "false",
            f"{flow}topics": ",".join(_exact(topic) for topic in spec.topics),
            f"{flow}heartbeats.replication.enabled": "false",  # only the listed topics
            f"{flow}sync.topic.acls.enabled": "false",  # the local brokers have no authorizer
            f"{flow}replication.factor": target_rf,
            f"{flow}checkpoints.topic.replication.factor": target_rf,
            f"{flow}heartbeats.topic.replication.factor": target_rf,
            f"{flow}offset-syncs.topic.replication.factor": target_rf,
            f"{flow}offset-syncs.topic.location": "target",
            f"{flow}offset.lag.max": str(OFFSET_LAG_MAX),
            f"{flow}emit.heartbeats.interval.seconds": "1",
            f"{flow}refresh.topics.interval.seconds": "2",
            f"{flow}refresh.groups.interval.seconds": "2",
            # The target herder's worker: how often the source task commits, which also
            # sends the offset syncs held back since the last one.
            f"{target}.offset.flush.interval.ms": "1000",
            f"{target}.producer.acks": "all",
            f"{target}.producer.enable.idempotence": "true",
            # Checkpoints (the checkpoint connector refuses to run without them) and the
            # group offsets written from them into the target's groups.
            f"{flow}emit.checkpoints.enabled": "true",
            f"{flow}emit.checkpoints.interval.seconds": "1",
            f"{flow}sync.group.offsets.enabled": "true",
            f"{flow}sync.group.offsets.interval.seconds": "1",
            # Loop prevention (see the module's docstring).
            f"{flow}transforms": "dropProducedOnTarget",
            f"{flow}transforms.dropProducedOnTarget.type": "org.apache.kafka.connect.transforms.Filter",
            f"{flow}transforms.dropProducedOnTarget.predicate": "producedOnTarget",
            f"{flow}predicates": "producedOnTarget",
            f"{flow}predicates.producedOnTarget.type": (
                "org.apache.kafka.connect.transforms.predicates.HasHeaderKey"
            ),
            f"{flow}predicates.producedOnTarget.name": origin_header(target),
        }
        if spec.groups:
            settings[f"{flow}groups"] = ",".join(_exact(group) for group in spec.groups)
        else:  # MM2's default is every group
            settings[f"{flow}groups.exclude"] = ".*"
        # Connect's storage topics, per cluster (a herder keeps them on its target). Never
        # top-level: those would override the per-cluster values.
        for alias, size in ((source, spec.source_size), (target, spec.target_size)):
            for store in ("config", "offset", "status"):
                settings[f"{alias}.{store}.storage.replication.factor"] = str(_cap(size))
        return settings

    def write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        name = " ".join(self.spec.name.split())  # one comment line, whatever the name
        header = f"# MirrorMaker 2 `{name}`: {self.spec.source} -> {self.spec.target}\n"
        text = "".join(f"{key}={value}\n" for key, value in self.settings().items())
        self.properties_file.write_text(header + text)
        return self.properties_file

    def start(self) -> int:
        """Start the replicator unless it runs; its pid."""
        pid = self.running()
        if pid is not None:
            return pid
        command = [
            java(),
            *JVM_OPTIONS,
            *LOG_TIME,
            "-cp",
            f"{kafka_libs()}/*",
            MAIN_CLASS,
            str(self.write_config()),
        ]
        return processes.start_detached(
            command, self.pid_file, self.log_file, env=processes.child_environment()
        )

    def running(self) -> int | None:
        return processes.running_pid(self.pid_file)

    def stop(self) -> bool:
        return processes.stop(self.pid_file)


def _admin(bootstrap: str) -> AdminClient:
    # No librdkafka chatter on the terminal when a cluster is down: the OpsError says it.
    return AdminClient(admin_settings(bootstrap, ADMIN_TIMEOUT))


def _failed(alias: str, bootstrap: str, what: str, error: BaseException) -> OpsError:
    detail = " ".join(str(error).split())[:200] or type(error).__name__
    return OpsError(f"reading {what} of Kafka cluster {alias} ({bootstrap}) failed: {detail}")


def _record_counts(alias: str, bootstrap: str, topics: Sequence[str]) -> dict[str, int | None]:
    """Per topic: end offset - start offset summed over its partitions; None if the
    cluster has no such topic. A partition whose leader is moving (a topic just created, a
    broker restarting) is asked again until ADMIN_TIMEOUT, then it is an error."""
    deadline = time.monotonic() + ADMIN_TIMEOUT
    while True:
        try:
            return _record_counts_once(alias, bootstrap, topics)
        except OpsError as error:
            retriable = isinstance(error.__cause__, KafkaException) and error.__cause__.args[0].retriable()
            if not retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _record_counts_once(alias: str, bootstrap: str, topics: Sequence[str]) -> dict[str, int | None]:
    admin = _admin(bootstrap)
    try:
        # Every topic's metadata: asking for one by name could auto-create it.
        metadata = admin.list_topics(timeout=ADMIN_TIMEOUT).topics
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            if topic in metadata
            for partition in metadata[topic].partitions
        ]
        counts: dict[str, int | None] = {topic: (0 if topic in metadata else None) for topic in topics}
        if not partitions:
            return counts
        ends = _offsets(admin, partitions, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        starts = _offsets(admin, partitions, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
    except (KafkaException, concurrent.futures.TimeoutError) as error:
        raise _failed(alias, bootstrap, "topic offsets", error) from error
    for key, end in ends.items():
        counts[key[0]] = (counts[key[0]] or 0) + end - starts[key]
    return counts


def _offsets(admin: AdminClient, partitions: list[TopicPartition], spec: Any) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=ADMIN_TIMEOUT)
    return {
        (tp.topic, tp.partition): int(future.result(timeout=ADMIN_TIMEOUT).offset)
        for tp, future in futures.items()
    }


def replication_lag(spec: MirrorSpec) -> dict[str, int]:
    """Per source topic: how many records the target is behind (source records minus
    target records, at least 0); a topic missing on the target counts all its records, one
    missing on the source none."""
    source = _record_counts(spec.source, spec.source_bootstrap, spec.topics)
    target_names = {topic: spec.target_topic(topic) for topic in spec.topics}
    target = _record_counts(spec.target, spec.target_bootstrap, list(target_names.values()))
    return {topic: max(0, (source[topic] or 0) - (target[target_names[topic]] or 0)) for topic in spec.topics}


def synced_group_offsets(spec: MirrorSpec, group: str) -> dict[tuple[str, int], int]:
    """The offsets `group` has committed on the target cluster for the replicated topics
    (what MM2's group offset sync wrote, until the group runs there), by (target topic,
    partition)."""
    wanted = [spec.target_topic(topic) for topic in spec.topics]
    return committed_offsets(spec.target, spec.target_bootstrap, group, wanted)


def committed_offsets(
    alias: str, bootstrap: str, group: str, topics: Sequence[str]
) -> dict[tuple[str, int], int]:
    """The offsets `group` has committed on a cluster for `topics`, by (topic, partition)."""
    admin = _admin(bootstrap)
    request = [ConsumerGroupTopicPartitions(group)]
    try:
        futures = admin.list_consumer_group_offsets(request, request_timeout=ADMIN_TIMEOUT)
        result = futures[group].result(timeout=ADMIN_TIMEOUT)
    except (KafkaException, concurrent.futures.TimeoutError) as error:
        raise _failed(alias, bootstrap, f"group {group}'s offsets", error) from error
    return {
        (tp.topic, tp.partition): int(tp.offset)
        for tp in result.topic_partitions or []
        if tp.topic in topics and tp.error is None and tp.offset >= 0
    }


def end_offsets(alias: str, bootstrap: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """Each partition's end offset (the next record's), by (topic, partition); a topic the
    cluster lacks has none."""
    admin = _admin(bootstrap)
    try:
        metadata = admin.list_topics(timeout=ADMIN_TIMEOUT).topics
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            if topic in metadata
            for partition in metadata[topic].partitions
        ]
        return _offsets(admin, partitions, OffsetSpec.latest()) if partitions else {}  # type: ignore[no-untyped-call]
    except (KafkaException, concurrent.futures.TimeoutError) as error:
        raise _failed(alias, bootstrap, "end offsets", error) from error


def partition_counts(alias: str, bootstrap: str) -> dict[str, int]:
    """Every topic of a cluster and its number of partitions."""
    try:
        metadata = _admin(bootstrap).list_topics(timeout=ADMIN_TIMEOUT).topics
    except KafkaException as error:
        raise _failed(alias, bootstrap, "topics", error) from error
    return {name: len(topic.partitions) for name, topic in metadata.items()}


def catch_up_seconds(spec: MirrorSpec, timeout: float) -> float:
    """How long the target takes to hold as many records per topic as the source holds
    now: the replication latency, measured (to the poll's 0.2 s). Raises OpsError after
    `timeout`. Counts compare because each replicator copies only what was produced on its
    source and a failback waits until the reverse one has copied everything back."""
    started = time.monotonic()
    wanted = _record_counts(spec.source, spec.source_bootstrap, spec.topics)
    names = {topic: spec.target_topic(topic) for topic in spec.topics}
    while True:
        have = _record_counts(spec.target, spec.target_bootstrap, list(names.values()))
        behind = {t: (wanted[t] or 0) - (have[names[t]] or 0) for t in spec.topics}
        if all(count <= 0 for count in behind.values()):
            return round(time.monotonic() - started, 3)
        if time.monotonic() - started > timeout:
            late = ", ".join(f"{t}: {n}" for t, n in sorted(behind.items()) if n > 0)
            raise OpsError(
                f"{spec.target} did not catch up with {spec.source} within {timeout:.0f} s "
                f"(records behind: {late}); is replicator {spec.name} running?"
            )
        time.sleep(0.2)
