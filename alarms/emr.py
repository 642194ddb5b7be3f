"""EMR: unhealthy nodes, YARN memory headroom, HDFS use. The cluster id is looked up by
name at plan time."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, lookup, threshold_alarm
from ops.inventory.components import Emr
from ops.inventory.environment import Environment

SOURCE = "platform-ops default: AWS publishes no recommended EMR alarms"


def alarms(env: Environment, name: str, emr: Emr) -> list[AlarmSpec]:
    dims = {"JobFlowId": lookup("emr", env.resource_name(emr.cluster_name))}

    def metric(metric_name: str, stat: str) -> Metric:
        return Metric("AWS/ElasticMapReduce", metric_name, dims, stat, 300)

    return [
        threshold_alarm(
            name,
            "unhealthy-nodes",
            "critical",
            metric("MRUnhealthyNodes", "Maximum"),
            "GreaterThanThreshold",
            0,
            2,
            source=SOURCE,
            description="Core or task nodes are unhealthy: Spark steps will slow down or fail.",
        ),
        threshold_alarm(
            name,
            "yarn-memory-available",
            "warning",
            metric("YARNMemoryAvailablePercentage", "Minimum"),
            "LessThanThreshold",
            15,
            3,
            source=SOURCE,
            description="Less than 15% of YARN memory is free: containers will queue.",
        ),
        threshold_alarm(
            name,
            "hdfs-utilization",
            "warning",
            metric("HDFSUtilization", "Maximum"),
            "GreaterThanThreshold",
            80,
            3,
            source=SOURCE,
            description="HDFS is more than 80% full.",
        ),
    ]
