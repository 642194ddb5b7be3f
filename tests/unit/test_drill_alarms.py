"""The drill alarms of the rds pack: a failed drill alarms, and so does no drill at all
(missing data breaching over the drill period), within CloudWatch's limits."""

from __future__ import annotations

import pytest

from alarms.spec import AlarmSpec
from ops.inventory.environment import Environment
from ops.inventory.loader import load_inventory
from ops.kinds.rds import drill_alarms
from ops.observe.providers.alarm_shape import alarm_properties
from tests.helpers import INVENTORY

DIMENSIONS = {"Environment": "prod", "Component": "warehouse", "Runbook": "rds-pitr"}


@pytest.fixture(scope="module")
def prod() -> Environment:
    return load_inventory(INVENTORY).environment("prod")


def _alarms(prod: Environment) -> dict[str, AlarmSpec]:
    return {alarm.key: alarm for alarm in drill_alarms(prod, "warehouse")}


def test_no_drill_in_a_week_is_an_alarm(prod: Environment) -> None:
    overdue = _alarms(prod)["drill-overdue"]
    assert overdue.metric is not None
    assert (overdue.metric.namespace, overdue.metric.name, overdue.metric.dimensions) == (
        "PlatformOps/Drills",
        "DrillSuccess",
        DIMENSIONS,
    )
    assert overdue.treat_missing == "breaching"  # a week without any drill breaches
    assert (overdue.metric.stat, overdue.comparison, overdue.threshold) == ("Maximum", "LessThanThreshold", 1)
    # Every day of the week must lack a drill that met its objectives.
    assert (overdue.period, overdue.evaluation_periods, overdue.datapoints_to_alarm) == (86_400, 7, 7)


def test_a_failed_drill_alarms_the_day_it_ran(prod: Environment) -> None:
    failed = _alarms(prod)["drill-failed"]
    assert failed.metric is not None
    assert (failed.metric.name, failed.metric.stat, failed.comparison, failed.threshold) == (
        "DrillSuccess",
        "Minimum",
        "LessThanThreshold",
        1,
    )
    assert (failed.period, failed.evaluation_periods, failed.treat_missing) == (86_400, 1, "notBreaching")


def test_the_drill_alarms_are_within_cloudwatch_limits(prod: Environment) -> None:
    """PutMetricAlarm: a period of 10, 20, 30 or a multiple of 60 s, and Period x
    EvaluationPeriods at most 604,800 s (7 days)."""
    for alarm in _alarms(prod).values():
        shape = alarm_properties(alarm, [])
        assert shape["Period"] % 60 == 0 and shape["Period"] * shape["EvaluationPeriods"] <= 604_800, (
            alarm.key
        )
        assert shape["TreatMissingData"] == alarm.treat_missing


def test_a_component_without_objectives_has_no_drill_alarms(prod: Environment) -> None:
    assert drill_alarms(prod, "no-such-component") == []
