"""Readers of the local warehouse: PostgreSQL streaming replicas (asynchronous, hot
standby) of the primary, standing in for an Aurora cluster's readers; and what a writer
failover does to them: fence, catch up, promote.

Asynchronous on purpose: what a promotion loses is measured, not assumed away."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql

from ops.errors import OpsError
from ops.local.postgres import FENCE, SUPERUSER, LocalPostgres


@dataclass(frozen=True)
class Streaming:
    """A reader as its primary sees it (pg_stat_replication)."""

    name: str
    state: str  # streaming, catchup, startup...
    lag_bytes: int  # WAL written on the primary not yet replayed on the reader
    lag_seconds: float  # the replay lag PostgreSQL measured (0 when idle)


def upstream_settings(primary: LocalPostgres, name: str) -> dict[str, str]:
    """Where a reader streams from: given at each start (a primary's port may change)."""
    conninfo = f"host=127.0.0.1 port={primary.port} user={SUPERUSER} application_name={name}"
    return {"primary_conninfo": "'" + conninfo + "'", "hot_standby": "on"}


def start_reader(reader: LocalPostgres, primary: LocalPostgres) -> None:
    reader.start(extra_settings=upstream_settings(primary, reader.paths.root.name))


def create_reader(primary: LocalPostgres, reader: LocalPostgres) -> None:
    """A new reader of `primary` at `reader`'s folder and port, started and streaming."""
    if reader.initialised():
        raise OpsError(f"{reader.paths.data} holds a database already; not overwriting it")
    # A folder used before (a promoted reader made a reader again) keeps nothing of its
    # former life: its WAL archive would clash with the new one's (another timeline's
    # history under the same name) and stall archiving.
    for folder in (reader.paths.archive, reader.paths.base_backups):
        shutil.rmtree(folder, ignore_errors=True)
    reader.clone_standby_of(primary)
    start_reader(reader, primary)
    wait_streaming(primary, reader.paths.root.name, timeout=60)


def streaming(primary: LocalPostgres) -> dict[str, Streaming]:
    """The readers streaming from `primary` now, by name."""
    with psycopg.connect(primary.conninfo(), connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT application_name, state,"
            " COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint,"
            " COALESCE(EXTRACT(epoch FROM replay_lag), 0)::float8"
            " FROM pg_stat_replication"
        ).fetchall()
    return {row[0]: Streaming(row[0], row[1], int(row[2]), float(row[3])) for row in rows}


@dataclass(frozen=True)
class Lag:
    """How far a reader is behind its writer: the WAL it has not replayed, and the time
    between the writer's last commit and the last commit the reader replayed (what a
    promotion now would lose, as AuroraGlobalDBRPOLag measures it); 0 when caught up."""

    bytes: int
    seconds: float


def lag(writer: LocalPostgres, reader: LocalPostgres) -> Lag:
    with psycopg.connect(writer.conninfo(), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT pg_current_wal_lsn()::text, (pg_last_committed_xact()).timestamp"
        ).fetchone()
    written, last_commit = (row[0], row[1]) if row else ("0/0", None)
    with psycopg.connect(reader.conninfo(), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT GREATEST(pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint,"
            " pg_last_xact_replay_timestamp()",
            (written,),
        ).fetchone()
    behind, replayed_commit = (int(row[0]), row[1]) if row else (0, None)
    if behind == 0 or last_commit is None:
        return Lag(behind, 0.0)
    if replayed_commit is None:  # nothing replayed since it started: behind by all of it
        return Lag(behind, float("inf"))
    return Lag(behind, max(0.0, (last_commit - replayed_commit).total_seconds()))


def wait_streaming(primary: LocalPostgres, name: str, timeout: float) -> Streaming:
    deadline = time.monotonic() + timeout
    while True:
        found = streaming(primary).get(name)
        if found is not None and found.state == "streaming":
            return found
        if time.monotonic() > deadline:
            state = found.state if found else "not connected"
            raise OpsError(
                f"reader {name} is not streaming from its primary ({state}) within {timeout:.0f} s"
            )
        time.sleep(0.1)


def in_recovery(server: LocalPostgres) -> bool:
    with psycopg.connect(server.conninfo(), connect_timeout=5) as conn:
        row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def fence(writer: LocalPostgres, dbname: str) -> str:
    """No new write on `writer`: read-only by default from now on (kept across a restart),
    its sessions on `dbname` ended so none keeps writing. Returns its WAL position then:
    a reader that replayed up to it has every commit."""
    with psycopg.connect(writer.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SYSTEM SET {} = on").format(sql.Identifier(FENCE)))
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            (dbname,),
        )
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    return str(row[0]) if row else "0/0"


def unfence(writer: LocalPostgres) -> None:
    with psycopg.connect(writer.conninfo(), autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(FENCE)))
        conn.execute("SELECT pg_reload_conf()")


def wait_replayed(reader: LocalPostgres, lsn: str, timeout: float) -> None:
    """Until the reader has replayed the WAL up to `lsn`."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(reader.conninfo(), connect_timeout=5) as conn:
        while True:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
            if row and row[0]:
                return
            if time.monotonic() > deadline:
                raise OpsError(
                    f"reader {reader.paths.root.name} did not replay up to {lsn} within {timeout:.0f} s"
                )
            time.sleep(0.05)


@dataclass(frozen=True)
class Replayed:
    lsn: str
    last_commit: datetime | None  # the commit time of the last transaction it replayed


def replayed(reader: LocalPostgres) -> Replayed:
    with psycopg.connect(reader.conninfo(), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT pg_last_wal_replay_lsn()::text, pg_last_xact_replay_timestamp()"
        ).fetchone()
    if row is None:
        return Replayed("0/0", None)
    return Replayed(str(row[0]), row[1])


def promote(reader: LocalPostgres, timeout: int = 60) -> None:
    """The reader leaves recovery and takes writes (a new timeline)."""
    with psycopg.connect(reader.conninfo(), autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT pg_promote(true, %s)", (timeout,)).fetchone()
    if not (row and row[0]):
        raise OpsError(
            f"reader {reader.paths.root.name} was not promoted within {timeout} s; see {reader.paths.log}"
        )
