"""The drills of an environment as CloudWatch keeps them: the figures every drill publishes
(`publish` in ops/runbook/drill.py: DrillSuccess, DrillRTOSeconds, DrillRPOSeconds under
PlatformOps/Drills, by Environment, Component and Runbook) read back with GetMetricData and
made into history entries shaped like the local ones, so `ops drill due` and `ops dr assess`
see the drills that ran elsewhere: a scheduled drill's ECS task loses its state folder when
it ends, and only its metrics remain.

A point is a period of CloudWatch's, not a drill. Several drills may share one:
- DrillSuccess is read as its Minimum, so one failure in the period makes the point failed;
- DrillRTOSeconds and DrillRPOSeconds as their Maximum: the worst drill of the period;
- the entry's `ended_at` is the period's start: a drill is never credited as later than it
  ran (it ended within [ended_at, ended_at + period_seconds));
- a point with DrillSuccess 0 is `missed` (success, objectives not met) when its figures
  exceed an objective, else `failed`: CloudWatch does not keep which it was.

Local history entries win (`merge_history`): a point is added only when no local entry of
the same environment, component and runbook ended within its period."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ops.inventory.environment import Environment
from ops.runbook.drill import METRIC_NAMESPACE
from ops.runbook.model import Runbook

PERMISSION = "cloudwatch:GetMetricData"
DAY = 86400.0
# CloudWatch's retention by resolution (seconds of a point -> how long it is kept): a query
# must ask for a period whose points still exist over its whole look-back, or the older part
# comes back empty (1-minute points 15 days, 5-minute 63 days, 1-hour 455 days).
RESOLUTIONS: tuple[tuple[int, float], ...] = ((60, 15 * DAY), (300, 63 * DAY), (3600, 455 * DAY))
MAX_QUERIES = 500  # GetMetricData's limit of MetricDataQueries a call
# metric -> the statistic that keeps the worst drill of a period
STATISTICS = (("DrillSuccess", "Minimum"), ("DrillRTOSeconds", "Maximum"), ("DrillRPOSeconds", "Maximum"))
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"}


@dataclass
class CloudDrills:
    """What CloudWatch said: the points as history entries, or `warning` when it could not
    be read (the command then goes on with this machine's history alone)."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    period_seconds: int = 0
    lookback_seconds: float = 0.0
    warning: str | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "read": self.warning is None,
            "points": len(self.entries),
            "period_seconds": self.period_seconds,
            "lookback_days": round(self.lookback_seconds / DAY, 2),
            "warning": self.warning,
        }


def drill_series(env: Environment, runbooks: Iterable[Runbook]) -> list[tuple[str, str]]:
    """(component, runbook) pairs whose drills matter: the drill policy's entries, then every
    component with an objective crossed with every runbook that drills its kind."""
    found = [
        (component, runbook) for component, wanted in env.spec.drill_policy.items() for runbook in wanted
    ]
    drilling = [r for r in runbooks if r.drills]
    for component in env.spec.objectives:
        spec = env.spec.components.get(component)
        if spec is not None:
            found += [(component, r.name) for r in drilling if spec.kind in r.drills]
    return list(dict.fromkeys(found))


def lookback_seconds(env: Environment, at_least: float = 0.0) -> float:
    """As far back as the longest period of the drill policy (or `at_least`, what a command
    assumes without a policy): an older drill cannot keep anything from being due. Capped at
    what CloudWatch keeps at all."""
    periods = [every for wanted in env.spec.drill_policy.values() for every in wanted.values()]
    return min(max([at_least, *periods]), RESOLUTIONS[-1][1])


def period_for(lookback: float) -> int:
    """The finest resolution CloudWatch still keeps over the whole look-back, and the one
    period more the start is aligned back by (its StartTime rules are by age, too)."""
    for period, kept in RESOLUTIONS:
        if lookback + period <= kept:
            return period
    return RESOLUTIONS[-1][0]


def read_drill_points(
    cloudwatch: Any,
    env: Environment,
    series: list[tuple[str, str]],
    now: datetime,
    lookback: float,
) -> list[dict[str, Any]]:
    """The points of `series` over the look-back, as history entries, oldest first: one
    GetMetricData call per 500 queries, each followed through its NextToken pages."""
    period = period_for(lookback)
    # Aligned to the period, as CloudWatch aligns its points: then each point's period is
    # [timestamp, timestamp + period) on the clock, which is what the merge compares against.
    end = _floor(now, period) + timedelta(seconds=period)
    start = _floor(now - timedelta(seconds=lookback), period)
    queries: list[dict[str, Any]] = [
        {
            "Id": f"s{index}_{number}",
            "MetricStat": {
                "Metric": {
                    "Namespace": METRIC_NAMESPACE,
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "Environment", "Value": env.name},
                        {"Name": "Component", "Value": component},
                        {"Name": "Runbook", "Value": runbook},
                    ],
                },
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for index, (component, runbook) in enumerate(series)
        for number, (metric, stat) in enumerate(STATISTICS)
    ]
    values: dict[str, dict[datetime, float]] = {query["Id"]: {} for query in queries}
    for first in range(0, len(queries), MAX_QUERIES):
        batch = queries[first : first + MAX_QUERIES]
        token: str | None = None
        while True:
            request: dict[str, Any] = {
                "MetricDataQueries": batch,
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            if token:
                request["NextToken"] = token
            page = cloudwatch.get_metric_data(**request)
            for result in page.get("MetricDataResults", []):
                points = values.setdefault(result["Id"], {})
                for at, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
                    points[_utc(at)] = float(value)
            token = page.get("NextToken")
            if not token:
                break
    entries = []
    for index, (component, runbook) in enumerate(series):
        success, rto, rpo = (values[f"s{index}_{number}"] for number in range(len(STATISTICS)))
        for at in sorted(success):
            entries.append(_entry(env, component, runbook, at, period, success[at], rto.get(at), rpo.get(at)))
    return sorted(entries, key=lambda e: e["ended_at"])


def _entry(
    env: Environment,
    component: str,
    runbook: str,
    at: datetime,
    period: int,
    success: float,
    rto: float | None,
    rpo: float | None,
) -> dict[str, Any]:
    objective = env.spec.objectives.get(component)
    rto_objective = float(objective.rto) if objective else None
    rpo_objective = float(objective.rpo) if objective else None
    met = success >= 1.0
    over = (rto is not None and rto_objective is not None and rto > rto_objective) or (
        rpo is not None and rpo_objective is not None and rpo > rpo_objective
    )
    completed = met or over  # a drill that measured past an objective ran to its end: missed
    return {
        "drill_id": f"cloudwatch:{runbook}@{at.strftime('%Y-%m-%dT%H:%MZ')}",
        "environment": env.name,
        "component": component,
        "runbook": runbook,
        "ended_at": at.isoformat(),
        "status": "completed" if completed else "failed",
        "success": completed,
        "objectives_met": met,
        "rto_seconds": rto,
        "rpo_seconds": rpo,
        "rto_objective": rto_objective,
        "rpo_objective": rpo_objective,
        "source": "cloudwatch",
        "period_seconds": period,
    }


def merge_history(local: list[dict[str, Any]], points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The local history with each point no local drill explains: a point is dropped when a
    local entry of the same environment, component and runbook ended within its period.
    The local entries keep their order; the points are placed among them by time, so the
    newest drill is still the last one (what `drills_due` and `_last_drill` read)."""
    ended: dict[tuple[Any, Any, Any], list[datetime]] = {}
    for entry in local:
        moment = _moment(entry.get("ended_at"))
        if moment is not None:
            key = (entry.get("environment"), entry.get("component"), entry.get("runbook"))
            ended.setdefault(key, []).append(moment)
    kept: list[tuple[datetime, dict[str, Any]]] = []
    for point in points:
        start = _moment(point["ended_at"])
        if start is None:
            continue
        stop = start + timedelta(seconds=point["period_seconds"])
        key = (point["environment"], point["component"], point["runbook"])
        if not any(start <= moment < stop for moment in ended.get(key, [])):
            kept.append((start, point))
    if not kept:
        return list(local)
    kept.sort(key=lambda found: found[0])
    merged: list[dict[str, Any]] = []
    for entry in local:
        moment = _moment(entry.get("ended_at") or entry.get("started_at"))
        while moment is not None and kept and kept[0][0] < moment:
            merged.append(kept.pop(0)[1])
        merged.append(entry)
    return merged + [point for _, point in kept]


def cloud_drills(
    cloudwatch: Callable[[], Any],
    env: Environment,
    runbooks: Iterable[Runbook],
    now: datetime,
    at_least: float = 0.0,
) -> CloudDrills:
    """The environment's drill points, or a one-line warning naming the permission when
    CloudWatch cannot be read (denied, throttled past the retries, unreachable): the
    caller then goes on with its local history. `cloudwatch` makes the client, so that
    failing to reach AWS at all is caught too."""
    lookback = lookback_seconds(env, at_least)
    found = CloudDrills(period_seconds=period_for(lookback), lookback_seconds=lookback)
    series = drill_series(env, runbooks)
    if not series:
        return found
    try:
        found.entries = read_drill_points(cloudwatch(), env, series, now, lookback)
    except ClientError as error:
        code, text = _error_of(error)
        denied = code in DENIED or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403
        found.warning = _warning(code if denied else f"{code}: {text}", denied)
    except BotoCoreError as error:
        found.warning = _warning(f"{type(error).__name__}: {_one_line(str(error))}", denied=False)
    return found


def _error_of(error: ClientError) -> tuple[str, str]:
    info = error.response.get("Error", {})
    code, text = str(info.get("Code", "error")), " ".join(str(info.get("Message", "")).split())
    # The emulator answers a denied call with an XML body botocore cannot parse: its code is inside.
    inner = re.search(r"<Code>(\w+)</Code><Message>(.*?)</Message>", text)
    return (inner.group(1), _one_line(inner.group(2))) if inner else (code, _one_line(text))


def _warning(why: str, denied: bool) -> str:
    if denied:
        return (
            f"warning: drill history not read from CloudWatch: {PERMISSION} denied ({why}); grant it to "
            "see drills run elsewhere (scheduled ECS tasks); using this machine's drill history only"
        )
    return (
        f"warning: drill history not read from CloudWatch: {PERMISSION} failed ({why}); drills run "
        "elsewhere (scheduled ECS tasks) are not seen; using this machine's drill history only"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def _floor(moment: datetime, period: int) -> datetime:
    seconds = int(moment.timestamp()) // period * period
    return datetime.fromtimestamp(seconds, UTC)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        return None
