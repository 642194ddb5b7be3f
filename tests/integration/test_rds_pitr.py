"""rds-pitr on the local platform: a real restore (base backup + WAL replay) while ingest
traffic runs, cutover, refusals that change nothing, and crash-and-resume."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from loadtest.payloads import PayloadGenerator
from ops.util.processes import wait_until
from runbooks.common.data_checks import committed_up_to
from tests.helpers import INVENTORY, Result, run_cli
from tests.integration.conftest import RunningPlatform, alive
from tests.otlp_receiver import OtlpReceiver
from tests.runbook_controls import kill_at_env

PARAMETER = "/dataplat/local/warehouse/endpoint"
TABLES = {"financial_transactions": "transaction_id", "insurance_claims": "claim_id"}


def _endpoint(platform: RunningPlatform) -> dict[str, object]:
    value = platform.aws().client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    endpoint: dict[str, object] = json.loads(value)
    return endpoint


def _conninfo(endpoint: dict[str, object]) -> str:
    return f"host=127.0.0.1 port={endpoint['port']} user=postgres dbname={endpoint['dbname']}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _run(
    platform: RunningPlatform, *args: str, inventory: Path | None = None, env: dict[str, str] | None = None
) -> Result:
    head = ["--inventory", str(inventory)] if inventory else []
    return run_cli(*head, "runbook", *args, env={**platform.env, **(env or {})})


def _restores(platform: RunningPlatform) -> list[str]:
    folder = platform.state_dir / "restores"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _source_root(platform: RunningPlatform) -> Path:
    """The folder of the server the endpoint parameter names: the platform's own, or the
    restored one an earlier cutover moved it to."""
    port = _endpoint(platform)["port"]
    if port == platform.record["postgres_port"]:
        return platform.state_dir / "postgres"
    for marker in (platform.state_dir / "restores").glob("*/restored.json"):
        if json.loads(marker.read_text())["restored_port"] == port:
            return marker.parent
    raise AssertionError(f"no local server listens on {port}")


def _target_after_newest_backup(platform: RunningPlatform, before_now: timedelta) -> datetime:
    """A target `before_now` before the moment the clock is more than a second past the end
    of the source's newest base backup (a restore replays from it; its label counts whole
    seconds). Waits for that moment, if it has not come: a cutover takes a new backup."""
    backups = sorted(
        p for p in (_source_root(platform) / "base-backups").iterdir() if (p / "PG_VERSION").exists()
    )
    finished = max(f.stat().st_mtime for f in backups[-1].iterdir())
    ready = datetime.fromtimestamp(finished, UTC) + timedelta(seconds=1) + before_now
    wait_until(lambda: datetime.now(UTC) > ready, 10, "the clock past the newest base backup")
    return datetime.now(UTC) - before_now


class Traffic:
    """Records posted to the ingest service from a thread, bounded in count and time."""

    def __init__(self, url: str, limit: int = 3000, seconds: float = 30) -> None:
        self.url, self.limit, self.deadline = url, limit, time.monotonic() + seconds
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        generator = PayloadGenerator(f"pitr{time.time_ns()}")
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.stop.is_set() and self.sent < self.limit and time.monotonic() < self.deadline:
                with contextlib.suppress(httpx.HTTPError):  # the cutover moment
                    client.post("/ingest-financial-transaction/", json=generator.financial_transaction())
                self.sent += 1
                time.sleep(0.005)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def test_a_dry_run_changes_nothing(platform: RunningPlatform) -> None:
    before, restores = _endpoint(platform), _restores(platform)
    result = _run(platform, "run", "rds-pitr", "--param", f"target_time={_iso(datetime.now(UTC))}")
    assert result.code == 0, result.err
    assert "dry run: would ssm:PutParameter" in result.out
    assert _restores(platform) == restores and _endpoint(platform) == before


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (timedelta(hours=1), "outside the restorable window"),  # the future
        (timedelta(days=-2), "outside the restorable window"),  # before the first base backup
    ],
)
def test_a_target_time_outside_the_window_is_refused(
    platform: RunningPlatform, target: timedelta, message: str
) -> None:
    before, restores = _endpoint(platform), _restores(platform)
    moment = _iso(datetime.now(UTC) + target)
    result = _run(platform, "run", "rds-pitr", "--execute", "--param", f"target_time={moment}")
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith("error: --param target_time:") and message in line
    assert _restores(platform) == restores and _endpoint(platform) == before


def test_bad_parameters_are_one_line_each(platform: RunningPlatform) -> None:
    result = _run(platform, "run", "rds-pitr", "--param", "target_time=yesterday", "--param", "colour=blue")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: --param ") for line in lines)


def test_a_restore_with_ingest_running_brings_back_exactly_what_was_committed(
    platform: RunningPlatform,
) -> None:
    source = _endpoint(platform)
    _target_after_newest_backup(platform, timedelta(0))
    with Traffic(platform.ingest_url) as traffic:
        wait_until(lambda: traffic.sent > 150, 20, "records before the target")
        target, sent = datetime.now(UTC), traffic.sent
        wait_until(lambda: traffic.sent > sent + 100, 20, "records after the target")
        result = _run(
            platform, "run", "rds-pitr", "--execute", "--param", f"target_time={_iso(target)}", "-o", "json"
        )
    assert result.code == 0, result.err
    assert traffic.sent > 100
    outputs = json.loads(result.out)["outputs"]
    restored = _endpoint(platform)
    assert restored["port"] != source["port"]  # the cutover moved the endpoint
    expected = committed_up_to(_conninfo(source), target, TABLES)
    # Traffic goes on into the restored database after the cutover: compare up to T; the
    # runbook's own count, taken before the cutover, must be exactly T's.
    found = committed_up_to(_conninfo(restored), target, TABLES)
    later = committed_up_to(_conninfo(source), None, TABLES)
    for table in expected:
        assert (found[table].rows, found[table].checksum) == (expected[table].rows, expected[table].checksum)
        assert outputs["RowsVerified"][table] == expected[table].rows
    rows_after_target = later["financial_transactions"].rows - expected["financial_transactions"].rows
    assert rows_after_target > 0  # the source did take writes after T
    assert outputs["RecoveryTime"] > 0 and outputs["RPOSeconds"] >= 0
    probe = PayloadGenerator("after-cutover").financial_transaction()
    assert httpx.post(f"{platform.ingest_url}/ingest-financial-transaction/", json=probe).status_code == 200
    with psycopg.connect(_conninfo(restored)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM financial_transactions WHERE transaction_id = %s",
            (probe["transaction_id"],),
        ).fetchone()
    assert row == (1,)


def test_an_existing_target_identifier_is_refused(platform: RunningPlatform) -> None:
    existing = "dataplat-local-warehouse-pitr-taken"
    (platform.state_dir / "restores" / existing).mkdir(parents=True)  # a restore's folder holds the name
    before, restores = _endpoint(platform), _restores(platform)
    target = _target_after_newest_backup(platform, timedelta(seconds=1))
    result = _run(
        platform,
        "run",
        "rds-pitr",
        "--execute",
        "--param",
        f"target_time={_iso(target)}",
        "--param",
        f"target_identifier={existing}",
    )
    assert result.code == 2 and "exists already" in result.err
    assert _endpoint(platform) == before and _restores(platform) == restores


def test_a_second_concurrent_run_is_refused(platform: RunningPlatform) -> None:
    lock = platform.state_dir / "locks" / "dataplat-local-warehouse.lock"
    lock.parent.mkdir(exist_ok=True)
    holder = {"run_id": "someone-else", "pid": os.getpid(), "host": os.uname().nodename, "since": "now"}
    lock.write_text(json.dumps(holder))
    try:
        result = _run(platform, "run", "rds-pitr", "--param", f"target_time={_iso(datetime.now(UTC))}")
    finally:
        lock.unlink()
    assert result.code == 2
    assert (
        result.err.strip().splitlines() == [result.err.strip()] and "locked by run someone-else" in result.err
    )


def test_a_protected_environment_needs_an_approval(platform: RunningPlatform, tmp_path: Path) -> None:
    inventory = tmp_path / "platform.yaml"
    inventory.write_text(
        INVENTORY.read_text().replace(
            "    provider: local\n    protected: false\n", "    provider: local\n    protected: true\n"
        )
    )
    before = _endpoint(platform)
    target = _iso(_target_after_newest_backup(platform, timedelta(seconds=2)))
    waiting = _run(
        platform, "run", "rds-pitr", "--execute", "--param", f"target_time={target}", inventory=inventory
    )
    assert waiting.code == 2 and "waits at approve-cutover for an approval" in waiting.err
    assert _endpoint(platform) == before  # it stopped before the cutover, resumable
    run_id = waiting.err.split(" waits at ", 1)[0].split()[-1]
    token = _run(platform, "approve", run_id, "--as", "alice", inventory=inventory).out.split()[-1]
    approved = _run(platform, "resume", run_id, "--approve", token, "-o", "json", inventory=inventory)
    assert approved.code == 0, approved.err
    assert json.loads(approved.out)["approver"] == "alice"
    assert _endpoint(platform) != before
    again = _run(platform, "approve", run_id, "--as", "alice", inventory=inventory)
    assert again.code == 2 and "completed: nothing to approve" in again.err


def _newest_run(platform: RunningPlatform) -> str:
    runs = sorted((platform.state_dir / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    return runs[-1].name


@pytest.mark.parametrize(
    "point",
    [
        "after:check-source",
        "before:restore",
        "during:restore",
        "after:restore",
        "during:wait-ready",
        "after:validate",
        "after:cutover",
        "after:post-check",
    ],
)
def test_a_run_killed_anywhere_resumes_to_the_same_end_with_one_restore(
    platform: RunningPlatform, point: str
) -> None:
    target = _target_after_newest_backup(platform, timedelta(milliseconds=200))
    killed = _run(
        platform,
        "run",
        "rds-pitr",
        "--execute",
        "--param",
        f"target_time={_iso(target)}",
        env=kill_at_env(point),
    )
    assert killed.code == -9, killed.err  # SIGKILL
    run_id = _newest_run(platform)
    resumed = _run(platform, "resume", run_id, "-o", "json")
    assert resumed.code == 0, resumed.err
    record = json.loads(resumed.out)
    identifier = record["outputs"]["RestoredIdentifier"]
    assert record["status"] == "completed"
    journal = (platform.state_dir / "runs" / run_id / "journal.jsonl").read_text().splitlines()
    restores = [json.loads(line) for line in journal if '"step-completed"' in line and '"restore"' in line]
    assert len(restores) == 1  # exactly one restore
    assert identifier in _restores(platform)
    assert (
        _endpoint(platform)["port"]
        == json.loads((platform.state_dir / "restores" / identifier / "restored.json").read_text())[
            "restored_port"
        ]
    )


def test_sigterm_rolls_back_what_the_run_did(platform: RunningPlatform) -> None:
    before, restores = _endpoint(platform), _restores(platform)
    target = _iso(_target_after_newest_backup(platform, timedelta(milliseconds=200)))
    stopped = _run(
        platform,
        "run",
        "rds-pitr",
        "--execute",
        "--param",
        f"target_time={target}",
        env=kill_at_env("sigterm-after:restore"),
    )
    assert stopped.code == 130
    assert stopped.err.strip().splitlines() == ["error: interrupted"]
    assert _restores(platform) == restores and _endpoint(platform) == before  # the restore was undone
    journal = platform.state_dir / "runs" / _newest_run(platform) / "journal.jsonl"
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert events[-2:] == ["step-rolled-back", "run-interrupted"]


def test_a_drill_restores_measures_tears_down_and_publishes(
    platform: RunningPlatform, otlp: OtlpReceiver
) -> None:
    _target_after_newest_backup(platform, timedelta(0))  # a drill restores to now
    before = _endpoint(platform)
    telemetry = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint}
    result = run_cli("drill", "run", "rds-pitr", "-o", "json", env={**platform.env, **telemetry})
    assert result.code == 0, result.err
    drill = json.loads(result.out)
    assert drill["success"] and drill["objectives_met"]
    assert drill["rto_seconds"] > 0 and drill["rto_objective"] == 1800
    assert _endpoint(platform) == before  # a drill never cuts over
    assert not any(
        name.endswith(drill["drill_id"][-12:].lower()) for name in _restores(platform)
    )  # torn down
    history = json.loads(run_cli("drill", "history", "-o", "json", env=platform.env).out)
    assert history[-1]["drill_id"] == drill["drill_id"]
    metrics = platform.aws().client("cloudwatch").list_metrics(Namespace="PlatformOps/Drills")["Metrics"]
    assert {m["MetricName"] for m in metrics} >= {"DrillSuccess", "DrillRTOSeconds", "DrillRPOSeconds"}
    # The same figures over OTLP, for the gateway collector (CloudWatch through EMF, and AMP).
    labels = {"ops.environment": "local", "ops.component": "warehouse", "ops.runbook": "rds-pitr"}
    figures = {
        "ops.drill.recovery_time": drill["rto_seconds"],
        "ops.drill.recovery_point": drill["rpo_seconds"],
        "ops.drill.objectives_met": 1.0,
    }
    for metric, expected in figures.items():
        (point,) = otlp.points(metric)
        assert point.attributes == labels and point.value == pytest.approx(expected), metric


def test_a_late_drill_exits_4(platform: RunningPlatform, tmp_path: Path) -> None:
    _target_after_newest_backup(platform, timedelta(0))
    inventory = tmp_path / "platform.yaml"
    inventory.write_text(
        INVENTORY.read_text().replace(
            "    provider: local\n",
            "    provider: local\n    objectives: {warehouse: {rpo: 5m, rto: 1ms}}\n",
            1,
        )
    )
    result = run_cli(
        "--inventory", str(inventory), "drill", "run", "rds-pitr", "-o", "json", env=platform.env
    )
    assert result.code == 4
    drill = json.loads(result.out)
    assert drill["success"] and not drill["objectives_met"]


def test_the_end_of_a_run_is_published_to_the_sns_topic(platform: RunningPlatform) -> None:
    aws = platform.aws()
    queue = aws.client("sqs").create_queue(QueueName="runbook-notifications")["QueueUrl"]
    queue_arn = aws.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]
    topic = "arn:aws:sns:us-east-1:123456789012:dataplat-local-alerts-info"
    aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["QueueArn"])
    result = _run(
        platform, "run", "rds-pitr", "--param", f"target_time={_iso(datetime.now(UTC))}", "-o", "json"
    )
    assert result.code == 0, result.err
    messages = aws.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    bodies = [json.loads(json.loads(m["Body"])["Message"]) for m in messages.get("Messages", [])]
    assert [b["run_id"] for b in bodies] == [json.loads(result.out)["run_id"]]
    assert bodies[0]["status"] == "completed" and "password" not in json.dumps(bodies[0]).lower()


def test_down_stops_restored_databases_too(own_platform: RunningPlatform) -> None:
    """On a platform of its own: stopping the module's would stop the other cases' runs."""
    own, state_dir = own_platform, own_platform.state_dir
    target = _target_after_newest_backup(own, timedelta(milliseconds=200))
    restored = _run(
        own, "run", "rds-pitr", "--execute", "-p", f"target_time={_iso(target)}", "-p", "cutover=false"
    )
    assert restored.code == 0, restored.err
    postmasters = [
        int((data / "postmaster.pid").read_text().split()[0])
        for data in (state_dir / "restores").glob("*/data")
        if (data / "postmaster.pid").exists()
    ]
    assert postmasters and all(alive(pid) for pid in postmasters)
    pids = own.pids()
    assert run_cli("local", "down", env=own.env).code == 0
    assert not any(alive(pid) for pid in [*postmasters, *pids])
