"""The inventory's drill policy: validated against the runbooks that have drills, and read
against the drill history (`ops drill due`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.inventory import load_inventory
from ops.runbook.due import drills_due
from tests.helpers import INVENTORY, run_main

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POLICY = "    warehouse: {rds-pitr: weekly}\n    events: {msk-broker-reboot: monthly}\n"


def _drill(component: str, runbook: str, days_ago: float, met: bool, success: bool = True) -> dict[str, Any]:
    ended = (NOW - timedelta(days=days_ago)).isoformat()
    return {
        "environment": "local",
        "component": component,
        "runbook": runbook,
        "started_at": ended,
        "ended_at": ended,
        "status": "completed" if success else "failed",
        "success": success,
        "objectives_met": met,
    }


def test_only_a_drill_that_met_its_objectives_within_the_period_keeps_it_from_being_overdue() -> None:
    env = load_inventory(INVENTORY).environment("local")
    history = [
        _drill("warehouse", "rds-pitr", 3, met=True),
        _drill("warehouse", "rds-pitr", 1, met=False),  # newer, missed: the last outcome, not a pass
        _drill("events", "msk-broker-reboot", 40, met=True),  # passed, but longer ago than a month
        _drill("documents", "rds-pitr", 0, met=True),  # not in the policy
    ]
    due = {(d.component, d.runbook): d for d in drills_due(env, history, NOW)}
    warehouse = due[("warehouse", "rds-pitr")]
    assert not warehouse.overdue and warehouse.last_outcome == "missed"
    assert warehouse.due_at == (NOW - timedelta(days=3) + timedelta(days=7)).isoformat()
    events = due[("events", "msk-broker-reboot")]
    assert events.overdue and events.every_seconds == 31 * 86400
    assert set(due) == {("warehouse", "rds-pitr"), ("events", "msk-broker-reboot")}


def test_another_environments_drills_do_not_count() -> None:
    env = load_inventory(INVENTORY).environment("local")
    elsewhere = {**_drill("warehouse", "rds-pitr", 1, met=True), "environment": "staging"}
    (warehouse, _events) = drills_due(env, [elsewhere], NOW)
    assert warehouse.overdue and warehouse.last_outcome == "never run"


@pytest.mark.parametrize(
    ("policy", "field", "says"),
    [
        (
            "    warehouse: {rds-pitr: fortnightly}\n",
            "drill_policy.warehouse.rds-pitr",
            "not a period: write daily, weekly, monthly, quarterly",
        ),
        ("    warehouse: {rds-pitr: 400d}\n", "drill_policy.warehouse.rds-pitr", "366 days"),
        ("    warehous: {rds-pitr: weekly}\n", "drill_policy.warehous", "unknown component"),
        (
            "    warehouse: {rds-pitrr: weekly}\n",
            "drill_policy.warehouse.rds-pitrr",
            "not a runbook with a drill",
        ),
        (
            "    warehouse: {msk-failover: weekly}\n",
            "drill_policy.warehouse.msk-failover",
            "not a runbook with a drill",
        ),
        (
            "    warehouse: {msk-broker-reboot: weekly}\n",
            "drill_policy.warehouse.msk-broker-reboot",
            "drills msk",
        ),
    ],
)
def test_a_bad_policy_is_one_line_naming_its_field(
    tmp_path: Path, policy: str, field: str, says: str
) -> None:
    text = INVENTORY.read_text()
    assert POLICY in text
    file = tmp_path / "platform.yaml"
    file.write_text(text.replace(POLICY, policy))
    for args in (("inventory", "validate", "--file", str(file)), ("--inventory", str(file), "drill", "due")):
        result = run_main(*args)
        assert result.code == 2, result.err
        [line] = result.err.strip().splitlines()
        assert line.startswith(f"error: {file}:") and f": base.{field}: " in line and says in line, line
