"""`ops local up | down | status`: start, stop and inspect the embedded local platform.

`up` is idempotent: a part that is running and healthy is left alone, a part that is not
is (re)started; the emulator is seeded whenever it starts, since it keeps state in memory.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
from ops.local.state import LocalState, PlatformRecord
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
        return LocalPostgres(self.state.postgres_dir, record.postgres_port)

    def _up_postgres(self, record: PlatformRecord) -> None:
        pg = self.postgres(record)
        if pg.is_running():
            log.info("postgres: already running on 127.0.0.1:%d", pg.port)
        else:
            if not port_is_free(record.postgres_port):
                record.postgres_port = free_port()
                pg = self.postgres(record)
            if not pg.initialised():
                log.info("postgres: initialising %s", pg.paths.data)
                pg.init()
            log.info("postgres: starting on 127.0.0.1:%d", pg.port)
            pg.start()
        pg.ensure_database(record.database)
        if not pg.base_backups():
            log.info("postgres: base backup %s", pg.take_base_backup().name)

    def _up_emulator(self, record: PlatformRecord) -> dict[str, object] | None:
        pid_file = self.state.pid_file(EMULATOR)
        if processes.running_pid(pid_file) and emulator_healthy(record.emulator_port):
            log.info("emulator: already running on %s", record.emulator_url)
            return None
        processes.stop(pid_file)
        if not port_is_free(record.emulator_port):
            record.emulator_port = free_port()
        log_file = self.state.log_file(EMULATOR)
        processes.start_detached(emulator_command(record.emulator_port), pid_file, log_file)
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

    def _ingest_environment(self, record: PlatformRecord) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            {
                PARAMETER_ENV: self.endpoint_parameter,
                "OPS_AWS_ENDPOINT_URL": record.emulator_url,
                "AWS_DEFAULT_REGION": record.region,
                "AWS_ACCESS_KEY_ID": EMULATOR_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": EMULATOR_CREDENTIALS["aws_secret_access_key"],
            }
        )
        return env

    def warehouse_endpoint(self, record: PlatformRecord) -> DatabaseEndpoint:
        """The platform's own database, unless a cutover recorded another endpoint."""
        if record.warehouse_endpoint:
            return DatabaseEndpoint(**record.warehouse_endpoint)
        return DatabaseEndpoint("127.0.0.1", record.postgres_port, record.database, SUPERUSER)

    def published_endpoint(self, record: PlatformRecord) -> DatabaseEndpoint:
        """The database the endpoint parameter names now: where the ingest service writes."""
        value = self.aws(record).client("ssm").get_parameter(Name=self.endpoint_parameter)
        return DatabaseEndpoint.from_json(value["Parameter"]["Value"])

    def wait_ingest_on(self, record: PlatformRecord, endpoint: DatabaseEndpoint, timeout: float = 15) -> None:
        """Wait until the ingest service has picked up `endpoint` (it re-reads the parameter)."""
        processes.wait_until(
            lambda: _ingest_health(record.ingest_url) == (True, f"database {endpoint}"),
            timeout,
            f"the ingest service moving to {endpoint}",
            self.state.log_file(INGEST),
        )

    @property
    def endpoint_parameter(self) -> str:
        return endpoint_parameter(self.env, self.warehouse_name)

    def aws(self, record: PlatformRecord) -> ClientFactory:
        return ClientFactory(emulator_target(record.emulator_port, record.region))

    # --- down --------------------------------------------------------------------------
    def down(self, purge: bool = False) -> list[str]:
        """Stop every part; with `purge`, delete the state directory too."""
        stopped = []
        with self._lock():
            for name in (INGEST, EMULATOR):
                if processes.stop(self.state.pid_file(name)):
                    stopped.append(name)
            record = self.state.read_record()
            if record is not None:
                pg = self.postgres(record)
                if pg.is_running():
                    pg.stop()
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
        ]

    def _emulator_status(self, record: PlatformRecord) -> PartStatus:
        pid = processes.running_pid(self.state.pid_file(EMULATOR))
        healthy = pid is not None and emulator_healthy(record.emulator_port)
        detail = "answers boto3 over HTTP" if healthy else ("not answering" if pid else "stopped")
        return PartStatus(EMULATOR, pid is not None, healthy, record.emulator_url, pid, detail)

    def _postgres_status(self, record: PlatformRecord) -> PartStatus:
        pg = self.postgres(record)
        running = pg.is_running()
        healthy = running and pg.ping()
        backups = len(pg.base_backups()) if pg.paths.base_backups.exists() else 0
        detail = f"WAL archiving on, {backups} base backup(s)" if healthy else "stopped"
        address = f"127.0.0.1:{record.postgres_port}/{record.database}"
        return PartStatus(POSTGRES, running, healthy, address, pg.server_pid() if running else None, detail)

    def _ingest_status(self, record: PlatformRecord) -> PartStatus:
        pid = processes.running_pid(self.state.pid_file(INGEST))
        healthy, detail = _ingest_health(record.ingest_url) if pid else (False, "stopped")
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
