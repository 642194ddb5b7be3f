"""A real Apache Kafka broker (KRaft: broker and controller in one JVM) on loopback, from
the jars `make` copies into .tools/kafka/libs (tools/kafka/pom.xml pins them).

One broker is one folder: its `server.properties`, its log directory (formatted once with
the cluster's id), its pid file and its log. The local platform's clusters are made of
these; a broker is started detached, in its own session, with an environment built for
it (never the caller's)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.errors import OpsError
from ops.util import processes

KAFKA_LIBS_ENV = "OPS_KAFKA_LIBS"
# A cluster forms once a majority of its JVMs run, which on a busy 2-core machine (a test
# suite beside it) can take over a minute: 2 minutes, then one line naming its log.
START_TIMEOUT = 120.0
HEAP = "-Xmx256m"  # three brokers and a replicator on a 2-core, small machine
# The serial collector: one GC thread per JVM, not one per core each, for five JVMs on
# two cores with small heaps (their pauses stay short at 256 MB).
JVM_OPTIONS = (HEAP, "-XX:+UseSerialGC")


def kafka_libs() -> Path:
    """The Kafka jars: OPS_KAFKA_LIBS, else .tools/kafka/libs of this checkout."""
    import os

    named = os.environ.get(KAFKA_LIBS_ENV)
    libs = Path(named) if named else Path(__file__).resolve().parents[2] / ".tools" / "kafka" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise OpsError(
            f"no Kafka jars in {libs}: run `make .tools/kafka/.built` (Java 17+ and Maven), "
            f"or set {KAFKA_LIBS_ENV}; `ops local up --no-kafka` runs the platform without Kafka"
        )
    return libs


def java() -> str:
    found = shutil.which("java")
    if found is None:
        raise OpsError("java is not on PATH: the local Kafka needs Java 17 or newer")
    return found


@dataclass(frozen=True)
class BrokerSpec:
    """One KRaft node that is both broker and controller of its cluster."""

    node_id: int
    port: int  # clients and the other brokers
    controller_port: int
    voters: str  # controller.quorum.voters: `id@127.0.0.1:port,...` of the cluster
    replication: int = 1  # the internal topics' replication factor (the cluster's size, at most 3)


class LocalBroker:
    def __init__(self, root: Path, spec: BrokerSpec) -> None:
        self.root = root
        self.spec = spec

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.spec.port}"

    @property
    def pid_file(self) -> Path:
        return self.root / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "broker.log"

    @property
    def _properties(self) -> Path:
        return self.root / "server.properties"

    def _settings(self) -> dict[str, str]:
        spec = self.spec
        min_isr = str(max(1, min(2, spec.replication - 1)))
        return {
            "process.roles": "broker,controller",
            "node.id": str(spec.node_id),
            "controller.quorum.voters": spec.voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{spec.port},CONTROLLER://127.0.0.1:{spec.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{spec.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.root / "data"),
            "offsets.topic.replication.factor": str(spec.replication),
            "transaction.state.log.replication.factor": str(spec.replication),
            "transaction.state.log.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            # A killed broker is fenced (and dropped from every ISR, so acks=all writes go
            # on with the two left) after 4 s without a heartbeat, not the default 9 s: well
            # within the ingest service's 10 s wait for an acknowledgement.
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "1000",
        }

    def format(self, cluster_id: str) -> None:
        """Write the configuration and format the log directory, once (a formatted
        directory keeps its data across restarts)."""
        self.root.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in self._settings().items())
        self._properties.write_text(text)
        if (self.root / "data" / "meta.properties").exists():
            return
        command = [java(), "-cp", f"{kafka_libs()}/*", "kafka.tools.StorageTool", "format"]
        command += ["-t", cluster_id, "-c", str(self._properties)]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=processes.child_environment(),
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).split())[:300]
            raise OpsError(f"formatting the Kafka log directory {self.root / 'data'} failed: {detail}")

    def start(self) -> None:
        if self.running():
            return
        command = [java(), *JVM_OPTIONS, "-cp", f"{kafka_libs()}/*", "kafka.Kafka", str(self._properties)]
        processes.start_detached(command, self.pid_file, self.log_file, env=processes.child_environment())

    def running(self) -> int | None:
        return processes.running_pid(self.pid_file)

    def stop(self) -> bool:
        return processes.stop(self.pid_file)


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (as Kafka's own),
    never starting with '-' (the storage tool would read it as an option)."""
    import base64

    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def admin_settings(bootstrap: str, timeout: float = 5.0) -> dict[str, Any]:
    """An admin client's settings for the toolkit's own reads: short timeouts, and
    librdkafka's lines (a refused connection while a broker starts) to Python's logging at
    debug, not to the terminal: the caller says what failed in one line."""
    import logging

    return {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": int(timeout * 1000),
        "reconnect.backoff.max.ms": 1000,
        "logger": _QuietLogger(logging.getLogger("kafka.admin")),
    }


class _QuietLogger:
    """librdkafka logs through `log(level, fmt, *args)`; everything goes at debug here."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def log(self, _level: int, fmt: str, *args: object) -> None:
        self._logger.debug(fmt, *args)


class LocalCluster:
    """`size` KRaft nodes on loopback, each a broker and a voter of the controller quorum
    (three make a cluster that keeps taking writes with one node down: replication factor
    3, min.insync.replicas 2)."""

    def __init__(self, root: Path, brokers: list[LocalBroker]) -> None:
        self.root = root
        self.brokers = brokers

    @classmethod
    def plan(cls, root: Path, size: int, ports: list[int]) -> LocalCluster:
        """A cluster of `size` nodes from `2 * size` free ports (client, controller each)."""
        if len(ports) != 2 * size:
            raise ValueError(f"a cluster of {size} needs {2 * size} ports, not {len(ports)}")
        nodes = [(n + 1, ports[2 * n], ports[2 * n + 1]) for n in range(size)]
        voters = ",".join(f"{node}@127.0.0.1:{controller}" for node, _, controller in nodes)
        replication = min(3, size)
        brokers = [
            LocalBroker(root / f"broker-{node}", BrokerSpec(node, port, controller, voters, replication))
            for node, port, controller in nodes
        ]
        return cls(root, brokers)

    @property
    def bootstrap(self) -> str:
        return ",".join(broker.bootstrap for broker in self.brokers)

    def start(self, cluster_id: str) -> None:
        for broker in self.brokers:
            broker.format(cluster_id)
        for broker in self.brokers:  # together: a quorum forms only once a majority runs
            broker.start()

    def stop(self) -> list[int]:
        """Stop every node; the node ids that were running."""
        return [b.spec.node_id for b in self.brokers if b.stop()]

    def live_nodes(self, timeout: float = 2.0) -> set[int]:
        """The node ids the cluster's metadata lists as live brokers (empty: none answers)."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        try:
            metadata = AdminClient(admin_settings(self.bootstrap, timeout)).list_topics(timeout=timeout)
        except KafkaException:
            return set()
        return set(metadata.brokers)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Until every node is a live broker of the cluster."""
        wanted = {broker.spec.node_id for broker in self.brokers}
        processes.wait_until(
            lambda: self.live_nodes() >= wanted,
            timeout,
            f"the Kafka cluster in {self.root} ({len(wanted)} brokers)",
            self.brokers[0].log_file,
        )

    def ensure_topics(self, topics: list[TopicSpec], timeout: float = 60.0) -> list[str]:
        """Create the topics the cluster lacks (existing ones are left as they are); the
        names created."""
        from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

        admin = AdminClient(admin_settings(self.bootstrap))
        existing = set(admin.list_topics(timeout=10).topics)
        new = [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replicas,
                config={"min.insync.replicas": str(t.min_insync)},
            )
            for t in topics
            if t.name not in existing
        ]
        if not new:
            return []
        for name, future in admin.create_topics(new, operation_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
            except Exception as error:  # KafkaException: one line naming the topic
                raise OpsError(f"creating topic {name} on {self.bootstrap} failed: {error}") from None
        return [t.topic for t in new]


@dataclass(frozen=True)
class TopicSpec:
    """A topic as a local cluster holds it: replicas capped at the cluster's size, and
    min.insync.replicas one less than the replicas (2 of 3, as MSK's default), at least 1."""

    name: str
    partitions: int
    replicas: int

    @classmethod
    def capped(cls, name: str, partitions: int, replication_factor: int, cluster_size: int) -> TopicSpec:
        return cls(name, partitions, max(1, min(replication_factor, cluster_size)))

    @property
    def min_insync(self) -> int:
        return max(1, min(2, self.replicas - 1))


# --- health: what a rolling reboot waits for and stops on --------------------------------
@dataclass(frozen=True)
class PartitionHealth:
    """A cluster's partitions as its metadata says: the live brokers, each under-replicated
    partition (`topic[p]`) with the replicas missing from its ISR, and the partitions with
    no leader (offline)."""

    live: frozenset[int]
    under_replicated: dict[str, frozenset[int]]
    offline: tuple[str, ...]
    partitions: int


def partition_health(bootstrap: str, timeout: float = 5.0, admin: Any = None) -> PartitionHealth:
    """Every partition of every topic (the internal ones too): ISR against replicas, and
    its leader. Raises OpsError when no broker answers."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    client = admin if admin is not None else AdminClient(admin_settings(bootstrap, timeout))
    try:
        metadata = client.list_topics(timeout=timeout)
    except KafkaException as error:
        raise OpsError(f"no broker of {bootstrap} answered for metadata: {error}") from None
    under: dict[str, frozenset[int]] = {}
    offline: list[str] = []
    count = 0
    for topic, info in sorted(metadata.topics.items()):
        for index, partition in sorted(info.partitions.items()):
            count += 1
            name = f"{topic}[{index}]"
            if partition.leader < 0:
                offline.append(name)
            missing = frozenset(partition.replicas) - frozenset(partition.isrs)
            if missing:
                under[name] = missing
    return PartitionHealth(frozenset(metadata.brokers), under, tuple(offline), count)


DESCRIBE_QUORUM = 55  # the Kafka protocol's DescribeQuorum request (KIP-595), version 0
METADATA_TOPIC = "__cluster_metadata"


def quorum_leader(address: str, timeout: float = 3.0) -> int | None:
    """The active controller of a KRaft cluster, as a broker forwards the question to it
    (DescribeQuorum on the metadata partition): its node id, or None when no controller
    answers in time (no quorum) or the broker cannot be reached.

    librdkafka's DescribeCluster does not tell: a KRaft broker answers it with any live
    broker's id, quorum or not."""
    import socket
    import struct

    def uvarint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    client = b"platform-ops"
    topic = METADATA_TOPIC.encode()
    header = struct.pack(">hhih", DESCRIBE_QUORUM, 0, 1, len(client)) + client + uvarint(0)
    # Topics [{name, partitions [{index 0}]}], compact arrays (length + 1), no tagged fields.
    body = uvarint(2) + uvarint(len(topic) + 1) + topic + uvarint(2) + struct.pack(">i", 0)
    body += uvarint(0) + uvarint(0) + uvarint(0)
    request = header + body
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(struct.pack(">i", len(request)) + request)
            answer = _read_exactly(conn, struct.unpack(">i", _read_exactly(conn, 4))[0])
    except (OSError, ValueError):
        return None
    return _leader_of(answer)


def _read_exactly(conn: Any, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ValueError("the broker closed the connection")
        data += chunk
    return data


def _leader_of(answer: bytes) -> int | None:
    """The leader id in a DescribeQuorum v0 response (None: an error, or no leader)."""
    import struct

    position = 4  # the correlation id

    def uvarint() -> int:
        nonlocal position
        value, shift = 0, 0
        while True:
            byte = answer[position]
            position += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def skip_tags() -> None:
        nonlocal position
        for _ in range(uvarint()):
            uvarint()  # the tag
            size = uvarint()
            position += size  # its bytes

    try:
        skip_tags()  # the response header's
        (error,) = struct.unpack_from(">h", answer, position)
        position += 2
        if error or uvarint() < 2:  # an error, or no topic
            return None
        name_size = uvarint() - 1
        position += name_size  # the topic name
        if uvarint() < 2:  # no partition
            return None
        _index, partition_error, leader = struct.unpack_from(">ihi", answer, position)
    except (IndexError, struct.error):
        return None
    return leader if partition_error == 0 and leader >= 0 else None
