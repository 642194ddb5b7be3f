"""Drills that ran elsewhere (a scheduled ECS task, whose state folder is gone with it) seen
from an operator's machine: their figures are published with the real `publish` into the
emulator's CloudWatch (a server over HTTP), then `ops drill due` and `ops dr assess` on an
aws environment, with an empty state folder, read them back with GetMetricData.

With IAM enforced (moto's INITIAL_NO_AUTH_ACTION_COUNT, as in test_iam_enforced.py), a user
without cloudwatch:GetMetricData gets one warning line naming it, and both commands go on
with the local history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.aws.clients import ClientFactory
from ops.runbook.drill import DrillResult, publish
from tests.helpers import INVENTORY, Result, run_cli
from tests.integration.conftest import emulator_server
from tests.integration.test_iam_enforced import enforced_emulator

PERIOD = 300  # staging's longest drill period is a month: 5-minute points (1-minute ones last 15 days)


@pytest.fixture(scope="module")
def emulator(short_tmp: Path) -> Iterator[tuple[ClientFactory, dict[str, str]]]:
    with emulator_server(short_tmp) as running:
        yield running


@pytest.fixture
def world(
    emulator: tuple[ClientFactory, dict[str, str]], tmp_path: Path
) -> tuple[ClientFactory, dict[str, str]]:
    """The module's emulator emptied (no metric of an earlier test), and a state folder of
    this test's own: the operator's machine has never run a drill."""
    factory, env = emulator
    httpx.post(f"{env['OPS_AWS_ENDPOINT_URL']}/moto-api/reset", timeout=10).raise_for_status()
    return factory, {**env, "OPS_STATE_DIR": str(tmp_path / "state")}


def _published(
    cloudwatch: Any,
    component: str,
    runbook: str,
    days_ago: float,
    met: bool = True,
    rto: float | None = 600.0,
    rpo: float | None = 60.0,
) -> datetime:
    """A drill as a scheduled task publishes it at its end, that end `days_ago` days back."""
    ended = datetime.now(UTC) - timedelta(days=days_ago)
    result = DrillResult(
        drill_id=f"drill-{component}-{days_ago}",
        runbook=runbook,
        environment="staging",
        component=component,
        started_at=(ended - timedelta(seconds=rto or 60)).isoformat(),
        success=met,
        rto_seconds=rto if met else None,
        rpo_seconds=rpo if met else None,
        rto_objective=None,
        rpo_objective=None,
        run_id=f"drill-{component}-{days_ago}",
        status="completed" if met else "failed",
        ended_at=ended.isoformat(),
    )
    publish(cloudwatch, result)  # stamped at its end
    return ended


def _due(env: dict[str, str]) -> tuple[Result, dict[str, Any]]:
    result = run_cli("drill", "due", "--env", "staging", "-o", "json", env=env)
    assert result.code in (0, 4), result.err
    return result, json.loads(result.out)


def _by_drill(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["component"], d["runbook"]): d for d in data["drills"]}


def _no_replicator_inventory(folder: Path) -> Path:
    """Staging without its MSK replicator: the emulator has none to assess (ListReplicators)."""
    text = INVENTORY.read_text()
    old = "  staging:\n    provider: aws\n    protected: false\n    components:\n"
    assert old in text
    path = folder / "platform.yaml"
    path.write_text(text.replace(old, old + "      events_replicator: null\n", 1))
    return path


def test_drills_published_elsewhere_keep_the_policy_from_being_overdue(
    world: tuple[ClientFactory, dict[str, str]],
) -> None:
    factory, env = world
    before, data = _due(env)
    assert before.code == 4  # no history here, nothing in CloudWatch: both drills overdue
    assert all(d["overdue"] and d["last_outcome"] == "never run" for d in data["drills"])
    assert data["cloudwatch"]["read"] is True and data["cloudwatch"]["points"] == 0

    cloudwatch = factory.client("cloudwatch")
    warehouse_end = _published(cloudwatch, "warehouse", "rds-pitr", days_ago=2)
    # Older than the 15 days 1-minute points live: read from 5-minute points.
    _published(cloudwatch, "events", "msk-broker-reboot", days_ago=20)
    after, data = _due(env)
    assert after.code == 0, data
    warehouse = _by_drill(data)[("warehouse", "rds-pitr")]
    assert not warehouse["overdue"] and warehouse["last_outcome"] == "met"
    passed = datetime.fromisoformat(warehouse["last_passed"])
    assert passed <= warehouse_end < passed + timedelta(seconds=PERIOD)  # the point's period
    assert datetime.fromisoformat(warehouse["due_at"]) == passed + timedelta(days=7)
    assert not _by_drill(data)[("events", "msk-broker-reboot")]["overdue"]
    assert data["cloudwatch"] == {
        "read": True,
        "points": 2,
        "period_seconds": PERIOD,
        "lookback_days": 31.0,
        "warning": None,
    }
    assert not (Path(env["OPS_STATE_DIR"]) / "drills" / "history.jsonl").exists()

    text = run_cli("drill", "due", "--env", "staging", env=env)
    assert text.code == 0 and "0 of 2 overdue" in text.out and "2 CloudWatch points" in text.out


def test_a_failed_drill_after_a_pass_is_the_last_outcome_and_the_pass_still_counts(
    world: tuple[ClientFactory, dict[str, str]],
) -> None:
    factory, env = world
    cloudwatch = factory.client("cloudwatch")
    _published(cloudwatch, "warehouse", "rds-pitr", days_ago=3)
    _published(cloudwatch, "warehouse", "rds-pitr", days_ago=1, met=False)
    result, data = _due(env)
    warehouse = _by_drill(data)[("warehouse", "rds-pitr")]
    assert not warehouse["overdue"] and warehouse["last_outcome"] == "failed"
    # The events cluster's monthly drill published nothing: still overdue, exit 4.
    assert result.code == 4 and _by_drill(data)[("events", "msk-broker-reboot")]["overdue"]


def test_dr_assess_shows_the_last_drill_measured_in_cloudwatch_and_counts_the_read(
    world: tuple[ClientFactory, dict[str, str]], tmp_path: Path
) -> None:
    factory, env = world
    ended = _published(factory.client("cloudwatch"), "warehouse", "rds-pitr", days_ago=1, rto=640.0, rpo=95.0)
    inventory = _no_replicator_inventory(tmp_path)
    result = run_cli("--inventory", str(inventory), "dr", "assess", "--env", "staging", "-o", "json", env=env)
    # Nothing else of staging is in the emulator: unprotected (exit 4), judged as usual.
    assert result.code == 4, result.err
    data = json.loads(result.out)
    warehouse = next(c for c in data["components"] if c["component"] == "warehouse")
    drill = warehouse["last_drill"]
    assert drill["source"] == "cloudwatch" and drill["runbook"] == "rds-pitr"
    assert drill["rto_seconds"] == 640.0 and drill["rpo_seconds"] == 95.0 and drill["objectives_met"] is True
    start = datetime.fromisoformat(drill["ended_at"])
    assert start <= ended < start + timedelta(seconds=PERIOD)
    # One GetMetricData call for every series, counted with the assessment's other reads.
    assert data["calls"]["calls"]["cloudwatch:GetMetricData"] == 1
    assert data["cloudwatch_drills"]["read"] is True and data["cloudwatch_drills"]["points"] == 1
    report = Path(data["report"]).with_suffix(".md").read_text()
    assert drill["drill_id"] in report  # the report's last drill names it a CloudWatch point

    text = run_cli("--inventory", str(inventory), "dr", "assess", "--env", "staging", "--stats", env=env)
    assert text.code == 4 and "1 CloudWatch points" in text.out and "AWS read calls:" in text.out


def _allow(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_without_get_metric_data_both_commands_warn_once_and_go_on_with_local_history(
    short_tmp: Path, tmp_path: Path
) -> None:
    with enforced_emulator(short_tmp) as (admin, _administrator, port):
        _published(admin.client("cloudwatch"), "warehouse", "rds-pitr", days_ago=1)
        _published(admin.client("cloudwatch"), "events", "msk-broker-reboot", days_ago=1)
        iam = admin.client("iam")
        iam.create_user(UserName="operator")
        key = iam.create_access_key(UserName="operator")["AccessKey"]
        # Everything but GetMetricData (moto names CloudWatch's actions `monitoring:`).
        everything = {"Effect": "Allow", "Action": "*", "Resource": "*"}
        denied = {"Effect": "Deny", "Action": "monitoring:GetMetricData", "Resource": "*"}
        iam.put_user_policy(UserName="operator", PolicyName="ops", PolicyDocument=_allow(everything, denied))
        env = {
            "OPS_AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "OPS_STATE_DIR": str(tmp_path / "state"),
        }

        due = run_cli("drill", "due", "--env", "staging", env=env)
        assert due.code == 4, due.err  # this machine's history only: both overdue
        warnings = [line for line in due.err.splitlines() if line.strip()]
        assert len(warnings) == 1 and "Traceback" not in due.err
        assert "cloudwatch:GetMetricData denied (AccessDenied)" in warnings[0]
        assert "using this machine's drill history only" in warnings[0]
        assert "2 of 2 overdue" in due.out

        inventory = _no_replicator_inventory(tmp_path)
        assess = run_cli(
            "--inventory", str(inventory), "dr", "assess", "--env", "staging", "-o", "json", env=env
        )
        assert assess.code == 4, assess.err
        assert "cloudwatch:GetMetricData denied (AccessDenied)" in assess.err
        data = json.loads(assess.out)
        assert data["cloudwatch_drills"]["read"] is False
        assert all(c["last_drill"] is None for c in data["components"])

        # Granted it, the same operator sees the drills that ran elsewhere.
        iam.put_user_policy(UserName="operator", PolicyName="ops", PolicyDocument=_allow(everything))
        granted = run_cli("drill", "due", "--env", "staging", env=env)
        assert granted.code == 0, granted.out + granted.err
        assert "warning" not in granted.err
