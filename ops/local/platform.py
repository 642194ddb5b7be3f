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
from dataclasses import dataclass
from pathlib import Path

import httpx

from ops.aws.clients import ClientFactory
from ops.contracts import PARAMETER_ENV, DatabaseEndpoint, endpoint_parameter
from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.local.emulator import (
    EMULATOR_CREDENTIALS,
    emulator_command,
    emulator_healthy,
    emulator_target,
)
from ops.local.postgres import SUPERUSER, LocalPostgres
from ops.local.seed import seed_environment
from ops.local.state import LocalState, PlatformRecord, ServerRecord
from ops.state import StateDir
from ops.util import processes
from ops.util.ports import free_port, port_is_free

log = logging.getLogger(__name__)

EMULATOR = "emulator"
INGEST = "ingest"
POSTGRES = "postgres"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class PartStatus:
    name: str
    running: bool
    healthy: bool
    address: str
    pid: int | None
    detail: str
    # False for an old server a cutover replaced: listed, never a failure of the platform.
    required: bool = True


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

    # --- up ----------------------------------------------------------------------------
    def up(self) -> PlatformRecord:
        self.state.ensure()
        with self._lock():
            record = self.state.read_record() or self._new_record()
            self._up_postgres(record)
            seeded = self._up_emulator(record)
            if seeded is not None:
                record.seeded = seeded
            ingest_running = processes.running_pid(self.state.pid_file(INGEST))
            if not ingest_running and not port_is_free(record.ingest_port):
                record.ingest_port = free_port()
            self._publish_parameters(record)
            self.state.write_record(record)
            self._up_ingest(record)
            self.state.write_record(record)
            return record

    def _new_record(self) -> PlatformRecord:
        return PlatformRecord(
            platform=self.env.platform,
            environment=self.env.name,
            region=self.env.region,
            emulator_port=free_port(),
            postgres_port=free_port(),
            ingest_port=free_port(),
            database=self.warehouse.database,
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
        for name, value in parameters.items():
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

    def _up_ingest(self, record: PlatformRecord) -> None:
        pid_file = self.state.pid_file(INGEST)
        if processes.running_pid(pid_file) and _ingest_health(record.ingest_url)[0]:
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
            lambda: _ingest_health(record.ingest_url)[0], START_TIMEOUT, "the ingest service", log_file
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
        return {
            **self._child_environment(record),
            PARAMETER_ENV: self.endpoint_parameter,
            "OPS_AWS_ENDPOINT_URL": record.emulator_url,
        }

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
        """Wait until the ingest service has picked up `endpoint` (it re-reads the parameter);
        at once when it does not run (nothing writes)."""
        if processes.running_pid(self.state.pid_file(INGEST)) is None:
            return
        processes.wait_until(
            lambda: _ingest_health(record.ingest_url) == (True, f"database {endpoint}"),
            timeout,
            f"the ingest service moving to {endpoint}",
            self.state.log_file(INGEST),
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
            for name in (INGEST, EMULATOR):
                if processes.stop(self.state.pid_file(name)):
                    stopped.append(name)
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
        return [
            self._emulator_status(record),
            self._postgres_status(record),
            self._ingest_status(record),
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
        healthy, detail = _ingest_health(record.ingest_url) if pid else (False, "stopped")
        primary = self.warehouse_endpoint(record)
        if healthy and detail != f"database {primary}":  # up and writing, but not to the primary
            healthy, detail = False, f"{detail}, not the primary {primary}"
        return PartStatus(INGEST, pid is not None, healthy, record.ingest_url, pid, detail)

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


def _ingest_health(url: str) -> tuple[bool, str]:
    try:
        response = httpx.get(f"{url}/health", timeout=3)
    except httpx.HTTPError as error:
        return False, f"not answering ({type(error).__name__})"
    if response.status_code != 200:
        return False, f"unhealthy: {response.text[:80]}"
    return True, f"database {response.json().get('database')}"


def require_running(state: StateDir) -> PlatformRecord:
    record = LocalState.of(state).read_record()
    if record is None:
        raise OpsError(f"the local platform is not up (state {state.root}); run `ops local up`")
    return record
