"""The local cutover undone: a failure after it, a SIGTERM during it, and `ops runbook abort`
after a run killed anywhere put the endpoint back (read back from the emulator), move the
ingest service back to the source and lose no record it accepted; a rollback that fails
leaves the run rollback-failed until `abort` succeeds. Each test leaves the module's platform
as it found it (the same primary), restarts included."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import psycopg
import pytest

from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform
from tests.integration.local_runs import (
    AcceptedTraffic,
    assert_healthy_on,
    assert_restarts_on_primary,
    conninfo,
    endpoint,
    newest_run,
    pitr,
    primary,
    restores,
    run_status,
    stored,
)
from tests.runbook_controls import fail_at_env, kill_at_env


def _copied_back(stderr: str) -> int:
    """The rollback's own count of records it copied back to the source (its info log)."""
    found = re.search(r"(\d+) record\(s\) copied back to the source", stderr)
    assert found, stderr
    return int(found.group(1))


def test_a_failure_after_the_cutover_moves_ingest_back_with_no_record_lost(
    platform: RunningPlatform,
) -> None:
    source, before = endpoint(platform), restores(platform)
    with AcceptedTraffic(platform.ingest_url) as traffic:
        traffic.more(100)
        failed = pitr(platform, env=fail_at_env("before:post-check"))
        traffic.more(100)  # still accepted after the rollback: on the source
    assert failed.code == 1, failed.err
    assert "error: injected failure at before:post-check" in failed.err
    assert _copied_back(failed.err) > 0  # the restored server did take records meanwhile
    assert endpoint(platform) == source
    assert_healthy_on(platform, source["port"])
    assert stored(source["port"], traffic.accepted) == len(traffic.accepted)
    assert restores(platform) == before  # the restore is dropped too
    assert run_status(platform, newest_run(platform))["status"] == "failed"
    assert_restarts_on_primary(platform)  # a restart after a rollback


def test_sigterm_during_the_cutover_moves_ingest_back_with_no_record_lost(platform: RunningPlatform) -> None:
    source, before = endpoint(platform), restores(platform)
    with AcceptedTraffic(platform.ingest_url) as traffic:
        traffic.more(100)
        stopped = pitr(platform, env=kill_at_env("sigterm-during:cutover"))
        traffic.more(100)
    assert stopped.code == 130, stopped.err
    assert endpoint(platform) == source
    assert_healthy_on(platform, source["port"])
    assert stored(source["port"], traffic.accepted) == len(traffic.accepted)
    assert restores(platform) == before
    journal = platform.state_dir / "runs" / newest_run(platform) / "journal.jsonl"
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "step-rolled-back"] == [
        "cutover",
        "approve-cutover",  # undone with the run: a resumed run is approved again
        "restore",
    ]
    assert events[-1]["event"] == "run-interrupted"


@pytest.mark.parametrize(
    "point", ["during:restore", "after:restore", "during:cutover", "after:cutover", "after:stop-old"]
)
def test_abort_after_a_run_killed_anywhere_undoes_everything(platform: RunningPlatform, point: str) -> None:
    source, before = endpoint(platform), restores(platform)
    killed = pitr(platform, "old_instance=stop", env=kill_at_env(point))
    assert killed.code == -9, killed.err  # SIGKILL: no rollback ran
    run_id = newest_run(platform)
    aborted = run_cli("runbook", "abort", run_id, env=platform.env)
    assert aborted.code == 0, aborted.err
    assert run_status(platform, run_id)["status"] == "aborted"
    assert endpoint(platform) == source and restores(platform) == before
    assert_healthy_on(platform, source["port"])  # the source runs again after stop-old
    target = f"target_time={datetime.now(UTC).isoformat()}"
    dry = run_cli("runbook", "run", "rds-pitr", "-p", target, env=platform.env)
    assert dry.code == 0, dry.err  # the lock is free: a new run takes it
    assert "locked" not in dry.err


def test_a_rollback_that_fails_is_tried_again_by_abort(platform: RunningPlatform) -> None:
    source, before, (source_root, _) = endpoint(platform), restores(platform), primary(platform)
    killed = pitr(platform, env=kill_at_env("after:cutover"))
    assert killed.code == -9, killed.err
    run_id = newest_run(platform)
    # A long lock on the source (as DDL or VACUUM FULL holds): the copy back cannot insert.
    with psycopg.connect(conninfo(source["port"])) as holder:
        holder.execute("LOCK TABLE financial_transactions IN ACCESS EXCLUSIVE MODE")
        failed = run_cli("runbook", "abort", run_id, env=platform.env)
    assert failed.code == 1, failed.err
    (line,) = failed.err.strip().splitlines()  # one line: what is left and why, each
    assert re.search(r"could not undo cutover \(.*lock.*\), restore \(.+\);", line), line
    assert f"abort {run_id}" in line
    journal = platform.state_dir / "runs" / run_id / "journal.jsonl"
    events = [json.loads(entry) for entry in journal.read_text().splitlines()]
    (undo,) = [e for e in events if e["event"] == "step-rollback-failed" and e["step"] == "cutover"]
    assert "lock timeout" in undo["error"]
    record = run_status(platform, run_id)
    assert record["status"] == "rollback-failed" and set(record["left"]) == {"cutover", "restore"}
    assert restores(platform) != before  # the restored server, its records not copied, is kept
    again = run_cli("runbook", "abort", run_id, env=platform.env)
    assert again.code == 0, again.err
    assert run_status(platform, run_id)["status"] == "aborted"
    assert endpoint(platform) == source and restores(platform) == before
    assert primary(platform) == (source_root, source["port"])
    assert_restarts_on_primary(platform)  # a restart after an abort
