"""CloudWatch metric queries the runbooks' AWS providers share (GetMetricData's query shape),
so every runbook asks CloudWatch the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

KAFKA = "AWS/Kafka"
PERIOD = 60  # MSK's DEFAULT monitoring publishes a point a minute
Points = list[tuple[datetime, float]]  # (timestamp, value), newest first


def metric_query(ident: str, namespace: str, metric: str, dims: dict[str, str], stat: str) -> dict[str, Any]:
    """One GetMetricData query: `metric` of `namespace` with these dimensions, a PERIOD point."""
    return {
        "Id": ident,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dims.items()],
            },
            "Period": PERIOD,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def read(cloudwatch: Any, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, Points]:
    """Each query's points from `start` to `end` (all pages), newest first."""
    request: dict[str, Any] = {
        "MetricDataQueries": queries,
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampDescending",
    }
    found: dict[str, Points] = {query["Id"]: [] for query in queries}
    while True:
        page = cloudwatch.get_metric_data(**request)
        for result in page.get("MetricDataResults", []):
            points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
            found.setdefault(result["Id"], []).extend(points)
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    return {ident: sorted(points, reverse=True) for ident, points in found.items()}
