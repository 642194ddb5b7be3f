"""The data checks of a point-in-time restore, the same on every provider: per table of the
inventory's `checks`, the rows the source committed up to the target time (count, and an md5
of their keys in order) must be exactly the restored table's, and no restored row may have
been committed after the target. Meant for append-only tables (an update moves a row's
commit time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ops.errors import OpsError


@dataclass(frozen=True)
class TableState:
    rows: int
    checksum: str
    latest_commit: datetime | None


def committed_up_to(conninfo: str, moment: datetime | None, tables: dict[str, str]) -> dict[str, TableState]:
    """Per table (name -> key column): rows committed up to `moment` (all rows when None),
    a checksum of their keys, and the latest commit time among them. Commit time, not
    insert time, is what recovery stops at (it needs `track_commit_timestamp = on`)."""
    found: dict[str, TableState] = {}
    with psycopg.connect(conninfo) as conn:
        for table, key in tables.items():
            exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            if not exists or exists[0] is None:
                found[table] = TableState(0, "", None)
                continue
            where = "WHERE pg_xact_commit_timestamp(xmin) <= %(moment)s" if moment else ""
            try:
                row = conn.execute(
                    f"SELECT count(*), coalesce(md5(string_agg({key}::text, ',' ORDER BY {key})), ''),"
                    f" max(pg_xact_commit_timestamp(xmin)) FROM {table} {where}",
                    {"moment": moment},
                ).fetchone()
            except psycopg.errors.ObjectNotInPrerequisiteState as error:
                raise OpsError(
                    f"data checks need commit timestamps: set track_commit_timestamp = on in the "
                    f"database's parameter group ({error.diag.message_primary})"
                ) from error
            assert row is not None
            found[table] = TableState(int(row[0]), str(row[1]), row[2])
    return found


def differences(expected: dict[str, TableState], found: dict[str, TableState], target: datetime) -> list[str]:
    """What the restored tables get wrong, one phrase per problem (empty when exact)."""
    problems = []
    for table, want in expected.items():
        got = found[table]
        if (got.rows, got.checksum) != (want.rows, want.checksum):
            problems.append(f"{table}: {got.rows} rows restored, {want.rows} committed by the target time")
        if got.latest_commit and got.latest_commit > target:
            problems.append(f"{table}: a row committed at {got.latest_commit.isoformat()}, after the target")
    return problems


def verify_restore(
    source_conninfo: str, restored_conninfo: str, target: datetime, tables: dict[str, str]
) -> dict[str, Any]:
    """Compare the restored database with the source's rows up to `target`: raise with every
    difference, or return what was verified (rows, checksums, the recovery point)."""
    expected = committed_up_to(source_conninfo, target, tables)
    found = committed_up_to(restored_conninfo, None, tables)
    problems = differences(expected, found, target)
    if problems:
        raise OpsError("validation failed: " + "; ".join(problems))
    commits = [s.latest_commit for s in found.values() if s.latest_commit]
    return {
        "rows": {table: state.rows for table, state in found.items()},
        "checksums": {table: state.checksum for table, state in found.items()},
        "recovery_point": max(commits).isoformat() if commits else None,
    }
