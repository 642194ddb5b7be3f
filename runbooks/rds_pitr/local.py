"""rds-pitr's local provider: the embedded PostgreSQL (base backup + WAL replay into a new
data directory and port; cutover through the endpoint SSM parameter). The only module of
runbooks/ that imports the local platform (ops.local)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.aws.clients import ClientFactory
from ops.contracts import DatabaseEndpoint, endpoint_parameter
from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.local.copy_back import copy_back, writable
from ops.local.emulator import emulator_target
from ops.local.pitr import archive_now, restore_to, restore_window, wait_promoted
from ops.local.platform import LocalPlatform, require_running
from ops.local.postgres import SUPERUSER, LocalPostgres
from ops.local.state import LocalState, PlatformRecord
from ops.runbook.model import RunContext
from ops.runbook.stops import alarm_prefix, refuse_if_firing
from ops.state import StateDir
from ops.util.ports import free_port
from runbooks.common.data_checks import committed_up_to, verify_restore
from runbooks.common.probe import probe_reaches
from runbooks.rds_pitr.steps import PitrParams

log = logging.getLogger(__name__)

MARKER = "restored.json"  # written once a restore has been promoted: the restore happened
OWNER = "run.json"  # written before the restore starts: the run whose restore it is


def _restored_by(root: Path) -> str | None:
    """The run that restored into `root` (None: written before runs said so)."""
    try:
        return str(json.loads((root / OWNER).read_text())["run_id"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


# Written before a cutover names the restored server: it may hold records found nowhere
# else. Removed once the cutover's rollback copied them back; dropping it is refused meanwhile.
SERVING = "serving"


def restores_dir(state: StateDir) -> Path:
    return LocalState.of(state).restores_dir


class LocalSteps:
    """The steps of rds-pitr on the local platform. Each is safe to run again."""

    def __init__(self, env: Environment, params: PitrParams, component: Rds) -> None:
        if params.cutover_mode != "parameter":
            raise BadInput(
                "--param cutover_mode: the local platform cuts over by the endpoint parameter only"
            )
        self.env = env
        self.params = params
        self.component = component
        # The inventory's data checks: table -> key column.
        self.tables = {check.table: check.key for check in self.component.checks}

    # --- helpers ------------------------------------------------------------------------
    def _record(self, ctx: RunContext) -> PlatformRecord:
        return require_running(ctx.state)

    def _aws(self, ctx: RunContext, record: PlatformRecord) -> ClientFactory:
        """The emulator's clients, one session for the whole run: made on first use and kept
        on the run's context, so that the steps and the stop conditions (checked before
        every action and wait) share it; a session and each client take ~0.1 s to make."""
        target = emulator_target(record.emulator_port, self.env.region)
        if ctx.aws is None or ctx.aws.target.endpoint_url != target.endpoint_url:
            ctx.aws = ClientFactory(target)
        factory: ClientFactory = ctx.aws
        return factory

    def _ssm(self, ctx: RunContext, record: PlatformRecord) -> Any:
        return self._aws(ctx, record).client("ssm")

    def cloudwatch(self, ctx: RunContext) -> Any:
        """The emulator's CloudWatch: the stop condition reads the alarms there."""
        return self._aws(ctx, self._record(ctx)).client("cloudwatch")

    @property
    def _parameter(self) -> str:
        return endpoint_parameter(self.env, self.params.component)

    def _source(self, ctx: RunContext) -> LocalPostgres:
        out = ctx.outputs["check-source"]
        return LocalPostgres(Path(out["source_root"]), out["source_port"])

    def _restored(self, ctx: RunContext) -> LocalPostgres:
        out = ctx.outputs["restore"]
        return LocalPostgres(Path(out["restored_root"]), out["restored_port"])

    # --- checks -------------------------------------------------------------------------
    def _platform(self, ctx: RunContext) -> LocalPlatform:
        return LocalPlatform(self.env, ctx.state)

    def check_source(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        value = self._ssm(ctx, record).get_parameter(Name=self._parameter)["Parameter"]["Value"]
        endpoint = DatabaseEndpoint.from_json(value)
        source = self._platform(ctx).primary(record)  # platform.json says which server it is
        if endpoint.port != source.port:
            raise OpsError(
                f"the endpoint parameter {self._parameter} names {endpoint}, not the platform's primary "
                f"({source.paths.root.name} on port {source.port}, {ctx.state.root}/platform.json): "
                "resume or abort the run that moved it (`ops runbook status`), or `ops local up`"
            )
        if not source.is_running():
            raise OpsError(f"the source database ({endpoint}) is not running; `ops local up` starts it")
        window = restore_window(source)
        found = committed_up_to(endpoint.conninfo, None, self.tables)
        latest = [state.latest_commit for state in found.values() if state.latest_commit]
        return {
            "endpoint": value,
            "dbname": endpoint.dbname,
            "source_root": str(source.paths.root),
            "source_port": source.port,
            "earliest": window.earliest.isoformat(),
            "latest_archived": window.latest.isoformat(),
            "last_commit": max(latest).isoformat() if latest else None,
        }

    def check_target(self, ctx: RunContext) -> dict[str, Any]:
        target = self.params.target_time
        earliest = datetime.fromisoformat(ctx.output("check-source", "earliest"))
        now = datetime.now(UTC)
        if not earliest <= target <= now:
            raise BadInput(
                f"--param target_time: {target.isoformat()} is outside the restorable window "
                f"[{earliest.isoformat()}, now {now.isoformat(timespec='seconds')}]"
            )
        identifier = self.params.target_identifier or (
            f"{self.env.resource_name(self.component.identifier)}-pitr-{target.astimezone(UTC):%Y%m%d%H%M%S}"
        )
        root = restores_dir(ctx.state) / identifier
        if root.exists():
            raise BadInput(
                f"--param target_identifier: {identifier!r} exists already ({root}); choose another"
            )
        return {"target_identifier": identifier, "target_root": str(root)}

    def check_alarms(self, ctx: RunContext) -> dict[str, Any]:
        return refuse_if_firing(alarm_prefix(self.env, self.params.component), self.cloudwatch(ctx))

    # --- actions ------------------------------------------------------------------------
    def archive_wal(self, ctx: RunContext) -> dict[str, Any]:
        archived = archive_now(self._source(ctx))
        if self.params.target_time > archived:
            raise OpsError(f"the target time is after the last archived WAL ({archived.isoformat()})")
        return {"archived_at": archived.isoformat()}

    def restore(self, ctx: RunContext) -> dict[str, Any]:
        root = Path(ctx.output("check-target", "target_root"))
        marker = root / MARKER
        if root.exists() and _restored_by(root) != ctx.run_id:
            # Never adopt, nor start over, what another run restored under this name.
            raise OpsError(f"{root} was restored by another run; choose another target_identifier")
        if marker.exists():  # restored before a crash, journaled after it: no second restore
            return json.loads(marker.read_text())  # type: ignore[no-any-return]
        if root.exists():  # a restore cut short: start it over
            LocalPostgres(root, 0).stop()
            shutil.rmtree(root)
        started = time.monotonic()
        port = free_port()
        ctx.note(restored_root=str(root), restored_port=port)  # a restore cut short is dropped too
        root.mkdir(parents=True)
        (root / OWNER).write_text(json.dumps({"run_id": ctx.run_id}))
        restored = restore_to(self._source(ctx), self.params.target_time, root, port)
        outputs = {
            "restored_root": str(root),
            "restored_port": restored.port,
            "restore_seconds": round(time.monotonic() - started, 3),
            "promoted_at": datetime.now(UTC).isoformat(),
        }
        marker.write_text(json.dumps(outputs))
        ctx.checkpoint("promoted")  # restored, not journaled yet
        return outputs

    def drop_restored(self, ctx: RunContext) -> None:
        restored = self._restored(ctx)
        if restored.paths.root.exists() and _restored_by(restored.paths.root) not in (ctx.run_id, None):
            return  # never delete what this run did not restore
        record = LocalState.of(ctx.state).read_record()
        if record and record.primary and Path(record.primary.root) == restored.paths.root:
            raise OpsError(
                f"{restored.paths.root.name} is the platform's primary: undo the cutover first "
                f"(`ops runbook abort {ctx.run_id}` again once its cause is fixed)"
            )
        if (restored.paths.root / SERVING).exists():
            raise OpsError(
                f"{restored.paths.root.name} took writes after the cutover that are not copied back "
                f"to the source yet; the cutover's rollback copies them (`ops runbook abort {ctx.run_id}`)"
            )
        restored.stop()
        shutil.rmtree(restored.paths.root, ignore_errors=True)

    def wait_ready(self, ctx: RunContext) -> dict[str, Any]:
        restored = self._restored(ctx)
        ctx.checkpoint("waiting")
        if not restored.is_running():
            restored.start()
        ctx.watch(f"{restored.paths.root.name}: replaying WAL")
        wait_promoted(restored, timeout=60)
        return {"ready_at": datetime.now(UTC).isoformat()}

    def validate(self, ctx: RunContext) -> dict[str, Any]:
        dbname = ctx.output("check-source", "dbname")
        verified = verify_restore(
            self._source(ctx).conninfo(dbname),
            self._restored(ctx).conninfo(dbname),
            self.params.target_time,
            self.tables,
        )
        return {**verified, "validated_at": datetime.now(UTC).isoformat()}

    def cutover(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        platform = self._platform(ctx)
        source, restored = self._source(ctx), self._restored(ctx)
        dbname = ctx.output("check-source", "dbname")
        endpoint = DatabaseEndpoint("127.0.0.1", restored.port, dbname, SUPERUSER)
        ssm = self._ssm(ctx, record)
        # What the parameter named before the switch. A resumed attempt takes it from the
        # note: the parameter may name the restored server already.
        previous = ctx.noted("previous")
        if previous is None:
            previous = ssm.get_parameter(Name=self._parameter)["Parameter"]["Value"]
            ctx.note(
                previous=previous,
                source_root=str(source.paths.root),
                source_port=source.port,
                restored_root=str(restored.paths.root),
                restored_port=restored.port,
                dbname=dbname,
                since=self.params.target_time.isoformat(),
            )
        (restored.paths.root / SERVING).write_text(json.dumps({"run_id": ctx.run_id}))
        writable(restored, dbname)  # an earlier attempt's rollback may have fenced it
        ssm.put_parameter(Name=self._parameter, Value=endpoint.to_json(), Type="String", Overwrite=True)
        ctx.checkpoint("switched")
        record = platform.make_primary(restored, dbname, ctx.run_id, replaced=source)
        platform.wait_ingest_on(record, endpoint, timeout=20)
        return {"endpoint": endpoint.to_json(), "cutover_at": datetime.now(UTC).isoformat()}

    def undo_cutover(self, ctx: RunContext) -> None:
        """The endpoint back to the source, the ingest service with it, and what the restored
        server took meanwhile copied back. From the cutover's note alone: it works for a
        cutover stopped midway, and again after a failed attempt (each part is idempotent)."""
        out = ctx.outputs
        # A run journaled before cutovers noted (an older toolkit): the same from its outputs.
        noted = {
            "previous": out["check-source"].get("endpoint") if "check-source" in out else None,
            "source_root": out.get("check-source", {}).get("source_root"),
            "source_port": out.get("check-source", {}).get("source_port"),
            "restored_root": out.get("restore", {}).get("restored_root"),
            "restored_port": out.get("restore", {}).get("restored_port"),
            "since": self.params.target_time.isoformat(),
            **out["cutover"],
        }
        record = self._record(ctx)
        platform = self._platform(ctx)
        previous = DatabaseEndpoint.from_json(noted["previous"])
        source = LocalPostgres(Path(noted["source_root"]), noted["source_port"])
        restored = LocalPostgres(Path(noted["restored_root"]), noted["restored_port"])
        if not source.is_running():  # the endpoint goes back to a server that answers
            source.start()
        self._ssm(ctx, record).put_parameter(
            Name=self._parameter, Value=previous.to_json(), Type="String", Overwrite=True
        )
        record = platform.make_primary(source, previous.dbname, ctx.run_id)
        platform.wait_ingest_on(record, previous, timeout=30)
        if restored.initialised():
            if not restored.is_running():
                restored.start()
            since = datetime.fromisoformat(noted["since"])
            copied = copy_back(restored, source, previous.dbname, self.tables, since)
            log.info(
                "cutover undone: %d record(s) copied back to the source (%s)",
                sum(copied.values()),
                ", ".join(f"{table}: {count}" for table, count in copied.items()),
            )
        (restored.paths.root / SERVING).unlink(missing_ok=True)
        platform.ensure_readers()  # streaming from the source again

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        dbname = ctx.output("check-source", "dbname")
        probe = f"PITR-PROBE-{ctx.run_id}"
        probe_reaches(record.ingest_url, self._restored(ctx).conninfo(dbname), probe, "the restored database")
        return {"probe": probe}

    def backup_new_primary(self, ctx: RunContext) -> dict[str, Any]:
        """The restored database is the primary now: make it restorable in its turn."""
        restored = self._restored(ctx)
        backups = restored.base_backups() or [restored.take_base_backup()]
        # Its readers too: the old primary's cannot stream from a restored copy.
        record = self._platform(ctx).ensure_readers()
        return {"base_backup": backups[0].name, "readers": [reader.name for reader in record.readers]}

    def stop_old(self, ctx: RunContext) -> dict[str, Any]:
        source = self._source(ctx)
        ctx.note(stopping=str(source.paths.root))  # stopped midway: started again by start_old
        source.stop()
        self._platform(ctx).old_running(source, False, ctx.run_id)
        return {"stopped": ctx.output("check-source", "source_root")}

    def start_old(self, ctx: RunContext) -> None:
        """The old server running again, and recorded as kept (idempotent)."""
        source = self._source(ctx)
        if not source.is_running():
            source.start()
        self._platform(ctx).old_running(source, True, ctx.run_id)
