"""RDS PostgreSQL and Aurora PostgreSQL: CPU, storage, memory, connections, latency,
replica lag and transaction-id wraparound."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Rds
from ops.inventory.environment import Environment

GIB = 1024**3

# Memory of common instance classes (GiB): thresholds in % of memory need it.
CLASS_MEMORY_GIB = {
    "db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8,
    "db.t3.micro": 1, "db.t3.small": 2, "db.t3.medium": 4, "db.t3.large": 8,
    "db.m6g.large": 8, "db.m6g.xlarge": 16, "db.m6g.2xlarge": 32, "db.m6g.4xlarge": 64,
    "db.m7g.large": 8, "db.m7g.xlarge": 16, "db.m7g.2xlarge": 32, "db.m7g.4xlarge": 64,
    "db.r6g.large": 16, "db.r6g.xlarge": 32, "db.r6g.2xlarge": 64, "db.r6g.4xlarge": 128,
    "db.r7g.large": 16, "db.r7g.xlarge": 32, "db.r7g.2xlarge": 64, "db.r7g.4xlarge": 128,
}  # fmt: skip
UNKNOWN_CLASS_MEMORY_GIB = 4  # a cautious guess; override `freeable-memory` for such a class


def memory_bytes(instance_class: str) -> int:
    return CLASS_MEMORY_GIB.get(instance_class, UNKNOWN_CLASS_MEMORY_GIB) * GIB


def max_connections(instance_class: str) -> int:
    """RDS PostgreSQL's default: LEAST(DBInstanceClassMemory / 9531392, 5000)."""
    return min(memory_bytes(instance_class) // 9_531_392, 5000)


def drill_alarms(env: Environment, name: str) -> list[AlarmSpec]:
    """A failed or late DR drill (`ops drill run` publishes these metrics)."""
    objective = env.spec.objectives.get(name)
    if objective is None:
        return []
    dims = {"Environment": env.name, "Component": name, "Runbook": "rds-pitr"}
    source = "platform-ops: drills publish DrillSuccess and DrillRTOSeconds"
    return [
        threshold_alarm(
            name,
            "drill-failed",
            "warning",
            Metric("PlatformOps/Drills", "DrillSuccess", dims, "Minimum", 3600),
            "LessThanThreshold",
            1,
            1,
            missing="notBreaching",
            source=source,
            description="A DR drill of this database failed or missed its RPO/RTO objective.",
        ),
        threshold_alarm(
            name,
            "drill-rto",
            "warning",
            Metric("PlatformOps/Drills", "DrillRTOSeconds", dims, "Maximum", 3600),
            "GreaterThanThreshold",
            objective.rto,
            1,
            missing="notBreaching",
            source=source,
            description=f"A DR drill took longer than the RTO objective ({objective.rto:g} s).",
        ),
    ]


def alarms(env: Environment, name: str, db: Rds) -> list[AlarmSpec]:
    identifier = env.resource_name(db.identifier)
    aurora = db.engine == "aurora-postgresql"
    # Aurora: watch the writer of the cluster; RDS: the instance.
    dims = (
        {"DBClusterIdentifier": identifier, "Role": "WRITER"}
        if aurora
        else {"DBInstanceIdentifier": identifier}
    )

    def metric(metric_name: str, stat: str) -> Metric:
        return Metric("AWS/RDS", metric_name, dims, stat)

    memory_share = 0.05 if aurora else 0.25
    found = [
        threshold_alarm(
            name,
            "cpu",
            "warning",
            metric("CPUUtilization", "Average"),
            "GreaterThanThreshold",
            90,
            5,
            missing="breaching",
            description="CPU above 90% for 5 minutes.",
        ),
        threshold_alarm(
            name,
            "freeable-memory",
            "warning",
            metric("FreeableMemory", "Average"),
            "LessThanThreshold",
            memory_bytes(db.instance_class) * memory_share,
            15,
            description=f"Freeable memory below {memory_share:.0%} of {db.instance_class}'s memory.",
            source=f"AWS recommended ({memory_share:.0%} of memory; {db.instance_class} taken as "
            f"{memory_bytes(db.instance_class) // GIB} GiB)",
        ),
        threshold_alarm(
            name,
            "connections",
            "warning",
            metric("DatabaseConnections", "Maximum"),
            "GreaterThanThreshold",
            round(max_connections(db.instance_class) * 0.9),
            5,
            description="Connections above 90% of max_connections: new clients will be refused.",
            source="AWS recommended (90% of the class's default max_connections)",
        ),
        threshold_alarm(
            name,
            "read-latency",
            "warning",
            metric("ReadLatency", "p90"),
            "GreaterThanThreshold",
            0.02,
            5,
            description="p90 read latency above 20 ms.",
        ),
        threshold_alarm(
            name,
            "write-latency",
            "warning",
            metric("WriteLatency", "p90"),
            "GreaterThanThreshold",
            0.02,
            5,
            description="p90 write latency above 20 ms.",
        ),
        threshold_alarm(
            name,
            "replica-lag",
            "warning",
            metric("AuroraReplicaLagMaximum" if aurora else "ReplicaLag", "Maximum"),
            "GreaterThanThreshold",
            60_000 if aurora else 60,
            10,
            missing="notBreaching",
            description="Replicas are more than 60 s behind: a failover would lose that much.",
        ),
        threshold_alarm(
            name,
            "transaction-ids",
            "critical",
            metric("MaximumUsedTransactionIDs", "Average"),
            "GreaterThanThreshold",
            1e9,
            1,
            description="Over a billion transaction ids in use: vacuum is behind, wraparound looms.",
        ),
    ]
    found += drill_alarms(env, name)
    if not aurora:  # Aurora storage grows by itself
        found.append(
            threshold_alarm(
                name,
                "free-storage",
                "critical",
                metric("FreeStorageSpace", "Minimum"),
                "LessThanThreshold",
                db.allocated_storage_gib * GIB * 0.1,
                5,
                description="Less than 10% of allocated storage is free.",
            )
        )
    return found
