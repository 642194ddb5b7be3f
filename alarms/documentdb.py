"""DocumentDB: AWS publishes no numbers; these follow Resilience Hub's alarm shapes."""

from __future__ import annotations

from alarms.rds import memory_bytes
from alarms.spec import AlarmSpec, Metric, anomaly_alarm, threshold_alarm
from ops.inventory.components import DocumentDb
from ops.inventory.environment import Environment

SOURCE = "Resilience Hub's alarm shape; threshold is platform-ops' default"


def alarms(env: Environment, name: str, docdb: DocumentDb) -> list[AlarmSpec]:
    dims = {"DBClusterIdentifier": env.resource_name(docdb.cluster_identifier)}

    def metric(metric_name: str, stat: str) -> Metric:
        return Metric("AWS/DocDB", metric_name, dims, stat)

    return [
        threshold_alarm(
            name,
            "cpu",
            "warning",
            metric("CPUUtilization", "Maximum"),
            "GreaterThanThreshold",
            80,
            5,
            datapoints=3,
            source=SOURCE,
            description="CPU above 80% in 3 of 5 minutes.",
        ),
        threshold_alarm(
            name,
            "freeable-memory",
            "warning",
            metric("FreeableMemory", "Minimum"),
            "LessThanOrEqualToThreshold",
            memory_bytes(docdb.instance_class) * 0.1,
            5,
            source=SOURCE,
            description="Freeable memory at or below 10% of the instance class's memory.",
        ),
        threshold_alarm(
            name,
            "read-latency",
            "warning",
            metric("ReadLatency", "Maximum"),
            "GreaterThanOrEqualToThreshold",
            50,
            5,
            source=SOURCE,
            description="Read latency at or above 50 ms.",
        ),
        threshold_alarm(
            name,
            "write-latency",
            "warning",
            metric("WriteLatency", "Maximum"),
            "GreaterThanOrEqualToThreshold",
            50,
            5,
            source=SOURCE,
            description="Write latency at or above 50 ms.",
        ),
        threshold_alarm(
            name,
            "replica-lag",
            "warning",
            metric("DBClusterReplicaLagMaximum", "Maximum"),
            "GreaterThanOrEqualToThreshold",
            60_000,
            5,
            missing="notBreaching",
            source=SOURCE,
            description="A replica is a minute or more behind the primary.",
        ),
        anomaly_alarm(
            name,
            "connections-anomaly",
            metric("DatabaseConnections", "Maximum"),
            "LessThanLowerOrGreaterThanUpperThreshold",
            5,
            description="Connections outside their usual band (a connection leak, or clients gone).",
            source="Resilience Hub's alarm shape (an anomaly band, 2 standard deviations)",
        ),
    ]
