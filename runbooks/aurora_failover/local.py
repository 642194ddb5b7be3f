"""aurora-failover's local provider: the warehouse's reader (a real PostgreSQL streaming
replica, ops/local/readers.py) promoted to writer, the endpoint parameter moved to it, and
what the promotion lost measured from the rows themselves. The only module of the package
that imports the local platform (ops.local).

Locally there is one region: the reader stands in for an Aurora reader (mode writer) and
for the global database's secondary (switchover, failover). writer and switchover fence
the writer and let the reader catch up first (nothing lost, and measured so); a failover
stops the writer as a crash would and promotes at once (what had not streamed is lost)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ops.aws.clients import ClientFactory
from ops.contracts import DatabaseEndpoint, endpoint_parameter
from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.local import replica
from ops.local.copy_back import copy_back, writable
from ops.local.emulator import emulator_target
from ops.local.pitr import wait_promoted
from ops.local.platform import LocalPlatform, require_running
from ops.local.postgres import SUPERUSER, LocalPostgres
from ops.local.readers import next_reader
from ops.local.state import LocalState, PlatformRecord, ReaderRecord
from ops.runbook.engine import runs_dir
from ops.runbook.model import RunContext
from ops.runbook.stops import alarm_prefix, refuse_if_firing
from ops.util.ports import free_port
from runbooks.aurora_failover.steps import AuroraFailoverParams
from runbooks.common.probe import probe_reaches

CATCH_UP_TIMEOUT = 60.0  # a fenced writer's last WAL reaching the reader
# Written before the cutover names the promoted server: it may hold writes found nowhere
# else; the failover's undo refuses to drop it until the cutover's rollback copied them.
SERVING = "serving"
# The newest commit of a table before a moment (commit timestamps are tracked).
COMMITTED_BEFORE = "SELECT max(t) FROM (SELECT pg_xact_commit_timestamp(xmin) AS t FROM {}) AS c WHERE t < %s"


class LocalSteps:
    """The steps of aurora-failover on the local platform. Each is safe to run again."""

    def __init__(self, env: Environment, params: AuroraFailoverParams, component: Rds) -> None:
        if params.cutover_mode != "parameter":
            raise BadInput(
                "--param cutover_mode: the local platform cuts over by the endpoint parameter only"
            )
        if not params.cutover:
            raise BadInput(
                "--param cutover: locally the endpoint parameter is the cluster's endpoint; "
                "a failover always moves it (leave cutover at true)"
            )
        self.env = env
        self.params = params
        self.component = component
        self.tables = {check.table: check.key for check in component.checks}

    # --- helpers ------------------------------------------------------------------------
    def _record(self, ctx: RunContext) -> PlatformRecord:
        return require_running(ctx.state)

    def _platform(self, ctx: RunContext) -> LocalPlatform:
        return LocalPlatform(self.env, ctx.state)

    def _aws(self, ctx: RunContext, record: PlatformRecord) -> ClientFactory:
        """The emulator's clients, one session for the run (shared with the stop condition)."""
        target = emulator_target(record.emulator_port, self.env.region)
        if ctx.aws is None or ctx.aws.target.endpoint_url != target.endpoint_url:
            ctx.aws = ClientFactory(target)
        factory: ClientFactory = ctx.aws
        return factory

    def cloudwatch(self, ctx: RunContext) -> Any:
        return self._aws(ctx, self._record(ctx)).client("cloudwatch")

    def _ssm(self, ctx: RunContext) -> Any:
        return self._aws(ctx, self._record(ctx)).client("ssm")

    @property
    def _parameter(self) -> str:
        return endpoint_parameter(self.env, self.params.component)

    def _writer(self, ctx: RunContext) -> LocalPostgres:
        out = ctx.outputs["check-cluster"]
        return LocalPostgres(Path(out["writer_root"]), out["writer_port"])

    def _reader(self, ctx: RunContext) -> LocalPostgres:
        out = ctx.outputs["check-cluster"]
        return LocalPostgres(Path(out["reader_root"]), out["reader_port"])

    def _dbname(self, ctx: RunContext) -> str:
        return str(ctx.output("check-cluster", "dbname"))

    # --- checks -------------------------------------------------------------------------
    def check_cluster(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        if self.component.readers == 0:
            raise BadInput(
                f"--param component: {self.params.component} has no reader; set readers: 1 under "
                f"environments.{self.env.name}.components.{self.params.component} in {self.env.source}, "
                "then `ops local up`"
            )
        value = self._ssm(ctx).get_parameter(Name=self._parameter)["Parameter"]["Value"]
        endpoint = DatabaseEndpoint.from_json(value)
        writer = self._platform(ctx).primary(record)
        if endpoint.port != writer.port:
            raise OpsError(
                f"the endpoint parameter {self._parameter} names {endpoint}, not the platform's primary "
                f"({writer.paths.root.name} on port {writer.port}): resume or abort the run that moved it "
                "(`ops runbook status`), or `ops local up`"
            )
        chosen = self._choose_reader(record, writer)
        reader = LocalPostgres(Path(chosen.root), chosen.port)
        if self.params.mode == "failover":
            # The writer's region is lost: it may be down and the reader cut off. The reader
            # must be there, still a reader, to be promoted with what it has.
            if not reader.is_running() or not replica.in_recovery(reader):
                raise OpsError(f"reader {chosen.name} is not running as a reader; nothing to fail over to")
        else:
            if not writer.is_running():
                raise OpsError(
                    f"the writer ({endpoint}) is not running: `ops local up` starts it; if it is lost, "
                    "fail over (--param mode=failover --param allow_data_loss=true)"
                )
            seen = replica.streaming(writer).get(chosen.name)
            if Path(chosen.upstream) != writer.paths.root or seen is None or seen.state != "streaming":
                state = seen.state if seen else "not connected"
                raise OpsError(
                    f"reader {chosen.name} is not streaming from the writer {writer.paths.root.name} "
                    f"({state}); `ops local up` starts or rebuilds it"
                )
        return {
            "writer": writer.paths.root.name,
            "writer_root": str(writer.paths.root),
            "writer_port": writer.port,
            "reader": chosen.name,
            "reader_root": str(reader.paths.root),
            "reader_port": reader.port,
            "dbname": endpoint.dbname,
            "endpoint": value,
            **self._lag(writer, reader),
        }

    @staticmethod
    def _lag(writer: LocalPostgres, reader: LocalPostgres) -> dict[str, Any]:
        """The reader's lag; unknown (None) when the writer does not answer (it is lost)."""
        if not writer.ping():
            return {"lag_bytes": None, "lag_seconds": None}
        behind = replica.lag(writer, reader)
        seconds = None if behind.seconds == float("inf") else round(behind.seconds, 3)
        return {"lag_bytes": behind.bytes, "lag_seconds": seconds}

    def _choose_reader(self, record: PlatformRecord, writer: LocalPostgres) -> ReaderRecord:
        if not record.readers:
            raise OpsError(f"{self.params.component} has no reader running; `ops local up` makes one")
        if self.params.target is None:
            # The first reader of the writer itself (a leftover of another writer's is not one).
            of_writer = [r for r in record.readers if Path(r.upstream) == writer.paths.root]
            return (of_writer or record.readers)[0]
        for reader in record.readers:
            if reader.name == self.params.target:
                return reader
        known = ", ".join(r.name for r in record.readers)
        raise BadInput(f"--param target: {self.params.target!r} is not a reader (readers: {known})")

    def check_lag(self, ctx: RunContext) -> dict[str, Any]:
        """The lag now, read again (the pre-flight's): a switchover is refused over the RPO
        objective; a failover records it as the loss to expect."""
        writer, reader = self._writer(ctx), self._reader(ctx)
        name = ctx.output("check-cluster", "reader")
        found = self._lag(writer, reader)
        if self.params.mode == "failover":
            return found  # the loss to expect, when the writer still answers
        objective = self.env.spec.objectives.get(self.params.component)
        if self.params.mode == "switchover" and objective is not None:
            seconds = found["lag_seconds"]
            if seconds is None or seconds > objective.rpo:
                shown = "an unknown time" if seconds is None else f"{seconds:.1f} s"
                raise OpsError(
                    f"refused: reader {name} is {shown} behind the writer, over the RPO objective of "
                    f"{objective.rpo:.0f} s; wait for it to catch up, or fail over (mode failover)"
                )
        return found

    def check_alarms(self, ctx: RunContext) -> dict[str, Any]:
        return refuse_if_firing(alarm_prefix(self.env, self.params.component), self.cloudwatch(ctx))

    # --- the move -----------------------------------------------------------------------
    def isolate_writer(self, ctx: RunContext) -> dict[str, Any]:
        writer, reader = self._writer(ctx), self._reader(ctx)
        ctx.note(isolating=str(writer.paths.root))  # stopped inside: restore_writer undoes it
        if self.params.mode == "failover":
            writer.stop(mode="immediate")  # as the region's loss: nothing more streams
            return {"isolated_at": datetime.now(UTC).isoformat(), "fenced_lsn": None}
        if writer.is_running():
            lsn = replica.fence(writer, self._dbname(ctx))
            ctx.note(fenced_lsn=lsn)
            ctx.checkpoint("fenced")
            replica.wait_replayed(reader, lsn, CATCH_UP_TIMEOUT)
            writer.stop()
        return {"isolated_at": datetime.now(UTC).isoformat(), "fenced_lsn": ctx.noted("fenced_lsn")}

    def restore_writer(self, ctx: RunContext) -> None:
        """The writer running and taking writes again (idempotent); refused while the
        promoted server still serves (two writers)."""
        writer = self._writer(ctx)
        if (self._reader(ctx).paths.root / SERVING).exists():
            raise OpsError(
                f"{self._reader(ctx).paths.root.name} still serves the endpoint; its cutover's rollback "
                f"runs first (`ops runbook abort {ctx.run_id}`)"
            )
        if not writer.is_running():
            writer.start()
        replica.unfence(writer)

    def fail_over(self, ctx: RunContext) -> dict[str, Any]:
        reader = self._reader(ctx)
        noted = ctx.noted("replayed_lsn")
        if noted is None or replica.in_recovery(reader):
            before = replica.replayed(reader)
            last = before.last_commit.isoformat() if before.last_commit else None
            ctx.note(replayed_lsn=before.lsn, replayed_commit=last)
            # Out of the platform's readers first: `ops local up` must never rebuild, as a
            # reader, a server that may take writes.
            self._forget_reader(ctx, reader)
            ctx.checkpoint("promoting")
            replica.promote(reader)
            ctx.note(promoted_at=_now())
        return {
            "promoted": reader.paths.root.name,
            "promoted_at": ctx.noted("promoted_at") or _now(),
            "replayed_lsn": ctx.noted("replayed_lsn"),
            "replayed_commit": ctx.noted("replayed_commit"),
        }

    def fail_back(self, ctx: RunContext) -> None:
        """The cluster as it was: the promoted server made a reader of the old writer again.
        Refused while it may hold writes not copied back (the cutover not undone)."""
        promoted, writer = self._reader(ctx), self._writer(ctx)
        if (promoted.paths.root / SERVING).exists():
            raise OpsError(
                f"{promoted.paths.root.name} took writes after the cutover that are not copied back yet; "
                f"the cutover's rollback copies them (`ops runbook abort {ctx.run_id}`)"
            )
        if not writer.is_running():
            writer.start()
        platform = self._platform(ctx)
        record = self._record(ctx)
        if any(Path(r.root) == promoted.paths.root for r in record.readers) and replica.in_recovery(promoted):
            return  # never promoted, or already a reader again
        promoted.stop()
        shutil.rmtree(promoted.paths.data, ignore_errors=True)
        replica.create_reader(writer, promoted)

        def add(record: PlatformRecord) -> None:
            record.readers = [r for r in record.readers if Path(r.root) != promoted.paths.root]
            record.readers.append(
                ReaderRecord(str(promoted.paths.root), promoted.port, str(writer.paths.root))
            )

        platform.change_record(add)

    def wait_writer(self, ctx: RunContext) -> dict[str, Any]:
        promoted = self._reader(ctx)
        ctx.checkpoint("waiting")
        if not promoted.is_running():
            promoted.start()
        ctx.watch(f"{promoted.paths.root.name}: leaving recovery")
        wait_promoted(promoted, timeout=self.params.ready_timeout_seconds)
        return {"writer": promoted.paths.root.name, "writer_at": _now()}

    # --- cutover ------------------------------------------------------------------------
    def cutover(self, ctx: RunContext) -> dict[str, Any]:
        writer, promoted = self._writer(ctx), self._reader(ctx)
        dbname = self._dbname(ctx)
        endpoint = DatabaseEndpoint("127.0.0.1", promoted.port, dbname, SUPERUSER)
        ctx.note(previous=ctx.output("check-cluster", "endpoint"))
        (promoted.paths.root / SERVING).write_text(json.dumps({"run_id": ctx.run_id}))
        writable(promoted, dbname)  # an earlier attempt's rollback may have fenced it
        self._ssm(ctx).put_parameter(
            Name=self._parameter, Value=endpoint.to_json(), Type="String", Overwrite=True
        )
        ctx.checkpoint("switched")
        platform = self._platform(ctx)
        record = platform.make_primary(promoted, dbname, ctx.run_id, replaced=writer)
        record = platform.old_running(writer, False, ctx.run_id)  # isolated: stopped
        platform.wait_ingest_on(record, endpoint, timeout=30)
        return {"endpoint": endpoint.to_json(), "cutover_at": _now()}

    def undo_cutover(self, ctx: RunContext) -> None:
        """The endpoint back to the old writer, writable again, and what the promoted
        server took meanwhile copied back to it (each part idempotent)."""
        writer, promoted = self._writer(ctx), self._reader(ctx)
        previous = DatabaseEndpoint.from_json(ctx.output("check-cluster", "endpoint"))
        if not writer.is_running():
            writer.start()
        replica.unfence(writer)
        self._ssm(ctx).put_parameter(
            Name=self._parameter, Value=previous.to_json(), Type="String", Overwrite=True
        )
        platform = self._platform(ctx)
        record = platform.make_primary(writer, previous.dbname, ctx.run_id)
        platform.wait_ingest_on(record, previous, timeout=30)
        if promoted.initialised():
            if not promoted.is_running():
                promoted.start()
            since = datetime.fromisoformat(ctx.output("fail-over", "promoted_at"))
            copy_back(promoted, writer, previous.dbname, self.tables, since)
        (promoted.paths.root / SERVING).unlink(missing_ok=True)

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        probe = f"FAILOVER-PROBE-{ctx.run_id}"
        probe_reaches(
            record.ingest_url, self._reader(ctx).conninfo(self._dbname(ctx)), probe, "the new writer"
        )
        return {"probe": probe}

    # --- what was lost ------------------------------------------------------------------
    def measure_rpo(self, ctx: RunContext) -> dict[str, Any]:
        """The old writer started read-only on a port no client knows, its rows compared
        with the new writer's by key: what it acknowledged that the new one lacks was lost.
        Those rows are kept in a CSV file per table for reconciliation."""
        old = LocalPostgres(self._writer(ctx).paths.root, free_port())
        if not old.initialised():  # its disk is gone too: the loss cannot be measured
            return {"lost": None, "lost_total": None, "rpo_seconds": None, "lost_file": None}
        dbname = self._dbname(ctx)
        old.start(extra_settings={"default_transaction_read_only": "on"})
        try:
            lost, latest = self._lost(ctx, old, dbname)
        finally:
            old.stop()
        rpo = 0.0
        if latest is not None:
            kept = self._last_kept(ctx, dbname)
            since = kept if kept is not None else latest
            rpo = round(max(0.0, (latest - since).total_seconds()), 3)
        files = sorted(str(p) for p in self._lost_dir(ctx).glob("*.csv"))
        return {
            "lost": lost,
            "lost_total": sum(lost.values()),
            "rpo_seconds": rpo,
            "latest_lost_commit": latest.isoformat() if latest else None,
            "lost_file": files[0] if len(files) == 1 else (str(self._lost_dir(ctx)) if files else None),
        }

    def _last_kept(self, ctx: RunContext, dbname: str) -> datetime | None:
        """The newest commit the reader had when promoted: what it said it replayed, else
        (a reader that replayed nothing since it started says nothing) the newest row of
        the check tables on the new writer committed before the promotion."""
        replayed = ctx.output("fail-over", "replayed_commit")
        if replayed:
            return datetime.fromisoformat(replayed)
        promoted_at = datetime.fromisoformat(ctx.output("fail-over", "promoted_at"))
        newest: datetime | None = None
        with psycopg.connect(self._reader(ctx).conninfo(dbname)) as conn:
            for table in self.tables:
                row = conn.execute(
                    sql.SQL(COMMITTED_BEFORE).format(sql.Identifier(table)),
                    (promoted_at,),
                ).fetchone()
                if row and row[0] and (newest is None or row[0] > newest):
                    newest = row[0]
        return newest

    def _lost_dir(self, ctx: RunContext) -> Path:
        return runs_dir(ctx.state) / ctx.run_id / "lost-rows"

    def _lost(
        self, ctx: RunContext, old: LocalPostgres, dbname: str
    ) -> tuple[dict[str, int], datetime | None]:
        new = self._reader(ctx)
        lost: dict[str, int] = {}
        latest: datetime | None = None
        with psycopg.connect(old.conninfo(dbname)) as before, psycopg.connect(new.conninfo(dbname)) as after:
            for table, key in self.tables.items():
                query = sql.SQL("SELECT {}::text FROM {}").format(sql.Identifier(key), sql.Identifier(table))
                missing = {r[0] for r in before.execute(query)} - {r[0] for r in after.execute(query)}
                lost[table] = len(missing)
                if not missing:
                    continue
                keys = sorted(missing)
                row = before.execute(
                    sql.SQL(
                        "SELECT max(pg_xact_commit_timestamp(xmin)) FROM {} WHERE {}::text = ANY(%s)"
                    ).format(sql.Identifier(table), sql.Identifier(key)),
                    (keys,),
                ).fetchone()
                if row and row[0] and (latest is None or row[0] > latest):
                    latest = row[0]
                self._keep(before, table, key, keys, self._lost_dir(ctx) / f"{table}.csv")
        return lost, latest

    @staticmethod
    def _keep(conn: psycopg.Connection[Any], table: str, key: str, keys: list[str], path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = sql.SQL(
            "COPY (SELECT * FROM {} WHERE {}::text = ANY({}) ORDER BY 1) TO STDOUT WITH CSV HEADER"
        ).format(sql.Identifier(table), sql.Identifier(key), sql.Literal(keys))
        with path.open("wb") as out, conn.cursor().copy(rows) as copy:
            for data in copy:
                out.write(data)

    # --- the cluster's shape again ------------------------------------------------------
    def backup_new_writer(self, ctx: RunContext) -> dict[str, Any]:
        """The new writer restorable in its turn (rds-pitr reads its base backups)."""
        promoted = self._reader(ctx)
        backups = promoted.base_backups() or [promoted.take_base_backup()]
        return {"base_backup": backups[0].name}

    def rejoin_reader(self, ctx: RunContext) -> dict[str, Any]:
        """A new reader of the new writer (the old writer's folder stays, stopped: it holds
        what a failover lost, if anything)."""
        promoted = self._reader(ctx)
        platform = self._platform(ctx)
        record = self._record(ctx)
        existing = [r for r in record.readers if Path(r.upstream) == promoted.paths.root]
        if existing:
            return {"reader": existing[0].name, "reader_root": existing[0].root}
        root = ctx.noted("reader_root") or str(next_reader(LocalState.of(ctx.state), record).paths.root)
        ctx.note(reader_root=root)
        server = LocalPostgres(Path(root), free_port())
        if server.initialised():  # an attempt cut short: a copy, made again
            server.stop()
            shutil.rmtree(server.paths.data)
        replica.create_reader(promoted, server)

        def add(record: PlatformRecord) -> None:
            record.readers.append(ReaderRecord(str(server.paths.root), server.port, str(promoted.paths.root)))

        platform.change_record(add)
        return {"reader": server.paths.root.name, "reader_root": str(server.paths.root)}

    def drop_reader(self, ctx: RunContext) -> None:
        """Undo of rejoin-reader (a drill's teardown fails the writer back): the reader made
        of the promoted server goes, so the cluster has its readers of the old writer only."""
        root = ctx.outputs.get("rejoin-reader", {}).get("reader_root") or ctx.notes.get(
            "rejoin-reader", {}
        ).get("reader_root")
        if not root:
            return
        server = LocalPostgres(Path(root), 0)
        server.stop()
        self._forget_reader(ctx, server)
        shutil.rmtree(server.paths.root, ignore_errors=True)

    def _forget_reader(self, ctx: RunContext, reader: LocalPostgres) -> None:
        def forget(record: PlatformRecord) -> None:
            record.readers = [r for r in record.readers if Path(r.root) != reader.paths.root]

        self._platform(ctx).change_record(forget)


def _now() -> str:
    return datetime.now(UTC).isoformat()
