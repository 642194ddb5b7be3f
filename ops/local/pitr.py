"""Point-in-time recovery of the local platform's PostgreSQL: a base backup plus WAL
replay with `recovery_target_time`, into a new data directory on a new port."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from ops.errors import OpsError
from ops.local.postgres import LocalPostgres, shell_quote


@dataclass(frozen=True)
class RestoreWindow:
    earliest: datetime  # the start of the oldest base backup
    latest: datetime  # the last WAL segment archived

    def contains(self, moment: datetime) -> bool:
        return self.earliest <= moment <= self.latest


def backup_start(backup: Path) -> datetime:
    """START TIME from a base backup's backup_label (e.g. '2026-11-26 18:10:22 UTC')."""
    for line in (backup / "backup_label").read_text().splitlines():
        if line.startswith("START TIME:"):
            text = line.split(":", 1)[1].strip().removesuffix(" UTC")
            return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    raise OpsError(f"{backup}/backup_label has no START TIME; take a new base backup")


def restore_window(source: LocalPostgres) -> RestoreWindow:
    backups = source.base_backups()
    if not backups:
        raise OpsError("no base backup: run `ops local up` (it takes one)")
    with psycopg.connect(source.conninfo()) as conn:
        row = conn.execute("SELECT last_archived_time FROM pg_stat_archiver").fetchone()
    earliest = backup_start(backups[0])
    latest = row[0] if row and row[0] else earliest
    return RestoreWindow(earliest, max(latest, earliest))


def archive_now(source: LocalPostgres, timeout: float = 30.0) -> datetime:
    """Close the current WAL segment and wait until it is archived: everything committed
    before this call becomes restorable. Returns when it is."""
    with psycopg.connect(source.conninfo(), autocommit=True) as conn:
        # Something to close: switching an empty segment archives nothing new.
        conn.execute("SELECT txid_current()")
        segment = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]  # type: ignore[index]
        conn.execute("SELECT pg_switch_wal()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT last_archived_wal, last_archived_time FROM pg_stat_archiver"
            ).fetchone()
            if row and row[0] and row[0] >= segment:
                return row[1]  # type: ignore[no-any-return]
            time.sleep(0.1)
    raise OpsError(f"WAL segment {segment} was not archived within {timeout:.0f} s; see the PostgreSQL log")


def restore_to(
    source: LocalPostgres, target: datetime, root: Path, port: int, timeout: float = 120
) -> LocalPostgres:
    """A new server at `root` on `port` holding exactly what was committed up to `target`."""
    backups = [b for b in source.base_backups() if backup_start(b) <= target]
    if not backups:
        raise OpsError(f"no base backup started before {target.isoformat()}")
    restored = LocalPostgres(root, port)
    if restored.initialised():
        raise OpsError(f"{root} already holds a database; choose another target identifier")
    for folder in (restored.paths.root, restored.paths.archive, restored.paths.base_backups):
        folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(backups[-1], restored.paths.data)
    restored.paths.data.chmod(0o700)
    (restored.paths.data / "recovery.signal").touch()
    restored.own_tree(restored.paths.root)
    archive = shell_quote(str(source.paths.archive))
    recovery = {
        "restore_command": _conf(f"cp {archive}/%f %p"),
        "recovery_target_time": _conf(target.astimezone(UTC).isoformat()),
        "recovery_target_action": "'promote'",
        "recovery_target_inclusive": "on",
    }
    restored.start(extra_settings=recovery)
    wait_promoted(restored, timeout)
    restored.write_settings()  # recovery done: no recovery settings at the next start
    return restored


def wait_promoted(server: LocalPostgres, timeout: float) -> None:
    """Poll, with a growing interval, until the server accepts writes (out of recovery)."""
    deadline = time.monotonic() + timeout
    interval = 0.05
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(server.conninfo(), connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row and row[0] is False:
                return
        except psycopg.OperationalError:
            pass  # still starting
        time.sleep(interval)
        interval = min(interval * 1.5, 1.0)
    raise OpsError(
        f"the restored server did not finish recovery within {timeout:.0f} s; see {server.paths.log}"
    )


def _conf(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
