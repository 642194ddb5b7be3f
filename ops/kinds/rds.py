"""The warehouse database, RDS PostgreSQL or Aurora PostgreSQL (one kind, `engine` tells
them apart): CPU, storage, memory, connections, latency, replica lag and transaction-id
wraparound; and its DR drills."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind
from ops.kinds.db_classes import GIB, memory_bytes
from ops.kinds.seeding import exists, tags_kv

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory

AURORA = "aurora-postgresql"


def max_connections(instance_class: str) -> int:
    """RDS PostgreSQL's default: LEAST(DBInstanceClassMemory / 9531392, 5000)."""
    return min(memory_bytes(instance_class) // 9_531_392, 5000)


# Drills run at least weekly: an alarm holds at most 7 days of periods (CloudWatch:
# Period x EvaluationPeriods <= 604,800 s), so a week is the longest drill period an alarm
# can watch; a period of a day (86,400 s) over 7 periods is exactly that.
DRILL_PERIOD_S = 86_400
DRILL_PERIODS = 7


def drill_alarms(env: Environment, name: str) -> list[AlarmSpec]:
    """A failed, late or missing DR drill (`ops drill run` publishes these metrics; every
    drill, whatever ends it, publishes DrillSuccess: 1 when its objectives were met)."""
    objective = env.spec.objectives.get(name)
    if objective is None:
        return []
    dims = {"Environment": env.name, "Component": name, "Runbook": "rds-pitr"}
    source = "platform-ops: drills publish DrillSuccess and DrillRTOSeconds"
    return [
        threshold_alarm(
            component=name,
            key="drill-failed",
            severity="warning",
            metric=Metric("PlatformOps/Drills", "DrillSuccess", dims, "Minimum", DRILL_PERIOD_S),
            comparison="LessThanThreshold",
            threshold=1,
            periods=1,
            # A day without a drill is normal between weekly drills: drill-overdue alarms
            # on missing drills.
            missing="notBreaching",
            source=source,
            description="A DR drill of this database failed or missed its RPO/RTO objective in the last day.",
        ),
        threshold_alarm(
            component=name,
            key="drill-overdue",
            severity="warning",
            # Maximum: one drill that met its objectives makes its day good.
            metric=Metric("PlatformOps/Drills", "DrillSuccess", dims, "Maximum", DRILL_PERIOD_S),
            comparison="LessThanThreshold",
            threshold=1,
            periods=DRILL_PERIODS,
            # Every day of the week without a drill that met its objectives (none ran, or
            # all failed) breaches: "no drill ran" is an alarm too.
            missing="breaching",
            source=source,
            description=(
                f"No DR drill of this database met its objectives in the last {DRILL_PERIODS} days "
                "(none ran, or every one failed): drills must run at least weekly."
            ),
        ),
        threshold_alarm(
            component=name,
            key="drill-rto",
            severity="warning",
            metric=Metric("PlatformOps/Drills", "DrillRTOSeconds", dims, "Maximum", DRILL_PERIOD_S),
            comparison="GreaterThanThreshold",
            threshold=objective.rto,
            periods=1,
            missing="notBreaching",  # no drill, no figure: drill-overdue covers it
            source=source,
            description=f"A DR drill took longer than the RTO objective ({objective.rto:g} s).",
        ),
    ]


class RdsKind(ComponentKind[Rds]):
    kind = "rds"
    ingest_stage = 7
    overview_panels = 2

    def aws_names(self, env: Environment, db: Rds) -> list[str]:
        return [env.resource_name(db.identifier)]

    def settings(self, db: Rds) -> str:
        multi_az = "Multi-AZ" if db.multi_az else "single-AZ"
        return (
            f"{db.engine} {db.engine_version}, {db.instance_class}, "
            f"{multi_az}, backups {db.backup_retention_days} d"
        )

    def log_groups(self, env: Environment, name: str, db: Rds) -> list[str]:
        kind = "cluster" if db.engine == AURORA else "instance"
        return [f"/aws/rds/{kind}/{env.resource_name(db.identifier)}/postgresql"]

    def seed(self, factory: ClientFactory, env: Environment, name: str, db: Rds) -> dict[str, str]:
        rds = factory.client("rds")
        identifier = env.resource_name(db.identifier)
        # The emulator keeps the password; nothing prints or stores it. The local database
        # itself is reached through the endpoint parameter, on loopback.
        password = secrets.token_urlsafe(24)
        common: dict[str, Any] = {"Tags": tags_kv(env), "DeletionProtection": db.deletion_protection}
        if db.engine == AURORA:
            if not exists(lambda: rds.describe_db_clusters(DBClusterIdentifier=identifier)):
                rds.create_db_cluster(
                    DBClusterIdentifier=identifier,
                    Engine=db.engine,
                    EngineVersion=db.engine_version,
                    DatabaseName=db.database,
                    MasterUsername="postgres",
                    MasterUserPassword=password,
                    BackupRetentionPeriod=db.backup_retention_days,
                    **common,
                )
            instance = f"{identifier}-1"
            if not exists(lambda: rds.describe_db_instances(DBInstanceIdentifier=instance)):
                rds.create_db_instance(
                    DBInstanceIdentifier=instance,
                    DBClusterIdentifier=identifier,
                    Engine=db.engine,
                    DBInstanceClass=db.instance_class,
                    Tags=tags_kv(env),
                )
            return {"cluster": identifier, "writer": instance}
        if not exists(lambda: rds.describe_db_instances(DBInstanceIdentifier=identifier)):
            rds.create_db_instance(
                DBInstanceIdentifier=identifier,
                Engine=db.engine,
                EngineVersion=db.engine_version,
                DBName=db.database,
                DBInstanceClass=db.instance_class,
                AllocatedStorage=db.allocated_storage_gib,
                MultiAZ=db.multi_az,
                MasterUsername="postgres",
                MasterUserPassword=password,
                BackupRetentionPeriod=db.backup_retention_days,
                **common,
            )
        return {"instance": identifier}

    def alarms(self, env: Environment, name: str, db: Rds) -> list[AlarmSpec]:
        identifier = env.resource_name(db.identifier)
        aurora = db.engine == AURORA
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
                component=name,
                key="cpu",
                severity="warning",
                metric=metric("CPUUtilization", "Average"),
                comparison="GreaterThanThreshold",
                threshold=90,
                periods=5,
                missing="breaching",
                description="CPU above 90% for 5 minutes.",
            ),
            threshold_alarm(
                component=name,
                key="freeable-memory",
                severity="warning",
                metric=metric("FreeableMemory", "Average"),
                comparison="LessThanThreshold",
                threshold=memory_bytes(db.instance_class) * memory_share,
                periods=15,
                description=f"Freeable memory below {memory_share:.0%} of {db.instance_class}'s memory.",
                source=f"AWS recommended ({memory_share:.0%} of memory; {db.instance_class} taken as "
                f"{memory_bytes(db.instance_class) // GIB} GiB)",
            ),
            threshold_alarm(
                component=name,
                key="connections",
                severity="warning",
                metric=metric("DatabaseConnections", "Maximum"),
                comparison="GreaterThanThreshold",
                threshold=round(max_connections(db.instance_class) * 0.9),
                periods=5,
                description="Connections above 90% of max_connections: new clients will be refused.",
                source="AWS recommended (90% of the class's default max_connections)",
            ),
            threshold_alarm(
                component=name,
                key="read-latency",
                severity="warning",
                metric=metric("ReadLatency", "p90"),
                comparison="GreaterThanThreshold",
                threshold=0.02,
                periods=5,
                description="p90 read latency above 20 ms.",
            ),
            threshold_alarm(
                component=name,
                key="write-latency",
                severity="warning",
                metric=metric("WriteLatency", "p90"),
                comparison="GreaterThanThreshold",
                threshold=0.02,
                periods=5,
                description="p90 write latency above 20 ms.",
            ),
            threshold_alarm(
                component=name,
                key="replica-lag",
                severity="warning",
                metric=metric("AuroraReplicaLagMaximum" if aurora else "ReplicaLag", "Maximum"),
                comparison="GreaterThanThreshold",
                threshold=60_000 if aurora else 60,
                periods=10,
                missing="notBreaching",
                description="Replicas are more than 60 s behind: a failover would lose that much.",
            ),
            threshold_alarm(
                component=name,
                key="transaction-ids",
                severity="critical",
                metric=metric("MaximumUsedTransactionIDs", "Average"),
                comparison="GreaterThanThreshold",
                threshold=1e9,
                periods=1,
                description="Over a billion transaction ids in use: vacuum is behind, wraparound looms.",
            ),
        ]
        found += drill_alarms(env, name)
        if not aurora:  # Aurora storage grows by itself
            found.append(
                threshold_alarm(
                    component=name,
                    key="free-storage",
                    severity="critical",
                    metric=metric("FreeStorageSpace", "Minimum"),
                    comparison="LessThanThreshold",
                    threshold=db.allocated_storage_gib * GIB * 0.1,
                    periods=5,
                    description="Less than 10% of allocated storage is free.",
                )
            )
        return found


KIND = RdsKind()
