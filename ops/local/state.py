"""The local platform's part of the state directory: platform.json, PostgreSQL's data and
the databases runbooks restored."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ops.state import StateDir, write_atomic


@dataclass
class ServerRecord:
    """A PostgreSQL server of the platform: its folder (data, WAL archive, base backups) and
    port, and for an old primary whether the run that replaced it kept it running."""

    root: str
    port: int
    running: bool = True
    run_id: str = ""  # the run that made it the primary, or an old one

    @property
    def name(self) -> str:
        return Path(self.root).name


@dataclass
class ReaderRecord:
    """A reader of the warehouse (ops/local/readers.py): a streaming replica, its folder
    and port, and the folder of the primary it was cloned from (another primary since, by
    a cutover: it is rebuilt from the new one)."""

    root: str
    port: int
    upstream: str

    @property
    def name(self) -> str:
        return Path(self.root).name


@dataclass
class ClusterRecord:
    """A local Kafka cluster (an msk component): its KRaft cluster id, formatted once, and
    its nodes' ports, a client and a controller port each, node 1 first."""

    cluster_id: str
    ports: list[int]


@dataclass
class PlatformRecord:
    """What `ops local up` chose and started; read by every later command."""

    platform: str
    environment: str
    region: str
    emulator_port: int
    postgres_port: int  # the platform's own server (state/postgres)
    ingest_port: int
    database: str
    # Set only when a cutover moved the ingest path to another database (the primary's
    # endpoint; kept for readers of platform.json such as bench/pitr_local.py).
    warehouse_endpoint: dict[str, Any] = field(default_factory=dict)
    seeded: dict[str, Any] = field(default_factory=dict)
    # The server the ingest path writes to, once a cutover made a restored one the primary;
    # None: the platform's own. Written by the cutover and by its rollback.
    primary: ServerRecord | None = None
    # Primaries a cutover replaced, kept running or stopped as the run said.
    old_servers: list[ServerRecord] = field(default_factory=list)
    # Kafka: whether this platform runs it (`ops local up --no-kafka` leaves it out), each
    # msk component's cluster, the loader's port, and which cluster each primary's clients
    # use (a failover changes it; absent: the primary itself).
    kafka: bool = False
    kafka_clusters: dict[str, ClusterRecord] = field(default_factory=dict)
    loader_port: int = 0
    kafka_active: dict[str, str] = field(default_factory=dict)
    # What a failover holds of a primary's clients while it moves them ("producers",
    # "consumers"): published in the endpoint parameter (ops.contracts.KafkaEndpoint).
    kafka_holds: dict[str, list[str]] = field(default_factory=dict)
    # Reverse replicators a failover created (DR -> primary), by the inventory replicator
    # they reverse: {"name": ..., "run_id": ...}. `up` starts them again; a failback
    # deletes them.
    kafka_reverse: dict[str, dict[str, str]] = field(default_factory=dict)
    # Replicators an unplanned failover detached from their lost source (by inventory name:
    # the run's id): `up` leaves them stopped, so what was stranded on the source reaches
    # DR only when a failback re-publishes it, approved.
    kafka_detached: dict[str, str] = field(default_factory=dict)
    # The stranded records an unplanned failover listed, by primary: {"run_id", "file"}.
    kafka_stranded: dict[str, dict[str, str]] = field(default_factory=dict)
    # The warehouse's readers (streaming replicas of the primary), as many as the
    # inventory's `readers`.
    readers: list[ReaderRecord] = field(default_factory=list)

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.emulator_port}"

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.ingest_port}"

    @property
    def loader_url(self) -> str:
        return f"http://127.0.0.1:{self.loader_port}"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlatformRecord:
        primary = data.pop("primary", None)
        old = data.pop("old_servers", [])
        clusters = data.pop("kafka_clusters", {})
        readers = data.pop("readers", [])
        return cls(
            **data,
            readers=[ReaderRecord(**reader) for reader in readers],
            primary=ServerRecord(**primary) if primary else None,
            old_servers=[ServerRecord(**server) for server in old],
            kafka_clusters={name: ClusterRecord(**cluster) for name, cluster in clusters.items()},
        )

    def old_server(self, root: Path) -> ServerRecord | None:
        return next((s for s in self.old_servers if Path(s.root) == root), None)


class LocalState(StateDir):
    """The state directory as the local platform sees it."""

    @classmethod
    def of(cls, state: StateDir) -> LocalState:
        return state if isinstance(state, LocalState) else cls(state.root)

    @property
    def record_file(self) -> Path:
        return self.root / "platform.json"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def kafka_dir(self) -> Path:
        """One folder per Kafka cluster (its brokers), and the replicators'."""
        return self.root / "kafka"

    @property
    def ack_log(self) -> Path:
        """The ingest service's acknowledgement log (ops/local/ingest/acks.py)."""
        return self.kafka_dir / "acks.jsonl"

    @property
    def restores_dir(self) -> Path:
        """Databases restored by runbooks, one folder per target identifier."""
        return self.root / "restores"

    @property
    def readers_dir(self) -> Path:
        """The warehouse's readers (streaming replicas), one folder each."""
        return self.root / "readers"

    def ensure(self) -> None:
        super().ensure()
        self.postgres_dir.mkdir(parents=True, exist_ok=True)

    def read_record(self) -> PlatformRecord | None:
        try:
            return PlatformRecord.from_json(json.loads(self.record_file.read_text()))
        except FileNotFoundError:
            return None

    def write_record(self, record: PlatformRecord) -> None:
        write_atomic(self.record_file, json.dumps(asdict(record), indent=2) + "\n")
