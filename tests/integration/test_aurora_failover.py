"""aurora-failover on the local platform: the warehouse's reader (a real PostgreSQL
streaming replica) promoted under traffic, the ingest path moved, what was lost measured
and checked against the rows themselves; refusals that change nothing; a failure after the
cutover rolled back with nothing lost."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ops.local.pitr import archive_now
from ops.local.postgres import LocalPostgres
from ops.util.processes import wait_until
from tests.helpers import INVENTORY, Result, run_cli
from tests.integration.conftest import RunningPlatform
from tests.integration.local_runs import (
    AcceptedTraffic,
    conninfo,
    endpoint,
    ingest_port,
    newest_run,
    run_status,
    stored,
)
from tests.runbook_controls import fail_at_env


def _run(
    platform: RunningPlatform, *args: str, inventory: Path | None = None, env: dict[str, str] | None = None
) -> Result:
    head = ["--inventory", str(inventory)] if inventory else []
    return run_cli(*head, "runbook", "run", "aurora-failover", *args, env={**platform.env, **(env or {})})


def _outputs(result: Result) -> dict[str, Any]:
    assert result.code == 0, result.out + result.err
    outputs: dict[str, Any] = json.loads(result.out)["outputs"]
    return outputs


def _reader(platform: RunningPlatform) -> dict[str, Any]:
    platform.refresh()
    readers: list[dict[str, Any]] = platform.record["readers"]  # type: ignore[assignment]
    assert len(readers) == 1
    return readers[0]


def _streaming_from(writer_port: int) -> list[str]:
    with psycopg.connect(conninfo(writer_port, "postgres")) as conn:
        rows = conn.execute("SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")
        return [row[0] for row in rows]


def _ids(port: int) -> list[str]:
    with psycopg.connect(conninfo(port)) as conn:
        return [row[0] for row in conn.execute("SELECT transaction_id FROM financial_transactions")]


def _set_upstream(port: int, conninfo_value: str | None) -> None:
    """Cut a reader off its writer (no WAL reaches it) or connect it again (None)."""
    with psycopg.connect(conninfo(port, "postgres"), autocommit=True) as conn:
        if conninfo_value is None:
            conn.execute("ALTER SYSTEM RESET primary_conninfo")
        else:
            conn.execute(f"ALTER SYSTEM SET primary_conninfo = '{conninfo_value}'")
        conn.execute("SELECT pg_reload_conf()")


@pytest.fixture
def settled(platform: RunningPlatform) -> RunningPlatform:
    """The module's platform with its reader streaming from the writer (a test that cut it
    off connects it again)."""
    reader = _reader(platform)
    _set_upstream(reader["port"], None)
    wait_until(
        lambda: reader["root"].rsplit("/", 1)[-1] in _streaming_from(endpoint(platform)["port"]),
        30,
        "the reader streaming",
    )
    return platform


def test_a_writer_failover_under_traffic_moves_the_ingest_path_and_loses_nothing(
    settled: RunningPlatform,
) -> None:
    platform = settled
    old_writer, reader = int(endpoint(platform)["port"]), _reader(platform)
    with AcceptedTraffic(platform.ingest_url) as traffic:
        traffic.more(50)
        outputs = _outputs(_run(platform, "--execute", "-o", "json"))
        traffic.more(50)  # accepted by the new writer
    new_writer = int(endpoint(platform)["port"])
    assert new_writer == reader["port"] != old_writer
    assert ingest_port(platform) == new_writer
    # Every acknowledged record is on the new writer, once: measured, and so it is.
    assert outputs["RPOMeasured"] is True and outputs["RPOSeconds"] == 0.0
    assert sum(outputs["LostCommits"].values()) == 0
    assert stored(new_writer, traffic.accepted) == len(set(traffic.accepted))
    # The cluster keeps its shape: a new reader streams from the new writer.
    rejoined = _reader(platform)
    assert rejoined["root"] != reader["root"]
    assert _streaming_from(new_writer) == [Path(rejoined["root"]).name]


def test_a_failover_measures_what_the_reader_lacked_from_the_rows(settled: RunningPlatform) -> None:
    platform = settled
    reader = _reader(platform)
    _set_upstream(reader["port"], "")  # no WAL reaches the reader from now on
    # Restarted: it has replayed no transaction since it started and says so (NULL); the
    # loss is then measured from the newest row it kept.
    restarted = LocalPostgres(Path(reader["root"]), reader["port"])
    restarted.stop()
    restarted.start()
    with AcceptedTraffic(platform.ingest_url) as traffic:
        traffic.more(30)
    run = _run(
        platform, "--execute", "--param", "mode=failover", "--param", "allow_data_loss=true", "-o", "json"
    )
    outputs = _outputs(run)
    new_writer = int(endpoint(platform)["port"])
    assert new_writer == reader["port"]
    present = set(_ids(new_writer))
    lost = {record for record in traffic.accepted if record not in present}
    assert len(lost) >= 30  # everything acknowledged since the cut
    assert outputs["LostCommits"]["financial_transactions"] == len(lost)
    assert outputs["RPOSeconds"] > 0
    with open(outputs["LostRowsFile"], newline="") as kept:
        assert {row["transaction_id"] for row in csv.DictReader(kept)} == lost


def test_a_failover_without_allow_data_loss_is_refused_and_changes_nothing(settled: RunningPlatform) -> None:
    platform = settled
    before, reader = endpoint(platform), _reader(platform)
    refused = _run(platform, "--execute", "--param", "mode=failover")
    assert refused.code == 2
    assert refused.err.strip().splitlines() == [
        "error: --param allow_data_loss: a failover (mode failover) loses what the secondary has not "
        "received; pass --param allow_data_loss=true to accept it, or use mode switchover"
    ]
    assert endpoint(platform) == before and _reader(platform) == reader
    assert Path(reader["root"]).name in _streaming_from(int(before["port"]))


def test_a_switchover_is_refused_while_the_reader_is_behind_the_objective(
    settled: RunningPlatform, tmp_path: Path
) -> None:
    platform = settled
    inventory = tmp_path / "platform.yaml"
    inventory.write_text(
        INVENTORY.read_text().replace("warehouse: {rpo: 5m, rto: 30m}", "warehouse: {rpo: 1s, rto: 30m}")
    )
    before, reader = endpoint(platform), _reader(platform)
    writer = int(before["port"])
    with psycopg.connect(conninfo(reader["port"], "postgres"), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    try:
        with AcceptedTraffic(platform.ingest_url) as traffic:
            traffic.more(10)
            first = len(traffic.accepted)
            # Over a second of commits the reader has not replayed.
            wait_until(
                lambda: _commit_span(writer, traffic.accepted[first - 1], traffic.accepted[-1]) > 1.5,
                30,
                "commits over 1.5 s apart",
            )
        refused = _run(platform, "--execute", "--param", "mode=switchover", inventory=inventory)
    finally:
        with psycopg.connect(conninfo(reader["port"], "postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
    assert refused.code == 1, refused.out + refused.err
    [line] = refused.err.strip().splitlines()
    assert "refused: reader" in line and "over the RPO objective of 1 s" in line
    assert endpoint(platform) == before and _reader(platform) == reader
    assert ingest_port(platform) == writer


def _commit_span(port: int, first: str, last: str) -> float:
    with psycopg.connect(conninfo(port)) as conn:
        row = conn.execute(
            "SELECT EXTRACT(epoch FROM max(t) - min(t)) FROM (SELECT pg_xact_commit_timestamp(xmin) AS t"
            " FROM financial_transactions WHERE transaction_id = ANY(%s)) AS commits",
            ([first, last],),
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def test_a_failure_after_the_cutover_moves_back_and_copies_what_the_new_writer_took(
    settled: RunningPlatform,
) -> None:
    platform = settled
    before, reader = endpoint(platform), _reader(platform)
    writer = int(before["port"])
    with AcceptedTraffic(platform.ingest_url) as traffic:
        traffic.more(50)
        failed = _run(platform, "--execute", env=fail_at_env("before:measure-rpo"))
        traffic.more(50)  # accepted after the rollback: by the writer again
    assert failed.code == 1, failed.out + failed.err
    assert failed.err.strip().splitlines()[-1] == "error: injected failure at before:measure-rpo"
    run = run_status(platform, newest_run(platform))
    assert run["status"] == "failed"
    assert {"cutover", "fail-over", "isolate-writer"} <= set(run["rolled_back"])
    # The post-check's probe was written to the promoted reader only: it is copied back,
    # as is every record acknowledged while the promoted reader served.
    assert stored(writer, [f"FAILOVER-PROBE-{run['run_id']}"]) == 1
    assert stored(writer, traffic.accepted) == len(set(traffic.accepted))
    assert endpoint(platform) == before and ingest_port(platform) == writer
    # The reader is a reader of the writer again, in its own folder.
    again = _reader(platform)
    assert again["root"] == reader["root"] and again["upstream"] == reader["upstream"]
    wait_until(lambda: Path(reader["root"]).name in _streaming_from(writer), 30, "the reader streaming again")
    # Promoted again from the same folder, it archives its WAL (its former life's archive,
    # another history under the same timeline, is gone): point-in-time recovery works on it.
    _outputs(_run(platform, "--execute", "-o", "json"))
    assert endpoint(platform)["port"] == reader["port"]
    archive_now(LocalPostgres(Path(reader["root"]), reader["port"]))  # raises if archiving stalls
