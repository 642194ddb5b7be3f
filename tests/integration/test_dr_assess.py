"""`ops dr assess` on the local platform with Kafka: before any drill every assessed
component is protected as configured only; a drill that meets its objectives makes the
warehouse protected as measured; a stopped replicator or backups turned off make a component
unprotected (exit 4). The read calls are counted, one listing per kind of resource."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Result, run_cli
from tests.integration.conftest import RunningPlatform, started_platform
from tests.integration.test_drill_failures import _after_newest_backup

WAREHOUSE = "dataplat-local-warehouse"


@pytest.fixture(scope="module")
def kafka_platform(short_tmp: Path) -> Iterator[RunningPlatform]:
    with started_platform(short_tmp / "assess-platform", kafka=True) as running:
        applied = run_cli("observe", "apply", "--env", "local", "--auto-approve", env=running.env)
        assert applied.code == 0, applied.err  # the recovery alarms the assessment looks for
        yield running


def _assess(platform: RunningPlatform) -> tuple[Result, dict[str, Any]]:
    result = run_cli("dr", "assess", "--env", "local", "-o", "json", env=platform.env)
    assert result.code in (0, 4), result.err
    return result, json.loads(result.out)


def _reasons(data: dict[str, Any], component: str) -> list[str]:
    return next(c["reasons"] for c in data["components"] if c["component"] == component)


def test_readiness_follows_what_is_configured_and_what_drills_measured(
    kafka_platform: RunningPlatform,
) -> None:
    before, data = _assess(kafka_platform)
    assert before.code == 0, data
    assert data["verdicts"] == {
        "warehouse": "protected as configured only",
        "events": "protected as configured only",
        "lake": "protected as configured only",
    }
    assert "documents" in data["not_assessed"]  # the emulator has no DocumentDB
    # One listing per kind of resource, however many components: the read calls counted.
    calls = data["calls"]["calls"]
    assert calls["rds:DescribeDBInstances"] == 1 and calls["rds:DescribeDBClusters"] == 1
    assert calls["cloudwatch:DescribeAlarms"] == 1
    assert calls["s3:GetBucketVersioning"] == 3 and calls["s3:GetBucketReplication"] == 2
    assert Path(data["report"]).read_text().count("protected as configured only") >= 3

    _after_newest_backup(kafka_platform)
    drill = run_cli("drill", "run", "rds-pitr", env=kafka_platform.env)
    assert drill.code == 0, drill.err
    _, data = _assess(kafka_platform)
    assert data["verdicts"]["warehouse"] == "protected as measured"
    warehouse = next(c for c in data["components"] if c["component"] == "warehouse")
    assert warehouse["last_drill"]["objectives_met"] is True


def test_a_stopped_replicator_leaves_the_cluster_unprotected_until_it_runs_again(
    kafka_platform: RunningPlatform,
) -> None:
    pid_file = kafka_platform.state_dir / "kafka" / "mirror-events_replicator" / "mm2.pid"
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    try:
        stopped, data = _assess(kafka_platform)
        assert stopped.code == 4
        assert data["verdicts"]["events"] == "unprotected"
        assert _reasons(data, "events") == [
            "replicator events_replicator: MirrorMaker 2 is not running (`ops local up`)"
        ]
    finally:
        assert run_cli("local", "up", env=kafka_platform.env).code == 0
    _, data = _assess(kafka_platform)
    assert data["verdicts"]["events"] != "unprotected", data


def test_backups_turned_off_leave_the_database_unprotected(kafka_platform: RunningPlatform) -> None:
    rds = kafka_platform.aws().client("rds")
    rds.modify_db_instance(DBInstanceIdentifier=WAREHOUSE, BackupRetentionPeriod=0, ApplyImmediately=True)
    try:
        off, data = _assess(kafka_platform)
        assert off.code == 4 and data["verdicts"]["warehouse"] == "unprotected"
        assert any("automated backups: off" in reason for reason in _reasons(data, "warehouse"))
    finally:
        rds.modify_db_instance(DBInstanceIdentifier=WAREHOUSE, BackupRetentionPeriod=7, ApplyImmediately=True)
