"""`ops local up | down | status`: start, stop and inspect the embedded local platform.

`up` is idempotent: a part that is running and healthy is left alone, a part that is not
is (re)started; the emulator is seeded whenever it starts, since it keeps state in memory.

The platform follows its own runbooks: a cutover makes a restored server the primary and
the one it replaced an old server, kept running or stopped (`PlatformRecord.primary`,
`old_servers`). `up` starts the primary and the old servers kept running, `status` reports
the primary and lists the old ones for what they are, `down` stops every server.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ops.aws.clients import ClientFactory
from ops.contracts import (
    KAFKA_PARAMETER_ENV,
    PARAMETER_ENV,
    DatabaseEndpoint,
    endpoint_parameter,
    kafka_endpoint_parameter,
)
from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.local import readers
from ops.local.emulator import (
    EMULATOR_CREDENTIALS,
    emulator_command,
    emulator_healthy,
    emulator_target,
)
from ops.local.health import ingest_health, loader_health
from ops.local.ingest.acks import ACK_LOG_ENV
from ops.local.ingest.publisher import TOPICS_ENV
from ops.local.loader import GROUPS_ENV, PORT_ENV
from ops.local.parts import PartStatus
from ops.local.postgres import SUPERUSER, LocalPostgres
from ops.local.seed import seed_environment
from ops.local.state import LocalState, PlatformRecord, ServerRecord
from ops.local.streaming import LocalKafka
from ops.state import StateDir
from ops.util import processes
from ops.util.ports import free_port, port_is_free

log = logging.getLogger(__name__)

EMULATOR = "emulator"
INGEST = "ingest"
LOADER = "loader"
POSTGRES = "postgres"
START_TIMEOUT = 60.0


class LocalPlatform:
    """The three parts of the local world, under one state directory."""

    def __init__(self, env: Environment, state: StateDir) -> None:
        if env.provider != "local":
            raise BadInput(
                f"{env.source}: environments.{env.name}.provider is {env.provider!r}; "
                "`ops local` runs an environment whose provider is 'local' (try --env local)"
            )
        self.env = env
        self.state = LocalState.of(state)
        self.warehouse_name, self.warehouse = _warehouse(env)
        self.kafka = LocalKafka(env, self.state)

    # --- up ----------------------------------------------------------------------------
    def up(self, kafka: bool | None = None) -> PlatformRecord:
        """Start what is not running. `kafka` adds (True) or leaves out (False) the Kafka
        clusters, the replicator and the loader; None keeps the platform as it was made
        (a new one has them)."""
        self.state.ensure()
        with self._lock():
            record = self.state.read_record() or self._new_record()
            if kafka is not None:
                record.kafka = kafka
            self._up_postgres(record)
            seeded = self._up_emulator(record)
            if seeded is not None:
                record.seeded = seeded
            for name, port in ((INGEST, record.ingest_port), (LOADER, record.loader_port)):
                if not processes.running_pid(self.state.pid_file(name)) and not port_is_free(port):
                    self._set_port(record, name, free_port())
            if record.kafka:
                # The clusters' ids and ports are kept before any broker is formatted with
                # them: a failed start must not leave data under an id the record lacks.
                self.kafka.ensure_record(record)
                self.state.write_record(record)
                self.kafka.up(record)
            else:
                self._down_kafka()
            self._publish_parameters(record)
            self.state.write_record(record)
            self._up_ingest(record)
            if record.kafka:
                self._up_loader(record)
            self.state.write_record(record)
            # Last: the ingest path runs without its readers; one that cannot be made is
            # said (and `ops local status` shows it) without stopping the rest.
            try:
                readers.ensure(self.state, record, self.primary(record), self.warehouse.readers)
            except OpsError as error:
                log.warning("postgres: a reader is not streaming: %s; `ops local up` tries again", error)
            self.state.write_record(record)
            return record

    @staticmethod
    def _set_port(record: PlatformRecord, part: str, port: int) -> None:
        if part == INGEST:
            record.ingest_port = port
        else:
            record.loader_port = port

    def _new_record(self) -> PlatformRecord:
        return PlatformRecord(
            platform=self.env.platform,
            environment=self.env.name,
            region=self.env.region,
            emulator_port=free_port(),
            postgres_port=free_port(),
            ingest_port=free_port(),
            database=self.warehouse.database,
            kafka=True,
            loader_port=free_port(),
        )

    def postgres(self, record: PlatformRecord) -> LocalPostgres:
        """The platform's own server (state/postgres), primary or not."""
        return LocalPostgres(self.state.postgres_dir, record.postgres_port)

    def primary(self, record: PlatformRecord) -> LocalPostgres:
        """The server the ingest path writes to: the platform's own, or the restored one
        the last cutover made the primary."""
        if record.primary is None:
            return self.postgres(record)
        return LocalPostgres(Path(record.primary.root), record.primary.port)

    def _up_postgres(self, record: PlatformRecord) -> None:
        pg = self.primary(record)
        if pg.is_running():
            log.info("postgres: already running on 127.0.0.1:%d", pg.port)
        else:
            if not port_is_free(pg.port):
                self._move_port(record, pg.paths.root, free_port())
                pg = self.primary(record)
            if record.primary is None and not pg.initialised():
                log.info("postgres: initialising %s", pg.paths.data)
                pg.init()
            elif not pg.initialised():
                raise OpsError(
                    f"{self.state.record_file}: primary: {pg.paths.data} holds no database; "
                    f"restore it, or point primary back at {self.state.postgres_dir}"
                )
            log.info("postgres: starting %s on 127.0.0.1:%d", pg.paths.root.name, pg.port)
            pg.start()
        pg.ensure_database(record.database)
        if not pg.base_backups():  # a primary is restorable, whichever server it is
            log.info("postgres: base backup %s", pg.take_base_backup().name)
        for old in record.old_servers:
            server = LocalPostgres(Path(old.root), old.port)
            if old.running and server.initialised() and not server.is_running():
                if not port_is_free(server.port):
                    self._move_port(record, server.paths.root, free_port())
                    server = LocalPostgres(Path(old.root), old.port)
                log.info("postgres: starting old server %s (kept by %s)", old.name, old.run_id or "a run")
                server.start()

    def _move_port(self, record: PlatformRecord, root: Path, port: int) -> None:
        """A server's port was taken while it was stopped: record the new one."""
        if root == self.state.postgres_dir:
            record.postgres_port = port
        for server in (record.primary, *record.old_servers):
            if server is not None and Path(server.root) == root:
                server.port = port
        if record.primary is not None and record.warehouse_endpoint:
            record.warehouse_endpoint["port"] = record.primary.port

    def _up_emulator(self, record: PlatformRecord) -> dict[str, object] | None:
        pid_file = self.state.pid_file(EMULATOR)
        if processes.running_pid(pid_file) and emulator_healthy(record.emulator_port):
            log.info("emulator: already running on %s", record.emulator_url)
            return None
        processes.stop(pid_file)
        if not port_is_free(record.emulator_port):
            record.emulator_port = free_port()
        log_file = self.state.log_file(EMULATOR)
        processes.start_detached(
            emulator_command(record.emulator_port), pid_file, log_file, env=self._child_environment(record)
        )
        processes.wait_until(
            lambda: emulator_healthy(record.emulator_port), START_TIMEOUT, "the AWS emulator", log_file
        )
        seeded = seed_environment(self.aws(record), self.env)
        log.info("emulator: started on %s, seeded %d components", record.emulator_url, len(seeded))
        return dict(seeded)

    def _publish_parameters(self, record: PlatformRecord) -> None:
        """The endpoints other parts read: the warehouse (for the ingest service) and
        the ingest URL (for load tests). Ports can change between `up`s."""
        ssm = self.aws(record).client("ssm")
        parameters = {
            self.endpoint_parameter: self.warehouse_endpoint(record).to_json(),
            self.env.parameter_name("ingest", "url"): record.ingest_url,
        }
        if record.kafka:
            parameters.update(self.kafka.parameters(record))
        for name, value in parameters.items():
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

    def _up_ingest(self, record: PlatformRecord) -> None:
        pid_file = self.state.pid_file(INGEST)
        healthy, detail = ingest_health(record.ingest_url)
        same_mode = detail.startswith("kafka ") == self.via_kafka(record)
        if processes.running_pid(pid_file) and healthy and same_mode:
            log.info("ingest: already running on %s", record.ingest_url)
            return
        processes.stop(pid_file)
        log_file = self.state.log_file(INGEST)
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "ops.local.ingest.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(record.ingest_port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        processes.start_detached(command, pid_file, log_file, env=self._ingest_environment(record))
        processes.wait_until(
            lambda: ingest_health(record.ingest_url)[0], START_TIMEOUT, "the ingest service", log_file
        )
        log.info("ingest: started on %s", record.ingest_url)

    def _child_environment(self, record: PlatformRecord) -> dict[str, str]:
        """What the emulator and the ingest service run with: built for them (the fixed
        dummy credentials, the region), never the caller's (real AWS keys, tokens)."""
        return processes.child_environment(
            {
                "AWS_DEFAULT_REGION": record.region,
                "AWS_ACCESS_KEY_ID": EMULATOR_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": EMULATOR_CREDENTIALS["aws_secret_access_key"],
                # No shared AWS files either: a profile there could hand out real keys.
                "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            }
        )

    def _ingest_environment(self, record: PlatformRecord) -> dict[str, str]:
        env = {
            **self._child_environment(record),
            PARAMETER_ENV: self.endpoint_parameter,
            "OPS_AWS_ENDPOINT_URL": record.emulator_url,
        }
        cluster = self.kafka.ingest_cluster() if record.kafka else None
        if cluster is not None:  # produce to Kafka: the loader writes the database
            env[KAFKA_PARAMETER_ENV] = kafka_endpoint_parameter(self.env, cluster)
            topics = {route.record_type: route.topic for route in self.kafka.ingest_routes()}
            env[TOPICS_ENV] = json.dumps(topics, sort_keys=True)
            env[ACK_LOG_ENV] = str(self.state.ack_log)
        return env

    def via_kafka(self, record: PlatformRecord) -> bool:
        """The ingest path goes through Kafka: this platform runs it and the inventory
        routes the ingest functions to a cluster (else the ingest service writes the
        database itself and there is no loader)."""
        return record.kafka and self.kafka.ingest_cluster() is not None

    def _up_loader(self, record: PlatformRecord) -> None:
        """The stand-in for the streaming jobs: consumes the primary's consumer groups and
        writes the warehouse."""
        cluster = self.kafka.ingest_cluster()
        if cluster is None:
            return
        pid_file = self.state.pid_file(LOADER)
        if processes.running_pid(pid_file) and loader_health(record.loader_url)[0]:
            log.info("loader: already running on %s", record.loader_url)
            return
        processes.stop(pid_file)
        groups = [
            {"group": g.name, "topics": list(g.topics)} for g in self.kafka.clusters[cluster].consumer_groups
        ]
        env = {
            **self._child_environment(record),
            PARAMETER_ENV: self.endpoint_parameter,
            KAFKA_PARAMETER_ENV: kafka_endpoint_parameter(self.env, cluster),
            GROUPS_ENV: json.dumps(groups),
            PORT_ENV: str(record.loader_port),
            "OPS_AWS_ENDPOINT_URL": record.emulator_url,
        }
        log_file = self.state.log_file(LOADER)
        processes.start_detached([sys.executable, "-m", "ops.local.loader"], pid_file, log_file, env=env)
        processes.wait_until(
            lambda: loader_health(record.loader_url)[0], START_TIMEOUT, "the loader", log_file
        )
        log.info("loader: started on %s", record.loader_url)

    def _down_kafka(self) -> list[str]:
        stopped = ["loader"] if processes.stop(self.state.pid_file(LOADER)) else []
        return stopped + self.kafka.down()

    def warehouse_endpoint(self, record: PlatformRecord) -> DatabaseEndpoint:
        """The primary's endpoint: the platform's own database, unless a cutover made a
        restored server the primary."""
        dbname = record.warehouse_endpoint.get("dbname", record.database)
        return DatabaseEndpoint("127.0.0.1", self.primary(record).port, dbname, SUPERUSER)

    def published_endpoint(self, record: PlatformRecord) -> DatabaseEndpoint:
        """The database the endpoint parameter names now: where the ingest service writes."""
        value = self.aws(record).client("ssm").get_parameter(Name=self.endpoint_parameter)
        return DatabaseEndpoint.from_json(value["Parameter"]["Value"])

    def wait_ingest_on(self, record: PlatformRecord, endpoint: DatabaseEndpoint, timeout: float = 15) -> None:
        """Wait until what writes the warehouse (the loader with Kafka, else the ingest
        service) has picked up `endpoint` (it re-reads the parameter); at once when it does
        not run (nothing writes)."""
        via_kafka = self.via_kafka(record)
        writer, health = (LOADER, loader_health) if via_kafka else (INGEST, ingest_health)
        url = record.loader_url if via_kafka else record.ingest_url
        if processes.running_pid(self.state.pid_file(writer)) is None:
            return
        processes.wait_until(
            lambda: health(url) == (True, f"database {endpoint}"),
            timeout,
            f"the {writer} moving to {endpoint}",
            self.state.log_file(writer),
        )

    # --- which server is the primary (written by runbooks' cutovers and their rollbacks) --
    def change_record(self, change: Callable[[PlatformRecord], None]) -> PlatformRecord:
        """Read, change and write platform.json under the lock `up` and `down` take, so a
        cutover and an `up` at once cannot lose each other's change."""
        with self._lock():
            record = require_running(self.state)
            change(record)
            self.state.write_record(record)
            return record

    def make_primary(
        self, server: LocalPostgres, dbname: str, run_id: str, replaced: LocalPostgres | None = None
    ) -> PlatformRecord:
        """`server` is the primary now; `replaced`, the one before, is an old server kept
        running (`old_running` changes that). Making the platform's own server primary
        again clears the record of any cutover."""

        def change(record: PlatformRecord) -> None:
            own = server.paths.root == self.state.postgres_dir
            record.old_servers = [s for s in record.old_servers if Path(s.root) != server.paths.root]
            if (
                replaced is not None
                and replaced.paths.root != server.paths.root
                and record.old_server(replaced.paths.root) is None
            ):
                record.old_servers.append(ServerRecord(str(replaced.paths.root), replaced.port, True, run_id))
            if own:
                record.postgres_port = server.port
                record.primary, record.warehouse_endpoint = None, {}
            else:
                record.primary = ServerRecord(str(server.paths.root), server.port, True, run_id)
                endpoint = DatabaseEndpoint("127.0.0.1", server.port, dbname, SUPERUSER)
                record.warehouse_endpoint = json.loads(endpoint.to_json())

        return self.change_record(change)

    def ensure_readers(self) -> PlatformRecord:
        """The inventory's readers streaming from the primary now (after a cutover made
        another server the primary, its readers are made again from it)."""
        return self.change_record(
            lambda record: readers.ensure(self.state, record, self.primary(record), self.warehouse.readers)
        )

    def old_running(self, server: LocalPostgres, running: bool, run_id: str) -> PlatformRecord:
        """An old server kept running, or stopped, as the run said."""

        def change(record: PlatformRecord) -> None:
            old = record.old_server(server.paths.root)
            if old is None:
                old = ServerRecord(str(server.paths.root), server.port, running, run_id)
                record.old_servers.append(old)
            old.running, old.run_id = running, run_id

        return self.change_record(change)

    @property
    def endpoint_parameter(self) -> str:
        return endpoint_parameter(self.env, self.warehouse_name)

    def aws(self, record: PlatformRecord) -> ClientFactory:
        return ClientFactory(emulator_target(record.emulator_port, record.region))

    # --- down --------------------------------------------------------------------------
    def down(self, purge: bool = False) -> list[str]:
        """Stop every part, every server (the primary, old ones, restored ones); with
        `purge`, delete the state directory too."""
        stopped = []
        with self._lock():
            if processes.stop(self.state.pid_file(INGEST)):
                stopped.append(INGEST)
            stopped += self._down_kafka()
            if processes.stop(self.state.pid_file(EMULATOR)):
                stopped.append(EMULATOR)
            stopped += readers.stop_all(self.state)
            own = LocalPostgres(self.state.postgres_dir, 0)
            if own.is_running():
                own.stop()
                stopped.append(POSTGRES)
            for data in sorted(self.state.restores_dir.glob("*/data")):
                restored = LocalPostgres(data.parent, 0)
                if restored.is_running():
                    restored.stop()
                    stopped.append(f"restored {data.parent.name}")
        if purge and self.state.root.exists():
            shutil.rmtree(self.state.root)
        return stopped

    # --- status ------------------------------------------------------------------------
    def status(self) -> list[PartStatus]:
        record = self.state.read_record()
        if record is None:
            return [
                PartStatus(n, False, False, "-", None, "never started") for n in (EMULATOR, POSTGRES, INGEST)
            ]
        kafka = self.kafka.status(record) if record.kafka else []
        if self.via_kafka(record):
            kafka.append(self._loader_status(record))
        return [
            self._emulator_status(record),
            self._postgres_status(record),
            *readers.status(record, self.primary(record)),
            self._ingest_status(record),
            *kafka,
            *(self._old_status(record, old) for old in record.old_servers),
        ]

    def _emulator_status(self, record: PlatformRecord) -> PartStatus:
        pid = processes.running_pid(self.state.pid_file(EMULATOR))
        healthy = pid is not None and emulator_healthy(record.emulator_port)
        detail = "answers boto3 over HTTP" if healthy else ("not answering" if pid else "stopped")
        return PartStatus(EMULATOR, pid is not None, healthy, record.emulator_url, pid, detail)

    def _postgres_status(self, record: PlatformRecord) -> PartStatus:
        """The primary, whichever server it is."""
        pg = self.primary(record)
        running = pg.is_running()
        healthy = running and pg.ping()
        backups = len(pg.base_backups()) if pg.paths.base_backups.exists() else 0
        detail = f"WAL archiving on, {backups} base backup(s)" if healthy else "stopped"
        if record.primary is not None:
            detail = f"primary {pg.paths.root.name} (since {record.primary.run_id or 'a cutover'}); {detail}"
        address = f"127.0.0.1:{pg.port}/{record.database}"
        return PartStatus(POSTGRES, running, healthy, address, pg.server_pid() if running else None, detail)

    def _old_status(self, record: PlatformRecord, old: ServerRecord) -> PartStatus:
        pg = LocalPostgres(Path(old.root), old.port)
        running = pg.is_running()
        by = old.run_id or "a cutover"
        if old.running:
            detail = f"old primary, kept by {by}"
            detail += "" if running else ", not running (`ops local up` starts it)"
        else:
            detail = f"old primary, stopped by {by}" + (", yet running" if running else "")
        return PartStatus(
            f"postgres (old: {old.name})",
            running,
            running and pg.ping(),
            f"127.0.0.1:{old.port}/{record.database}",
            pg.server_pid() if running else None,
            detail,
            required=False,
        )

    def _ingest_status(self, record: PlatformRecord) -> PartStatus:
        pid = processes.running_pid(self.state.pid_file(INGEST))
        healthy, detail = ingest_health(record.ingest_url) if pid else (False, "stopped")
        if not self.via_kafka(record):
            healthy, detail = self._on_primary(record, healthy, detail)
        return PartStatus(INGEST, pid is not None, healthy, record.ingest_url, pid, detail)

    def _loader_status(self, record: PlatformRecord) -> PartStatus:
        pid = processes.running_pid(self.state.pid_file(LOADER))
        healthy, detail = loader_health(record.loader_url) if pid else (False, "stopped")
        healthy, detail = self._on_primary(record, healthy, detail)
        return PartStatus(LOADER, pid is not None, healthy, record.loader_url, pid, detail)

    def _on_primary(self, record: PlatformRecord, healthy: bool, detail: str) -> tuple[bool, str]:
        """A writer up and writing, but not to the primary, is not healthy."""
        primary = self.warehouse_endpoint(record)
        if healthy and detail != f"database {primary}":
            return False, f"{detail}, not the primary {primary}"
        return healthy, detail

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One `up` or `down` at a time per state directory."""
        self.state.root.mkdir(parents=True, exist_ok=True)
        with open(self.state.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _warehouse(env: Environment) -> tuple[str, Rds]:
    databases = env.components_of(Rds)
    if not databases:
        raise BadInput(f"{env.source}: environment {env.name!r} has no rds component; add one")
    name = sorted(databases)[0]
    return name, databases[name]


def require_running(state: StateDir) -> PlatformRecord:
    record = LocalState.of(state).read_record()
    if record is None:
        raise OpsError(f"the local platform is not up (state {state.root}); run `ops local up`")
    return record
