"""msk-failover and msk-failback on the local platform's real Kafka: two clusters,
MirrorMaker 2 both ways, the ingest service producing and the loader consuming, under
traffic. Every acknowledged record ends in PostgreSQL once and on both clusters once; the
consumers resume from translated offsets; a failure after the switch is rolled back with
what DR took copied back; a run killed at any step boundary resumes to the same end with no
step done twice."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest

from ops.contracts import KafkaEndpoint
from ops.local.mirror import MAIN_CLASS
from ops.util.processes import wait_until
from tests.helpers import Result, run_cli
from tests.integration.conftest import RunningPlatform, started_platform
from tests.integration.kafka_traffic import (
    KEYS,
    TABLES,
    TOPICS,
    SteadyTraffic,
    Traffic,
    key_counts,
    stored_ids,
)
from tests.runbook_controls import fail_at_env, kill_at_env, kill_process_env

PARAMETER = "/dataplat/local/events/endpoint"


@pytest.fixture(scope="module")
def kafka_platform(short_tmp: Path) -> Iterator[RunningPlatform]:
    with started_platform(short_tmp / "failover-platform", kafka=True) as running:
        yield running


def _runbook(platform: RunningPlatform, *args: str, env: dict[str, str] | None = None) -> Result:
    return run_cli("runbook", *args, env={**platform.env, **(env or {})})


def _endpoint(platform: RunningPlatform) -> KafkaEndpoint:
    value = platform.aws().client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    return KafkaEndpoint.from_json(value)


def _bootstrap(platform: RunningPlatform, cluster: str) -> str:
    name = f"/dataplat/local/{cluster}/bootstrap-brokers"
    return str(platform.aws().client("ssm").get_parameter(Name=name)["Parameter"]["Value"])


def _reverse_jvms(platform: RunningPlatform) -> list[int]:
    """The MirrorMaker 2 processes of a reverse replicator."""
    properties = str(platform.state_dir / "kafka" / "mirror-events_replicator-reverse" / "mm2.properties")
    return [
        p.info["pid"]
        for p in psutil.process_iter(["pid", "cmdline"])
        if MAIN_CLASS in (p.info["cmdline"] or []) and properties in (p.info["cmdline"] or [])
    ]


def _stored_twice(platform: RunningPlatform) -> int:
    with psycopg.connect(platform.pg_conninfo) as conn:
        total = 0
        for record_type, table in TABLES.items():
            key = KEYS[record_type]
            row = conn.execute(f"SELECT count(*) - count(DISTINCT {key}) FROM {table}").fetchone()
            total += int(row[0]) if row else 0
        return total


def _completed(result: Result) -> dict[str, Any]:
    assert result.code == 0, result.err
    record: dict[str, Any] = json.loads(result.out)
    assert record["status"] == "completed", record
    return record


def _on_primary(platform: RunningPlatform) -> None:
    """The clients on the primary, nothing held, no reverse replicator left."""
    endpoint = _endpoint(platform)
    assert (endpoint.cluster, endpoint.producers_paused, endpoint.consumers_stopped) == (
        "events",
        False,
        False,
    )
    platform.refresh()
    assert platform.record["kafka_reverse"] == {} and platform.record["kafka_holds"] == {}
    assert _reverse_jvms(platform) == []


def _everything_once(platform: RunningPlatform, acknowledged: set[str]) -> None:
    """Every acknowledged record in PostgreSQL and on both clusters, each once."""
    wait_until(lambda: acknowledged <= stored_ids(platform), 90, "every acknowledged record stored")
    assert _stored_twice(platform) == 0
    for cluster in ("events", "events_dr"):
        bootstrap = _bootstrap(platform, cluster)

        def replicated(bootstrap: str = bootstrap, cluster: str = cluster) -> bool:
            counts = key_counts(bootstrap, list(TOPICS.values()), f"check-{cluster}-{os.urandom(4).hex()}")
            return acknowledged <= set(counts)

        wait_until(replicated, 90, f"every acknowledged record on {cluster}")
        counts = key_counts(bootstrap, list(TOPICS.values()), f"count-{cluster}-{os.urandom(4).hex()}")
        twice = {key: n for key, n in counts.items() if key in acknowledged and n > 1}
        assert twice == {}, f"{cluster}: records on the cluster more than once (a loop?)"


def test_a_planned_failover_and_failback_under_traffic_keep_every_acknowledged_record_once(
    kafka_platform: RunningPlatform,
) -> None:
    with SteadyTraffic(kafka_platform, "failover-traffic", rate=40) as traffic:
        wait_until(lambda: len(traffic.acknowledged) >= 40, 60, "traffic flowing on the primary")
        failover = _completed(_runbook(kafka_platform, "run", "msk-failover", "--execute", "-o", "json"))
        assert _endpoint(kafka_platform).cluster == "events_dr"
        assert len(_reverse_jvms(kafka_platform)) == 1
        on_dr = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= on_dr + 40, 60, "traffic flowing on DR")
        failback = _completed(_runbook(kafka_platform, "run", "msk-failback", "--execute", "-o", "json"))
        back = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= back + 40, 60, "traffic flowing on the primary again")
    _on_primary(kafka_platform)
    _everything_once(kafka_platform, set(traffic.acknowledged))
    for run in (failover, failback):
        outputs = run["outputs"]
        assert outputs["StoredTwice"] == 0
        assert outputs["RecoveryPoint"] == {"messages": 0, "seconds": 0.0}
        assert outputs["WriteUnavailableSeconds"] > 0 and outputs["ConsumerPauseSeconds"] > 0
        # Re-reads on the new cluster: only what the offset translation said would be read again.
        assert outputs["DuplicatesDelivered"] <= sum(outputs["ExpectedRereads"].values())
    assert failover["outputs"]["ActiveCluster"] == "events_dr"
    assert failback["outputs"]["ActiveCluster"] == "events"
    # Refused records were answered 503 while the producers were held, never 2xx.
    assert set(traffic.refused.values()) <= {503}
    moved, back_out = failover["outputs"], failback["outputs"]
    print(
        f"failover: write unavailability {moved['WriteUnavailableSeconds']} s (clients saw a longest "
        f"gap of {traffic.longest_gap():.2f} s over both moves), consumers paused "
        f"{moved['ConsumerPauseSeconds']} s, duplicates {moved['DuplicatesDelivered']}; "
        f"failback: {back_out['WriteUnavailableSeconds']} s"
    )


def test_a_failback_without_a_failover_and_a_second_failover_are_refused_changing_nothing(
    kafka_platform: RunningPlatform,
) -> None:
    refused = _runbook(kafka_platform, "run", "msk-failback", "--execute")
    assert refused.code != 0 and "no failover to fail back" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    _on_primary(kafka_platform)
    bad = _runbook(kafka_platform, "run", "msk-failover", "--param", "replicator=events", "--execute")
    assert bad.code == 2 and "is not an msk_replicator component" in bad.err
    _on_primary(kafka_platform)


def test_a_replicator_behind_its_objective_is_refused_before_anything_changes(
    kafka_platform: RunningPlatform,
) -> None:
    mirror_pid = int(
        (kafka_platform.state_dir / "kafka" / "mirror-events_replicator" / "mm2.pid").read_text()
    )
    os.kill(mirror_pid, signal.SIGSTOP)  # frozen: what comes now is not replicated
    try:
        traffic = Traffic(kafka_platform, "behind-objective")
        traffic.send(10, threads=2)
        assert len(traffic.acknowledged) == 10
        result = _runbook(
            kafka_platform,
            "run",
            "msk-failover",
            "--execute",
            "--param",
            "replication_objective_seconds=2",
        )
        assert result.code != 0
        assert "did not catch up" in result.err and "records behind" in result.err
    finally:
        os.kill(mirror_pid, signal.SIGCONT)
    _on_primary(kafka_platform)
    journal = max((kafka_platform.state_dir / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    events = [json.loads(line) for line in (journal / "journal.jsonl").read_text().splitlines()]
    started = [e["step"] for e in events if e["event"] == "step-started"]
    assert "pause-producers" not in started  # refused in the pre-flight: nothing held


def test_a_failure_after_the_switch_is_rolled_back_with_what_dr_took_copied_back(
    kafka_platform: RunningPlatform,
) -> None:
    with SteadyTraffic(kafka_platform, "rollback-traffic", rate=40) as traffic:
        wait_until(lambda: len(traffic.acknowledged) >= 20, 60, "traffic flowing")
        # The producers resumed on DR and took records; then the run fails.
        failed = _runbook(
            kafka_platform, "run", "msk-failover", "--execute", env=fail_at_env("after:resume-producers")
        )
        assert failed.code == 1, failed.err
        assert "injected failure" in failed.err
        after = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= after + 20, 60, "traffic flowing on the primary")
    _on_primary(kafka_platform)
    journal = max((kafka_platform.state_dir / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    events = [json.loads(line) for line in (journal / "journal.jsonl").read_text().splitlines()]
    undone = [e["step"] for e in events if e["event"] == "step-rolled-back"]
    assert undone == [
        "resume-producers",
        "start-consumers",
        "switch",
        "approve-failover",
        "create-reverse",
        "stop-consumers",
        "pause-producers",
    ]
    _everything_once(kafka_platform, set(traffic.acknowledged))


def _pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def test_an_unplanned_failover_lists_exactly_the_stranded_records_and_the_failback_republishes_them(
    kafka_platform: RunningPlatform,
) -> None:
    """The primary's brokers SIGKILLed under traffic, its replicator behind: the run completes
    on DR and lists, by id, the acknowledged records that never reached DR, exactly those the
    producers' own acknowledgements say; once the primary is back, the failback re-publishes
    them (approved) and PostgreSQL is complete."""
    kafka = kafka_platform.state_dir / "kafka"
    mirror = kafka / "mirror-events_replicator" / "mm2.pid"
    with SteadyTraffic(kafka_platform, "unplanned-traffic", rate=40, limit=600) as traffic:
        wait_until(lambda: len(traffic.acknowledged) >= 40, 60, "traffic flowing on the primary")
        os.kill(_pid(mirror), signal.SIGSTOP)  # the replicator falls behind...
        frozen_at = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= frozen_at + 20, 60, "records DR does not have")
        for broker in sorted(kafka.glob("events/broker-*/broker.pid")):  # ...and the primary is lost
            os.kill(_pid(broker), signal.SIGKILL)
        os.kill(_pid(mirror), signal.SIGCONT)
        # Killed at its own steps' boundaries on the way: it resumes to the same end.
        failover = _killed_at_each(
            kafka_platform,
            "msk-failover",
            ["during:detach-replicator", "during:record-recovery-point", "during:switch"],
            "--param",
            "mode=unplanned",
        )
        on_dr = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= on_dr + 20, 60, "traffic flowing on DR")
        acknowledged_on = dict(traffic.acknowledged_on)

        # What the producers acknowledged on the primary that DR does not hold: the run's list.
        dr_keys = set(
            key_counts(_bootstrap(kafka_platform, "events_dr"), list(TOPICS.values()), "stranded-check")
        )
        expected = {key for key, cluster in acknowledged_on.items() if cluster == "events"} - dr_keys
        point = json.loads(Path(failover["outputs"]["StrandedRecords"]).read_text())
        assert expected, "the frozen replicator left no record behind: the test proves nothing"
        assert {ack["id"] for ack in point["stranded"]} == expected
        assert failover["outputs"]["RecoveryPoint"]["messages"] == len(expected)
        assert failover["outputs"]["RecoveryPoint"]["seconds"] > 0
        platform_status = run_cli("local", "status", "-o", "json", env=kafka_platform.env)
        assert "detached by run" in platform_status.out

        # The primary comes back; the replicator stays detached until the failback says so.
        up = run_cli("local", "up", env=kafka_platform.env)
        assert up.code == 0, up.err
        assert _endpoint(kafka_platform).cluster == "events_dr"
        failback = _killed_at_each(
            kafka_platform, "msk-failback", ["during:create-reverse", "during:republish", "during:switch"]
        )
        back = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= back + 20, 60, "traffic flowing on the primary again")
    run = failback["run_id"]
    journal = (kafka_platform.state_dir / "runs" / run / "journal.jsonl").read_text().splitlines()
    outputs = {
        json.loads(line)["step"]: json.loads(line)["outputs"]
        for line in journal
        if '"step-completed"' in line
    }
    assert outputs["check-stranded"]["stranded"] == outputs["check-stranded"]["on_primary"] == len(expected)
    assert outputs["republish"]["republished"] == len(expected)
    assert "approve-republish" in outputs
    _on_primary(kafka_platform)
    wait_until(lambda: set(traffic.acknowledged) <= stored_ids(kafka_platform), 90, "PostgreSQL complete")
    assert _stored_twice(kafka_platform) == 0


def test_an_unplanned_run_aborted_before_the_switch_reattaches_the_replicator_and_forgets_its_point(
    kafka_platform: RunningPlatform,
) -> None:
    """The primary lost, an unplanned failover killed before the switch, the primary back:
    `ops runbook abort` undoes it, newest first. The clients stay on the primary, released;
    the recovery point is forgotten; the replicator is attached again and copies what it had
    not, so every acknowledged record ends on both clusters and in PostgreSQL once."""
    kafka = kafka_platform.state_dir / "kafka"
    mirror = kafka / "mirror-events_replicator" / "mm2.pid"
    with SteadyTraffic(kafka_platform, "aborted-traffic", rate=40, limit=400) as traffic:
        wait_until(lambda: len(traffic.acknowledged) >= 20, 60, "traffic flowing on the primary")
        os.kill(_pid(mirror), signal.SIGSTOP)
        frozen_at = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= frozen_at + 10, 60, "records DR does not have")
        for broker in sorted(kafka.glob("events/broker-*/broker.pid")):
            os.kill(_pid(broker), signal.SIGKILL)
        os.kill(_pid(mirror), signal.SIGCONT)
        killed = _runbook(
            kafka_platform,
            "run",
            "msk-failover",
            "--param",
            "mode=unplanned",
            "--execute",
            env=kill_at_env("before:switch"),
        )
        assert killed.code == -9, killed.err
        run_id = max((kafka_platform.state_dir / "runs").iterdir(), key=lambda p: p.stat().st_mtime).name
        kafka_platform.refresh()
        assert kafka_platform.record["kafka_detached"] == {"events_replicator": run_id}
        stranded = kafka_platform.record["kafka_stranded"]
        assert isinstance(stranded, dict) and stranded["events"]["run_id"] == run_id

        up = run_cli("local", "up", env=kafka_platform.env)  # the primary is back
        assert up.code == 0, up.err
        aborted = _runbook(kafka_platform, "abort", run_id)
        assert aborted.code == 0, aborted.err
        after = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= after + 20, 60, "traffic flowing on the primary")
    _on_primary(kafka_platform)
    assert kafka_platform.record["kafka_detached"] == {} and kafka_platform.record["kafka_stranded"] == {}
    events = [
        json.loads(line)
        for line in (kafka_platform.state_dir / "runs" / run_id / "journal.jsonl").read_text().splitlines()
    ]
    undone = [e["step"] for e in events if e["event"] == "step-rolled-back"]
    assert undone.index("record-recovery-point") < undone.index("detach-replicator")
    assert {"stop-consumers", "pause-producers"} <= set(undone)
    assert "switch" not in undone  # it never ran
    _everything_once(kafka_platform, set(traffic.acknowledged))


FAILOVER_POINTS = [
    "during:pause-producers",
    "during:wait-replicated",
    "during:stop-consumers",
    "during:wait-offsets-synced",
    "during:create-reverse",
    "before:switch",
    "during:switch",
    "during:start-consumers",
    "during:resume-producers",
    "after:post-check",
]
FAILBACK_POINTS = [
    "during:pause-producers",
    "during:wait-replicated",
    "during:stop-consumers",
    "during:wait-offsets-synced",
    "during:switch",
    "during:start-consumers",
    "during:resume-producers",
    "during:delete-reverse",
]


def _killed_at_each(
    platform: RunningPlatform, runbook: str, points: list[str], *params: str
) -> dict[str, Any]:
    """A run SIGKILLed at the first point, resumed and killed at the next, and so on; then
    resumed to its end. Its journal: every step completed once."""
    killed = _runbook(platform, "run", runbook, *params, "--execute", env=kill_at_env(points[0]))
    assert killed.code == -9, killed.err
    run_id = max((platform.state_dir / "runs").iterdir(), key=lambda p: p.stat().st_mtime).name
    for point in points[1:]:
        again = _runbook(platform, "resume", run_id, env=kill_at_env(point))
        assert again.code == -9, f"{point}: {again.err}"
    record = _completed(_runbook(platform, "resume", run_id, "-o", "json"))
    lines = (platform.state_dir / "runs" / run_id / "journal.jsonl").read_text().splitlines()
    completed = [json.loads(line)["step"] for line in lines if '"step-completed"' in line]
    assert len(completed) == len(set(completed)), completed  # no step done twice
    return record


def test_runs_killed_at_every_step_boundary_resume_to_the_same_end_with_no_step_done_twice(
    kafka_platform: RunningPlatform,
) -> None:
    with SteadyTraffic(kafka_platform, "killed-traffic", rate=20) as traffic:
        wait_until(lambda: len(traffic.acknowledged) >= 20, 60, "traffic flowing")
        failover = _killed_at_each(kafka_platform, "msk-failover", FAILOVER_POINTS)
        assert _endpoint(kafka_platform) == KafkaEndpoint(
            "events_dr", _bootstrap(kafka_platform, "events_dr")
        )
        assert len(_reverse_jvms(kafka_platform)) == 1  # one reverse replicator, not two
        assert failover["outputs"]["ActiveCluster"] == "events_dr"
        on_dr = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= on_dr + 20, 60, "traffic flowing on DR")
        _killed_at_each(kafka_platform, "msk-failback", FAILBACK_POINTS)
        back = len(traffic.acknowledged)
        wait_until(lambda: len(traffic.acknowledged) >= back + 20, 60, "traffic flowing on the primary")
    _on_primary(kafka_platform)
    _everything_once(kafka_platform, set(traffic.acknowledged))


def test_dr_losing_its_broker_during_the_run_stops_it_and_rolls_it_back(
    kafka_platform: RunningPlatform,
) -> None:
    """The stop condition: the cluster the clients move to loses its broker once the run has
    held the producers; the run stops before its next step naming it, its holds are released
    on the primary, and `ops local up` brings the broker back."""
    broker = kafka_platform.state_dir / "kafka" / "events_dr" / "broker-1" / "broker.pid"
    runs = kafka_platform.state_dir / "runs"
    before = set(runs.glob("msk-failover-*/journal.jsonl"))
    stopped = _runbook(
        kafka_platform,
        "run",
        "msk-failover",
        "--execute",
        env=kill_process_env(str(broker), "after:pause-producers"),
    )
    assert stopped.code == 1, stopped.err
    assert "Kafka cluster events_dr lost broker(s) 1" in stopped.err
    journal = max(set(runs.glob("msk-failover-*/journal.jsonl")) - before, key=lambda p: p.stat().st_mtime)
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [e["condition"] for e in events if e["event"] == "stop-condition"] == ["destination cluster whole"]
    assert "switch" not in {e.get("step") for e in events if e["event"] == "step-started"}
    assert "pause-producers" in {e.get("step") for e in events if e["event"] == "step-rolled-back"}
    up = run_cli("local", "up", env=kafka_platform.env)
    assert up.code == 0, up.err
    _on_primary(kafka_platform)
