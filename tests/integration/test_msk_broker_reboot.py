"""The msk-broker-reboot drill on the local platform's real Kafka (three KRaft brokers):
under ingest traffic every broker is restarted, one at a time, with no ingest error and
every acknowledged record in PostgreSQL; a second broker killed in the middle of the drill
trips a stop condition, the drill fails (exit 1) naming it and the broker it stopped runs
again; a bad parameter is one line and exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ops.errors import ExitCode
from ops.local.kafka import partition_health, quorum_leader
from ops.util.processes import running_pid, wait_until
from runbooks.msk_broker_reboot.rolling import CONDITIONS, UNDER_REPLICATED
from tests.broker_controls import KILLED_FILE, broker_pid_file, kill_broker_env
from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform, started_platform
from tests.integration.kafka_traffic import SteadyTraffic, stored_ids
from tests.runbook_controls import kill_at_env

NODES = (1, 2, 3)


@pytest.fixture(scope="module")
def kafka_platform(short_tmp: Path) -> Iterator[RunningPlatform]:
    with started_platform(short_tmp / "broker-reboot", kafka=True) as running:
        yield running


def _bootstrap(platform: RunningPlatform) -> str:
    parameter = "/dataplat/local/events/bootstrap-brokers"
    return str(platform.aws().client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"])


def _pids(platform: RunningPlatform) -> dict[int, int | None]:
    return {node: running_pid(broker_pid_file(platform.state_dir, "events", node)) for node in NODES}


def _whole(platform: RunningPlatform) -> bool:
    """Every broker in the cluster, every ISR whole, no partition offline, a controller."""
    bootstrap = _bootstrap(platform)
    try:
        health = partition_health(bootstrap)
    except Exception:
        return False
    controller = quorum_leader(bootstrap.split(",")[0]) is not None
    return health.live == set(NODES) and not health.under_replicated and not health.offline and controller


def _failed_records(platform: RunningPlatform) -> float:
    text = httpx.get(f"{platform.ingest_url}/metrics/", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "ingest_records"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("outcome") == "failed"
    )


def _journal(platform: RunningPlatform, run_id: str) -> list[dict[str, Any]]:
    path = platform.state_dir / "runs" / run_id / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_drill_restarts_every_broker_in_turn_under_traffic_with_no_ingest_error(
    kafka_platform: RunningPlatform,
) -> None:
    platform = kafka_platform
    wait_until(lambda: _whole(platform), 120, "the cluster whole before the drill")
    before = _pids(platform)
    failed_before = _failed_records(platform)
    with SteadyTraffic(platform, "broker-reboot", rate=20) as traffic:
        wait_until(lambda: len(traffic.acknowledged) >= 10, 60, "traffic flowing")
        posted_before = len(traffic.acknowledged) + len(traffic.refused)
        result = run_cli(
            "drill", "run", "msk-broker-reboot", "--env", "local", "--component", "events",
            "--output", "json", env=platform.env,
        )  # fmt: skip
        posted_during = len(traffic.acknowledged) + len(traffic.refused) - posted_before
    assert result.code == 0, result.err
    drill = json.loads(result.out)
    assert drill["success"] and drill["objectives_met"], drill
    assert drill["rpo_seconds"] == 0.0 and drill["rto_seconds"] > 0
    # Traffic went on through every reboot, and not one record failed.
    assert posted_during > 0
    assert not traffic.refused, traffic.refused
    assert _failed_records(platform) == failed_before
    wait_until(
        lambda: set(traffic.acknowledged) <= stored_ids(platform), 90, "every acknowledged record stored"
    )
    # Each broker really restarted (a new process), one at a time, in order.
    after = _pids(platform)
    assert all(after[node] is not None and after[node] != before[node] for node in NODES), (before, after)
    outputs = next(e for e in _journal(platform, drill["run_id"]) if e["event"] == "run-completed")["outputs"]
    assert outputs["BrokersRebooted"] == list(NODES)
    assert drill["rto_seconds"] == max(outputs["SecondsPerBroker"].values())
    stops = [e for e in _journal(platform, drill["run_id"]) if e["event"] == "step-noted"]
    order = [e["fields"]["stopping"] for e in stops if e["fields"].get("stopping") is not None]
    assert order == list(NODES)
    # Every partition's ISR is whole again at the end.
    health = partition_health(_bootstrap(platform))
    assert health.live == set(NODES) and not health.under_replicated and not health.offline


def test_a_second_broker_lost_mid_drill_stops_it_and_the_broker_it_stopped_runs_again(
    kafka_platform: RunningPlatform,
) -> None:
    platform = kafka_platform
    wait_until(lambda: _whole(platform), 120, "the cluster whole before the drill")
    before = _pids(platform)
    try:
        result = run_cli(
            "drill", "run", "msk-broker-reboot", "--env", "local", "--component", "events",
            env={**platform.env, **kill_broker_env("events", "during:reboot-brokers")},
        )  # fmt: skip
        assert result.code == ExitCode.FAILURE, result.err
        (line,) = result.err.strip().splitlines()
        assert "stopped at broker 1 of events: " in line, line
        assert any(f": {condition}: " in line for condition in CONDITIONS), line
        # Broker 2 killed: partitions lack it, past the grace period (ISR shrinks, leaders move).
        assert f": {UNDER_REPLICATED}: " in line and "lacks broker 2" in line, line
        killed, killed_pid = map(int, (platform.state_dir / KILLED_FILE).read_text().split())
        assert killed == 2 and killed_pid == before[2]
        # The broker the drill stopped is running again (a new process), the killed one not.
        now = _pids(platform)
        assert now[1] is not None and now[1] != before[1]
        assert now[2] is None
        history = json.loads(run_cli("drill", "history", "--output", "json", env=platform.env).out)
        assert history[-1]["status"] == "failed" and UNDER_REPLICATED in history[-1]["error"]
        journal = _journal(platform, history[-1]["run_id"])
        (undone,) = [e for e in journal if e["event"] == "step-rolled-back" and e["step"] == "reboot-brokers"]
        assert undone["kept"]["broker"] == 1
        assert journal[-1]["event"] == "run-failed"
    finally:
        up = run_cli("local", "up", env=platform.env)
        assert up.code == 0, up.err
    wait_until(lambda: _whole(platform), 120, "every broker back, every ISR whole")


@pytest.mark.parametrize(
    ("params", "says"),
    [
        (("-p", "cluster=warehouse"), "--param cluster: 'warehouse' is not an msk component"),
        (("-p", "grace_seconds=-1"), "--param grace_seconds: Input should be greater than or equal to 0"),
        (("-p", "brokers=1,1"), "--param brokers: name each broker id once"),
        (("-p", "bogus=1"), "--param bogus: unknown parameter"),
        (("-p", "brokers=7"), "--param brokers: 7 not a broker of events (brokers: 1, 2, 3)"),
    ],
)
def test_a_bad_parameter_is_one_line_and_exit_2(
    kafka_platform: RunningPlatform, params: tuple[str, ...], says: str
) -> None:
    result = run_cli("runbook", "run", "msk-broker-reboot", "--env", "local", *params, env=kafka_platform.env)
    assert result.code == ExitCode.BAD_INPUT, result.err
    (line,) = result.err.strip().splitlines()
    assert says in line, line


def test_a_component_that_is_not_msk_cannot_be_drilled(kafka_platform: RunningPlatform) -> None:
    result = run_cli(
        "drill",
        "run",
        "msk-broker-reboot",
        "--env",
        "local",
        "--component",
        "warehouse",
        env=kafka_platform.env,
    )
    assert result.code == ExitCode.BAD_INPUT, result.err
    (line,) = result.err.strip().splitlines()
    assert "--component 'warehouse': msk-broker-reboot drills an msk component" in line


def test_a_run_killed_while_a_broker_reboots_resumes_without_rebooting_it_twice(
    kafka_platform: RunningPlatform,
) -> None:
    """SIGKILL once the first broker was restarted, before it is waited for: `resume` waits
    for it (no second restart) and reboots the others, each once."""
    platform = kafka_platform
    wait_until(lambda: _whole(platform), 180, "the cluster whole before the run")
    before = _pids(platform)
    killed = run_cli(
        "runbook", "run", "msk-broker-reboot", "--env", "local", "--execute",
        env={**platform.env, **kill_at_env("during:reboot-brokers")},
    )  # fmt: skip
    assert killed.code == -9, killed.err
    first = _pids(platform)[1]
    assert first is not None and first != before[1]  # restarted by the killed run
    run_id = max((platform.state_dir / "runs").iterdir(), key=lambda p: p.stat().st_mtime).name
    resumed = run_cli("runbook", "resume", run_id, "--output", "json", env=platform.env)
    assert resumed.code == 0, resumed.err
    after = _pids(platform)
    assert after[1] == first  # waited for, not restarted again
    assert all(after[node] not in (None, before[node]) for node in (2, 3)), (before, after)
    completed = [e["step"] for e in _journal(platform, run_id) if e["event"] == "step-completed"]
    assert completed.count("reboot-brokers") == 1
    wait_until(lambda: _whole(platform), 120, "the cluster whole after the run")
