"""rds-pitr's local provider: the embedded PostgreSQL (base backup + WAL replay into a new
data directory and port; cutover through the endpoint SSM parameter). The only module of
runbooks/ that imports the local platform (ops.local)."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg

from ops.aws.clients import ClientFactory
from ops.contracts import FINANCIAL_PATH, DatabaseEndpoint, endpoint_parameter
from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
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
from runbooks.rds_pitr.steps import PitrParams

MARKER = "restored.json"  # written once a restore has been promoted: the restore happened


def restores_dir(state: StateDir) -> Path:
    return LocalState.of(state).restores_dir


def instance_for_port(state: StateDir, record: PlatformRecord, port: int) -> LocalPostgres:
    """The local server listening on `port`: the platform's own, or a restored one."""
    if port == record.postgres_port:
        return LocalPostgres(LocalState.of(state).postgres_dir, port)
    for marker in restores_dir(state).glob(f"*/{MARKER}"):
        if json.loads(marker.read_text())["restored_port"] == port:
            return LocalPostgres(marker.parent, port)
    raise OpsError(f"no local database listens on port {port}; is the endpoint parameter right?")


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

    def _aws(self, record: PlatformRecord) -> ClientFactory:
        return ClientFactory(emulator_target(record.emulator_port, self.env.region))

    def _ssm(self, record: PlatformRecord) -> Any:
        return self._aws(record).client("ssm")

    def cloudwatch(self, ctx: RunContext) -> Any:
        """The emulator's CloudWatch: the stop condition reads the alarms there."""
        return self._aws(self._record(ctx)).client("cloudwatch")

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
    def check_source(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        value = self._ssm(record).get_parameter(Name=self._parameter)["Parameter"]["Value"]
        endpoint = DatabaseEndpoint.from_json(value)
        source = instance_for_port(ctx.state, record, endpoint.port)
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
        if marker.exists():  # restored before a crash, journaled after it: no second restore
            return json.loads(marker.read_text())  # type: ignore[no-any-return]
        if root.exists():  # a restore cut short: start it over
            LocalPostgres(root, 0).stop()
            shutil.rmtree(root)
        started = time.monotonic()
        restored = restore_to(self._source(ctx), self.params.target_time, root, free_port())
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
        restored.stop()
        shutil.rmtree(restored.paths.root, ignore_errors=True)

    def wait_ready(self, ctx: RunContext) -> dict[str, Any]:
        restored = self._restored(ctx)
        ctx.checkpoint("waiting")
        if not restored.is_running():
            restored.start()
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
        restored = self._restored(ctx)
        endpoint = DatabaseEndpoint(
            "127.0.0.1", restored.port, ctx.output("check-source", "dbname"), SUPERUSER
        )
        self._ssm(record).put_parameter(
            Name=self._parameter, Value=endpoint.to_json(), Type="String", Overwrite=True
        )
        record.warehouse_endpoint = json.loads(endpoint.to_json())
        LocalState.of(ctx.state).write_record(record)
        LocalPlatform(self.env, ctx.state).wait_ingest_on(record, endpoint, timeout=20)
        return {"endpoint": endpoint.to_json(), "cutover_at": datetime.now(UTC).isoformat()}

    def undo_cutover(self, ctx: RunContext) -> None:
        record = self._record(ctx)
        previous = ctx.output("check-source", "endpoint")
        self._ssm(record).put_parameter(Name=self._parameter, Value=previous, Type="String", Overwrite=True)
        own = DatabaseEndpoint.from_json(previous).port == record.postgres_port
        record.warehouse_endpoint = {} if own else json.loads(previous)
        LocalState.of(ctx.state).write_record(record)

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        probe = {
            "transaction_id": f"PITR-PROBE-{ctx.run_id}",
            "timestamp": datetime.now(UTC).isoformat(),
            "account_id": "ACC-PROBE",
            "amount": "0.01",
            "currency": "USD",
            "transaction_type": "payment",
        }
        response = httpx.post(f"{record.ingest_url}{FINANCIAL_PATH}", json=probe, timeout=10)
        if response.status_code != 200:
            raise OpsError(
                f"the ingest service refused a probe record after cutover: HTTP {response.status_code}"
            )
        dbname = ctx.output("check-source", "dbname")
        with psycopg.connect(self._restored(ctx).conninfo(dbname)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM financial_transactions WHERE transaction_id = %s",
                (probe["transaction_id"],),
            ).fetchone()
        if not row or row[0] != 1:
            raise OpsError("the probe record did not reach the restored database")
        return {"probe": probe["transaction_id"]}

    def backup_new_primary(self, ctx: RunContext) -> dict[str, Any]:
        """The restored database is the primary now: make it restorable in its turn."""
        restored = self._restored(ctx)
        if restored.base_backups():
            return {"base_backup": restored.base_backups()[0].name}
        return {"base_backup": restored.take_base_backup().name}

    def stop_old(self, ctx: RunContext) -> dict[str, Any]:
        self._source(ctx).stop()
        return {"stopped": ctx.output("check-source", "source_root")}
