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

from ops.errors import OpsError
from ops.util import processes

KAFKA_LIBS_ENV = "OPS_KAFKA_LIBS"
START_TIMEOUT = 60.0
HEAP = "-Xmx256m"  # three brokers and a replicator on a 2-core, small machine


def kafka_libs() -> Path:
    """The Kafka jars: OPS_KAFKA_LIBS, else .tools/kafka/libs of this checkout."""
    import os

    named = os.environ.get(KAFKA_LIBS_ENV)
    libs = Path(named) if named else Path(__file__).resolve().parents[2] / ".tools" / "kafka" / "libs"
    if not any(libs.glob("kafka_2.13-*.jar")):
        raise OpsError(
            f"no Kafka jars in {libs}: run `make .tools/kafka/.built` (Java 17+ and Maven), "
            f"or set {KAFKA_LIBS_ENV}"
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
        command = [java(), HEAP, "-cp", f"{kafka_libs()}/*", "kafka.Kafka", str(self._properties)]
        processes.start_detached(command, self.pid_file, self.log_file, env=processes.child_environment())

    def running(self) -> int | None:
        return processes.running_pid(self.pid_file)

    def stop(self) -> bool:
        return processes.stop(self.pid_file)


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (as Kafka's own)."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


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
