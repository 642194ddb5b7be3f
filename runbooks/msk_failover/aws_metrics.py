"""The CloudWatch side of msk-failover on AWS: MSK Replicator's metrics (namespace AWS/Kafka,
dimension ReplicatorName, published in the replicator's region, the target cluster's) and
MSK's consumer lag per group and topic. Queries are built by runbooks/common/cloudwatch.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from runbooks.common.cloudwatch import KAFKA, PERIOD, metric_query

Points = list[tuple[datetime, float]]  # newest first


def replicator_query(ident: str, replicator: str, metric: str, stat: str) -> dict[str, Any]:
    """One of a replicator's metrics, over all its topics."""
    return metric_query(ident, KAFKA, metric, {"ReplicatorName": replicator}, stat)


def offset_lag_query(ident: str, cluster: str, group: str, topic: str) -> dict[str, Any]:
    """A consumer group's summed offset lag on one topic of a cluster (MSK's consumer-lag
    metrics; a group with committed offsets and no member has them too)."""
    dims = {"Cluster Name": cluster, "Consumer Group": group, "Topic": topic}
    return metric_query(ident, KAFKA, "SumOffsetLag", dims, "Maximum")


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


def first_full_minute(moment: datetime) -> datetime:
    """The start of the first one-minute period wholly after `moment`: its point holds
    nothing from before (a point of the minute `moment` falls in would)."""
    return moment.replace(second=0, microsecond=0) + timedelta(seconds=PERIOD)


def since(points: Points, start: datetime) -> Points:
    return [(at, value) for at, value in points if at >= start]
