"""Drill figures read back from CloudWatch (ops/runbook/drill_metrics.py): the period that
CloudWatch still keeps over the look-back, batched and paged GetMetricData calls (checked
against the service model by botocore's Stubber: the emulator has no NextToken pages), what
an aggregated point means, the merge with the local history, and a denied or throttled read
degrading to one warning line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ops.inventory import load_inventory
from ops.inventory.environment import Environment
from ops.readiness.assess import _last_drill
from ops.runbook.drill import DrillResult, publish
from ops.runbook.drill_metrics import (
    MAX_QUERIES,
    cloud_drills,
    drill_series,
    lookback_seconds,
    merge_history,
    period_for,
    read_drill_points,
)
from ops.runbook.due import drills_due
from runbooks import REGISTRY
from tests.helpers import INVENTORY

DAY = 86400.0
NOW = datetime(2026, 12, 6, 12, 2, 30, tzinfo=UTC)


def _staging() -> Environment:
    return load_inventory(INVENTORY).environment("staging")


def _cloudwatch() -> tuple[Any, Stubber]:
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    stub.activate()
    return client, stub


# --- the period and the look-back --------------------------------------------------------
@pytest.mark.parametrize(
    ("lookback_days", "period"),
    # The start is aligned back by up to one period: 15 days of 1-minute points is one short.
    [(1, 60), (7, 60), (14.99, 60), (15, 300), (31, 300), (62.99, 300), (63, 3600), (92, 3600), (455, 3600)],
)
def test_the_period_is_the_finest_cloudwatch_keeps_over_the_whole_lookback(
    lookback_days: float, period: int
) -> None:
    assert period_for(lookback_days * DAY) == period


def test_the_lookback_is_the_longest_drill_period_of_the_policy() -> None:
    env = _staging()  # warehouse weekly, events monthly (31 days)
    assert lookback_seconds(env) == 31 * DAY
    assert lookback_seconds(env, at_least=40 * DAY) == 40 * DAY  # dr assess's default period, if longer
    assert lookback_seconds(env, at_least=600 * DAY) == 455 * DAY  # no point is kept longer


def test_the_series_are_the_policy_and_each_objective_crossed_with_the_runbooks_drilling_its_kind() -> None:
    assert drill_series(_staging(), REGISTRY.values()) == [
        ("warehouse", "rds-pitr"),
        ("events", "msk-broker-reboot"),
        ("warehouse", "aurora-failover"),  # rds too; documents and lake: no runbook drills them
    ]


# --- reading the points --------------------------------------------------------------------
def _result(query_id: str, points: list[tuple[datetime, float]]) -> dict[str, Any]:
    return {
        "Id": query_id,
        "Label": query_id,
        "Timestamps": [at for at, _ in points],
        "Values": [value for _, value in points],
        "StatusCode": "Complete",
    }


def _expected(period: int, start: datetime, end: datetime, token: str | None = None) -> dict[str, Any]:
    expected: dict[str, Any] = {
        "MetricDataQueries": ANY,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    if token:
        expected["NextToken"] = token
    return expected


def test_points_are_read_in_one_call_followed_through_its_pages_a_failure_among_successes() -> None:
    env = _staging()
    series = [("warehouse", "rds-pitr")]
    t1, t2, t3 = (datetime(2026, 12, day, 3, 0, tzinfo=UTC) for day in (1, 3, 5))
    start, end = datetime(2026, 11, 5, 12, 0, tzinfo=UTC), datetime(2026, 12, 6, 12, 5, tzinfo=UTC)
    cloudwatch, stub = _cloudwatch()
    # CloudWatch pages by data points: one query's points may continue on the next page.
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [_result("s0_0", [(t1, 1.0), (t2, 0.0)]), _result("s0_1", [(t1, 600.0)])],
            "NextToken": "page-2",
        },
        _expected(300, start, end),
    )
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                _result("s0_0", [(t3, 1.0)]),
                _result("s0_1", [(t2, 700.0), (t3, 650.0)]),
                _result("s0_2", [(t1, 60.0), (t3, 90.0)]),
            ]
        },
        _expected(300, start, end, "page-2"),
    )
    entries = read_drill_points(cloudwatch, env, series, NOW, 31 * DAY)
    stub.assert_no_pending_responses()

    assert [e["ended_at"] for e in entries] == [t.isoformat() for t in (t1, t2, t3)]
    first, failed, last = entries
    assert first["objectives_met"] and first["status"] == "completed" and first["rto_seconds"] == 600.0
    # DrillSuccess 0 with figures within the objectives (RTO 30 min, RPO 5 min): it failed.
    assert failed["objectives_met"] is False and failed["success"] is False and failed["status"] == "failed"
    assert failed["rto_seconds"] == 700.0 and failed["rpo_seconds"] is None
    assert last["rpo_seconds"] == 90.0
    assert {e["source"] for e in entries} == {"cloudwatch"} and {e["period_seconds"] for e in entries} == {
        300
    }
    assert all(e["environment"] == "staging" and e["runbook"] == "rds-pitr" for e in entries)

    due = {(d.component, d.runbook): d for d in drills_due(env, entries, NOW)}
    warehouse = due[("warehouse", "rds-pitr")]
    assert (
        not warehouse.overdue and warehouse.last_passed == t3.isoformat() and warehouse.last_outcome == "met"
    )


def test_the_queries_ask_minimum_success_and_maximum_figures_by_the_drills_dimensions() -> None:
    env = _staging()
    cloudwatch, stub = _cloudwatch()
    dims = [
        {"Name": "Environment", "Value": "staging"},
        {"Name": "Component", "Value": "events"},
        {"Name": "Runbook", "Value": "msk-broker-reboot"},
    ]
    queries = [
        {
            "Id": f"s0_{number}",
            "MetricStat": {
                "Metric": {"Namespace": "PlatformOps/Drills", "MetricName": metric, "Dimensions": dims},
                "Period": 60,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for number, (metric, stat) in enumerate(
            [("DrillSuccess", "Minimum"), ("DrillRTOSeconds", "Maximum"), ("DrillRPOSeconds", "Maximum")]
        )
    ]
    start, end = datetime(2026, 11, 29, 12, 2, tzinfo=UTC), datetime(2026, 12, 6, 12, 3, tzinfo=UTC)
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": []},
        {"MetricDataQueries": queries, "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending"},
    )
    assert read_drill_points(cloudwatch, env, [("events", "msk-broker-reboot")], NOW, 7 * DAY) == []
    stub.assert_no_pending_responses()


class _Recording:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def get_metric_data(self, **request: Any) -> dict[str, Any]:
        self.calls.append(len(request["MetricDataQueries"]))
        return {"MetricDataResults": []}


def test_many_series_are_read_500_queries_a_call() -> None:
    recording = _Recording()
    series = [("warehouse", f"runbook-{n}") for n in range(200)]  # 600 queries
    read_drill_points(recording, _staging(), series, NOW, 7 * DAY)
    assert recording.calls == [MAX_QUERIES, 100]


def test_a_point_whose_figures_exceed_an_objective_is_a_missed_drill() -> None:
    cloudwatch, stub = _cloudwatch()
    at = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    stub.add_response(
        "get_metric_data",
        {"MetricDataResults": [_result("s0_0", [(at, 0.0)]), _result("s0_1", [(at, 4000.0)])]},
    )
    (missed,) = read_drill_points(cloudwatch, _staging(), [("warehouse", "rds-pitr")], NOW, 7 * DAY)
    assert missed["success"] is True and missed["objectives_met"] is False and missed["status"] == "completed"
    last = _last_drill(_staging(), "warehouse", [missed])
    assert last is not None and last["outcome"] == "missed an objective" and last["source"] == "cloudwatch"


# --- the merge -----------------------------------------------------------------------------------
def _local(ended: str, runbook: str = "rds-pitr", **extra: Any) -> dict[str, Any]:
    return {
        "drill_id": f"drill-{ended}",
        "environment": "staging",
        "component": "warehouse",
        "runbook": runbook,
        "started_at": ended,
        "ended_at": ended,
        "status": "completed",
        "success": True,
        "objectives_met": True,
        **extra,
    }


def _point(start: str, runbook: str = "rds-pitr", period: int = 300) -> dict[str, Any]:
    return {
        **_local(start, runbook),
        "drill_id": f"cloudwatch:{runbook}@{start}",
        "source": "cloudwatch",
        "period_seconds": period,
    }


def test_a_point_is_added_only_when_no_local_drill_ended_within_its_period() -> None:
    local = [_local("2026-12-01T10:03:20+00:00"), _local("2026-12-03T10:05:00+00:00")]
    explained = _point("2026-12-01T10:00:00+00:00")  # the local drill of 10:03 is this point
    other_runbook = _point("2026-12-01T10:00:00+00:00", runbook="aurora-failover")
    next_period = _point("2026-12-01T10:05:00+00:00")
    # Periods are half-open: a drill that ended at 10:05:00 is the next period's.
    before_boundary = _point("2026-12-03T10:00:00+00:00")
    scheduled = _point("2026-12-05T03:00:00+00:00")
    merged = merge_history(local, [scheduled, explained, other_runbook, next_period, before_boundary])
    assert [e["drill_id"] for e in merged] == [
        "cloudwatch:aurora-failover@2026-12-01T10:00:00+00:00",
        "drill-2026-12-01T10:03:20+00:00",
        "cloudwatch:rds-pitr@2026-12-01T10:05:00+00:00",
        "cloudwatch:rds-pitr@2026-12-03T10:00:00+00:00",
        "drill-2026-12-03T10:05:00+00:00",
        "cloudwatch:rds-pitr@2026-12-05T03:00:00+00:00",
    ]


def test_the_local_history_is_unchanged_without_points_and_keeps_its_order() -> None:
    running = {**_local("2026-12-04T10:00:00+00:00"), "ended_at": "", "status": "running"}
    local = [_local("2026-12-02T10:00:00+00:00"), running]
    assert merge_history(local, []) == local
    merged = merge_history(local, [_point("2026-12-03T10:00:00+00:00"), _point("2026-12-05T10:00:00+00:00")])
    assert [e["drill_id"] for e in merged] == [
        "drill-2026-12-02T10:00:00+00:00",
        "cloudwatch:rds-pitr@2026-12-03T10:00:00+00:00",
        "drill-2026-12-04T10:00:00+00:00",  # running since before the newer point: placed by its start
        "cloudwatch:rds-pitr@2026-12-05T10:00:00+00:00",
    ]


def test_a_newer_failed_local_drill_stays_the_last_outcome_over_an_older_scheduled_pass() -> None:
    env = _staging()
    failed = _local(
        (NOW - timedelta(days=1)).isoformat(), success=False, objectives_met=False, status="failed"
    )
    passed = _point((NOW - timedelta(days=3)).replace(second=0, microsecond=0).isoformat())
    due = {(d.component, d.runbook): d for d in drills_due(env, merge_history([failed], [passed]), NOW)}
    warehouse = due[("warehouse", "rds-pitr")]
    assert not warehouse.overdue and warehouse.last_outcome == "failed"


# --- errors degrade to a warning ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("AccessDenied", 403, "cloudwatch:GetMetricData denied (AccessDenied); grant it"),
        ("Throttling", 400, "cloudwatch:GetMetricData failed (Throttling: Rate exceeded)"),
    ],
)
def test_a_denied_or_throttled_read_is_one_warning_naming_the_permission(
    code: str, status: int, says: str
) -> None:
    cloudwatch, stub = _cloudwatch()
    stub.add_client_error("get_metric_data", code, "Rate exceeded", http_status_code=status)
    found = cloud_drills(lambda: cloudwatch, _staging(), REGISTRY.values(), NOW)
    assert found.entries == [] and found.warning is not None
    assert says in found.warning and "\n" not in found.warning
    assert "using this machine's drill history only" in found.warning
    assert found.summary()["read"] is False


def test_clients_that_cannot_be_made_degrade_too() -> None:
    from botocore.exceptions import NoCredentialsError

    def no_credentials() -> Any:
        raise NoCredentialsError()

    found = cloud_drills(no_credentials, _staging(), REGISTRY.values(), NOW)
    assert found.warning is not None and "NoCredentialsError" in found.warning


# --- publish -----------------------------------------------------------------------------------------
def test_publish_stamps_the_figures_at_the_drills_end_or_the_given_moment() -> None:
    ended = datetime(2026, 12, 5, 3, 4, 5, tzinfo=UTC)
    result = DrillResult(
        drill_id="drill-1",
        runbook="rds-pitr",
        environment="staging",
        component="warehouse",
        started_at=(ended - timedelta(minutes=10)).isoformat(),
        success=True,
        rto_seconds=600.0,
        rpo_seconds=None,
        rto_objective=1800.0,
        rpo_objective=300.0,
        run_id="drill-1",
        status="completed",
        ended_at=ended.isoformat(),
    )
    dims = [
        {"Name": "Environment", "Value": "staging"},
        {"Name": "Component", "Value": "warehouse"},
        {"Name": "Runbook", "Value": "rds-pitr"},
    ]
    cloudwatch, stub = _cloudwatch()
    for at in (ended, ended - timedelta(days=3)):
        stub.add_response(
            "put_metric_data",
            {},
            {
                "Namespace": "PlatformOps/Drills",
                "MetricData": [
                    {"MetricName": "DrillSuccess", "Dimensions": dims, "Value": 1.0, "Timestamp": at},
                    {
                        "MetricName": "DrillRTOSeconds",
                        "Dimensions": dims,
                        "Value": 600.0,
                        "Unit": "Seconds",
                        "Timestamp": at,
                    },
                ],
            },
        )
    publish(cloudwatch, result)
    publish(cloudwatch, result, timestamp=ended - timedelta(days=3))
    stub.assert_no_pending_responses()
