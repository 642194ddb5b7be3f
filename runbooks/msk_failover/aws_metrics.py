"""The CloudWatch side of msk-failover on AWS: MSK Replicator's metrics (namespace AWS/Kafka,
dimension ReplicatorName, published in the replicator's region, the target cluster's) and
MSK's consumer lag per group and topic. Queries are built by runbooks/common/cloudwatch.py."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from runbooks.common.cloudwatch import KAFKA, PERIOD, Points, metric_query


def replicator_query(ident: str, replicator: str, metric: str, stat: str) -> dict[str, Any]:
    """One of a replicator's metrics, over all its topics."""
    return metric_query(ident, KAFKA, metric, {"ReplicatorName": replicator}, stat)


def offset_lag_query(ident: str, cluster: str, group: str, topic: str) -> dict[str, Any]:
    """A consumer group's summed offset lag on one topic of a cluster (MSK's consumer-lag
    metrics; a group with committed offsets and no member has them too)."""
    dims = {"Cluster Name": cluster, "Consumer Group": group, "Topic": topic}
    return metric_query(ident, KAFKA, "SumOffsetLag", dims, "Maximum")


def first_full_minute(moment: datetime) -> datetime:
    """The start of the first one-minute period wholly after `moment`: its point holds
    nothing from before (a point of the minute `moment` falls in would)."""
    return moment.replace(second=0, microsecond=0) + timedelta(seconds=PERIOD)


def since(points: Points, start: datetime) -> Points:
    return [(at, value) for at, value in points if at >= start]
