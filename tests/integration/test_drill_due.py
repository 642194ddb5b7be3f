"""`ops drill due` on the local platform, from drills that really ran: a failed drill leaves
its component overdue; one that met its objectives makes it due a period after it ended;
the policy's other drill, never run, keeps the exit code 4."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from tests.helpers import run_cli
from tests.integration.conftest import RunningPlatform
from tests.integration.test_drill_failures import _after_newest_backup
from tests.runbook_controls import fail_at_env


def _due(platform: RunningPlatform) -> tuple[int, dict[tuple[str, str], dict[str, Any]]]:
    result = run_cli("drill", "due", "-o", "json", env=platform.env)
    assert result.code in (0, 4), result.err
    drills = json.loads(result.out)["drills"]
    return result.code, {(d["component"], d["runbook"]): d for d in drills}


def test_drills_due_follow_the_drills_that_ran(platform: RunningPlatform) -> None:
    code, before = _due(platform)
    assert code == 4  # the shipped policy: the warehouse weekly, the events cluster monthly
    assert before[("warehouse", "rds-pitr")]["last_outcome"] == "never run"

    _after_newest_backup(platform)
    failed = run_cli("drill", "run", "rds-pitr", env={**platform.env, **fail_at_env("after:validate")})
    assert failed.code == 1, failed.err
    code, after_failure = _due(platform)
    warehouse = after_failure[("warehouse", "rds-pitr")]
    assert code == 4 and warehouse["overdue"] and warehouse["last_outcome"] == "failed"
    assert warehouse["last_passed"] is None

    _after_newest_backup(platform)
    passed = run_cli("drill", "run", "rds-pitr", "-o", "json", env=platform.env)
    assert passed.code == 0, passed.err
    ended = datetime.fromisoformat(json.loads(passed.out)["ended_at"])
    code, after_pass = _due(platform)
    warehouse = after_pass[("warehouse", "rds-pitr")]
    assert not warehouse["overdue"] and warehouse["last_outcome"] == "met"
    assert datetime.fromisoformat(warehouse["due_at"]) == datetime.fromisoformat(
        warehouse["last_passed"]
    ) + timedelta(days=7)
    assert abs((datetime.fromisoformat(warehouse["last_passed"]) - ended).total_seconds()) < 1
    # The events cluster's monthly broker-reboot drill never ran: still overdue, still exit 4.
    assert code == 4 and after_pass[("events", "msk-broker-reboot")]["overdue"]
