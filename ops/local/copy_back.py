"""What a server that served for a while took, copied back to the one that serves again:
the rollback of a cutover (rds-pitr's to a restored database, aurora-failover's to a
promoted reader) loses no write the other server accepted meanwhile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ops.local.postgres import LocalPostgres

COPY_LOCK_TIMEOUT = "5s"


def copy_back(
    restored: LocalPostgres, source: LocalPostgres, dbname: str, tables: dict[str, str], since: datetime
) -> dict[str, int]:
    """What the restored server took after `since` (its own writes: the restore holds the
    source's rows up to it) inserted into the source where the source lacks it, by key.
    The restored database is made read-only and its sessions ended first, so no write it
    accepts afterwards can be missed: a write in flight is committed (and copied) or failed."""
    with psycopg.connect(restored.conninfo(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(sql.Identifier(dbname))
        )
        admin.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
    copied: dict[str, int] = {}
    with psycopg.connect(restored.conninfo(dbname)) as src, psycopg.connect(source.conninfo(dbname)) as dst:
        # A lock held on the source (DDL, VACUUM FULL) fails the rollback, to be tried again,
        # rather than hanging it.
        dst.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(COPY_LOCK_TIMEOUT)))
        for table, key in tables.items():
            if not all(_has_table(conn, table) for conn in (src, dst)):
                continue
            temp = sql.Identifier(f"copy_back_{table}")
            dst.execute(
                sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
                    temp, sql.Identifier(table)
                )
            )
            taken = sql.SQL(
                "COPY (SELECT * FROM {} WHERE COALESCE(pg_xact_commit_timestamp(xmin) > {}, true)) TO STDOUT"
            ).format(sql.Identifier(table), sql.Literal(since))
            with (
                src.cursor().copy(taken) as out,
                dst.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(temp)) as into,
            ):
                for data in out:
                    into.write(data)
            inserted = dst.execute(
                sql.SQL("INSERT INTO {} SELECT * FROM {} ON CONFLICT ({}) DO NOTHING").format(
                    sql.Identifier(table), temp, sql.Identifier(key)
                )
            )
            copied[table] = inserted.rowcount
        dst.commit()
    return copied


def _has_table(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def writable(server: LocalPostgres, dbname: str) -> None:
    """Undo the read-only fence a rollback's copy-back put on a database (a cutover again)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(sql.Identifier(dbname))
        )
