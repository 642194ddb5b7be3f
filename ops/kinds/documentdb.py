"""DocumentDB: AWS publishes no numbers; these follow Resilience Hub's alarm shapes."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, anomaly_alarm, threshold_alarm
from ops.inventory.components import DocumentDb
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind
from ops.kinds.db_classes import memory_bytes

SOURCE = "Resilience Hub's alarm shape; threshold is platform-ops' default"


class DocumentDbKind(ComponentKind[DocumentDb]):
    kind = "documentdb"

    def aws_names(self, env: Environment, docdb: DocumentDb) -> list[str]:
        return [env.resource_name(docdb.cluster_identifier)]

    def settings(self, docdb: DocumentDb) -> str:
        return f"{docdb.instance_count} x {docdb.instance_class}"

    def log_groups(self, env: Environment, name: str, docdb: DocumentDb) -> list[str]:
        return [f"/aws/docdb/{env.resource_name(docdb.cluster_identifier)}/profiler"]

    def alarms(self, env: Environment, name: str, docdb: DocumentDb) -> list[AlarmSpec]:
        dims = {"DBClusterIdentifier": env.resource_name(docdb.cluster_identifier)}

        def metric(metric_name: str, stat: str) -> Metric:
            return Metric("AWS/DocDB", metric_name, dims, stat)

        return [
            threshold_alarm(
                component=name,
                key="cpu",
                severity="warning",
                metric=metric("CPUUtilization", "Maximum"),
                comparison="GreaterThanThreshold",
                threshold=80,
                periods=5,
                datapoints=3,
                source=SOURCE,
                description="CPU above 80% in 3 of 5 minutes.",
            ),
            threshold_alarm(
                component=name,
                key="freeable-memory",
                severity="warning",
                metric=metric("FreeableMemory", "Minimum"),
                comparison="LessThanOrEqualToThreshold",
                threshold=memory_bytes(docdb.instance_class) * 0.1,
                periods=5,
                source=SOURCE,
                description="Freeable memory at or below 10% of the instance class's memory.",
            ),
            threshold_alarm(
                component=name,
                key="read-latency",
                severity="warning",
                metric=metric("ReadLatency", "Maximum"),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=50,
                periods=5,
                source=SOURCE,
                description="Read latency at or above 50 ms.",
            ),
            threshold_alarm(
                component=name,
                key="write-latency",
                severity="warning",
                metric=metric("WriteLatency", "Maximum"),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=50,
                periods=5,
                source=SOURCE,
                description="Write latency at or above 50 ms.",
            ),
            threshold_alarm(
                component=name,
                key="replica-lag",
                severity="warning",
                metric=metric("DBClusterReplicaLagMaximum", "Maximum"),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=60_000,
                periods=5,
                missing="notBreaching",
                source=SOURCE,
                description="A replica is a minute or more behind the primary.",
            ),
            anomaly_alarm(
                component=name,
                key="connections-anomaly",
                metric=metric("DatabaseConnections", "Maximum"),
                comparison="LessThanLowerOrGreaterThanUpperThreshold",
                periods=5,
                description="Connections outside their usual band (a connection leak, or clients gone).",
                source="Resilience Hub's alarm shape (an anomaly band, 2 standard deviations)",
            ),
        ]


KIND = DocumentDbKind()
