"""A campaign over time, from Locust's stats history (one Aggregated row per second):
throughput, failures and the p50/p95/p99 of its recent window."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from ops.inventory.spec import Slo
from ops.report.charts import line_chart, time_chart


@dataclass
class Timeline:
    seconds: list[float] = field(default_factory=list)
    users: list[float] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    failures_per_s: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # "N/A" before the first request
        return 0.0


def parse_history(text: str) -> Timeline:
    timeline = Timeline()
    rows = [row for row in csv.DictReader(io.StringIO(text)) if row.get("Name") == "Aggregated"]
    if not rows:
        return timeline
    start = _number(rows[0]["Timestamp"])
    for row in rows:
        timeline.seconds.append(_number(row["Timestamp"]) - start)
        timeline.users.append(_number(row["User Count"]))
        timeline.rps.append(_number(row["Requests/s"]))
        timeline.failures_per_s.append(_number(row["Failures/s"]))
        timeline.p50.append(_number(row["50%"]))
        timeline.p95.append(_number(row["95%"]))
        timeline.p99.append(_number(row["99%"]))
    return timeline


def charts(timeline: Timeline, slo: Slo | None = None) -> dict[str, str]:
    """SVG charts for the report: throughput with users on their own axis, latency
    percentiles against the SLO's, errors."""
    x = timeline.seconds
    thresholds = {"SLO p95": slo.p95_ms, "SLO p99": slo.p99_ms} if slo is not None else None
    return {
        "throughput": line_chart(
            x,
            {"requests/s": timeline.rps},
            "requests per second",
            right={"users": timeline.users},
            right_unit="users",
        ),
        "latency": time_chart(
            x,
            {"p50": list(timeline.p50), "p95": list(timeline.p95), "p99": list(timeline.p99)},
            "ms",
            thresholds=thresholds,
        ),
        "errors": line_chart(x, {"failures/s": timeline.failures_per_s}, "failures per second"),
    }
