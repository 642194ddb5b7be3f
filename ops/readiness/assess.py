"""`ops dr assess`: every stateful component with a DR objective, its recovery mechanisms as
configured in the environment's AWS (the emulator's for the local platform), the alarms that
must watch them, and its last drill; each judged (ops/readiness/model.py).

The read calls are batched: one DescribeDBInstances and one DescribeDBClusters for every
database, one DescribeAlarms listing (paged) for every alarm, per bucket its versioning and
replication. What only the platform can say (how far back a restore reaches, whether a
replicator copies within the objective) comes from `Probes`: AWS's API here, the local
platform's real PostgreSQL and MirrorMaker 2 there (ops/local/readiness.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from ops.inventory.components import DocumentDb, Msk, MskReplicator, Rds, S3Lake
from ops.inventory.environment import Environment
from ops.kinds.registry import kind_of
from ops.readiness.model import DEFAULT_DRILL_PERIOD_S, Assessment, ComponentReadiness, Finding

AURORA = "aurora-postgresql"
RTC_NEEDED_BELOW_S = 15 * 60.0  # S3 Replication Time Control's SLA: 99.99% within 15 minutes


class Probes(Protocol):
    def restore_reaches(self, component: str, described: dict[str, Any] | None, rpo: float) -> Finding:
        """How recent the newest restorable moment is, against the RPO."""

    def replication(self, replicator: str, rpo: float) -> Finding:
        """The replicator runs and keeps its target within the RPO."""

    def readers(self, wanted: int, described: dict[str, Any], rpo: float) -> Finding:
        """The database's readers (what a writer failover promotes): as many as wanted."""


@dataclass
class AwsReads:
    """The environment's AWS, read once per kind of resource."""

    factory: Any

    def instances(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for page in self.factory.client("rds").get_paginator("describe_db_instances").paginate():
            found.update({i["DBInstanceIdentifier"]: i for i in page.get("DBInstances", [])})
        return found

    def clusters(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for page in self.factory.client("rds").get_paginator("describe_db_clusters").paginate():
            found.update({c["DBClusterIdentifier"]: c for c in page.get("DBClusters", [])})
        return found

    def alarms(self, prefix: str) -> set[str]:
        paginator = self.factory.client("cloudwatch").get_paginator("describe_alarms")
        return {
            alarm["AlarmName"]
            for page in paginator.paginate(AlarmNamePrefix=prefix)
            for alarm in page.get("MetricAlarms", [])
        }


def assess(
    env: Environment,
    reads: AwsReads,
    probes: Probes,
    history: list[dict[str, Any]],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    unassessed: dict[str, str] | None = None,
) -> Assessment:
    """`unassessed`: component kinds the target cannot show (the emulator has no DocumentDB),
    with why: their components are listed as not assessed, not judged."""
    instances, clusters = reads.instances(), reads.clusters()
    alarms = reads.alarms(f"{env.prefix}-")
    found: list[ComponentReadiness] = []
    skipped: dict[str, str] = {}
    for name, objective in env.spec.objectives.items():
        component = env.spec.components.get(name)
        if component is None:
            continue
        if unassessed and component.kind in unassessed:
            skipped[name] = unassessed[component.kind]
            continue
        rpo, rto = float(objective.rpo), float(objective.rto)
        readiness = ComponentReadiness(name, component.kind, rpo, rto)
        if isinstance(component, Rds):
            readiness.findings += _database(env, component, instances, clusters, probes, name, rpo)
        elif isinstance(component, DocumentDb):
            readiness.findings += _documents(env, component, clusters)
        elif isinstance(component, Msk):
            readiness.findings += _cluster(env, name, probes, rpo)
        elif isinstance(component, S3Lake):
            readiness.findings += _lake(env, component, reads.factory.client("s3"), rpo)
        readiness.findings += _alarms(env, name, component, alarms, unassessed or {})
        policy = env.spec.drill_policy.get(name, {})
        readiness.drill_period_seconds = min(policy.values(), default=DEFAULT_DRILL_PERIOD_S)
        readiness.last_drill = _last_drill(env, name, history)
        readiness.judge(now())
        found.append(readiness)
    calls = reads.factory.stats.as_dict() if hasattr(reads.factory, "stats") else {}
    return Assessment(env.name, now().isoformat(), found, calls, skipped)


# --- databases -----------------------------------------------------------------------------
def _database(
    env: Environment,
    db: Rds,
    instances: dict[str, dict[str, Any]],
    clusters: dict[str, dict[str, Any]],
    probes: Probes,
    name: str,
    rpo: float,
) -> list[Finding]:
    identifier = env.resource_name(db.identifier)
    described = (clusters if db.engine == AURORA else instances).get(identifier)
    if described is None:
        return [Finding("database", False, f"{identifier} not found in {env.region}")]
    days = int(described.get("BackupRetentionPeriod") or 0)
    findings = [
        Finding(
            "automated backups",
            days >= 1,
            f"retention {days} days" if days else "off (BackupRetentionPeriod 0): no point-in-time restore",
        ),
        probes.restore_reaches(name, described, rpo),
    ]
    if db.readers:
        findings.append(probes.readers(db.readers, described, rpo))
    if db.multi_az:
        multi = bool(described.get("MultiAZ")) or db.engine == AURORA
        findings.append(
            Finding("Multi-AZ", multi, "on" if multi else "off, though the inventory asks for it")
        )
    return findings


def _documents(env: Environment, docdb: DocumentDb, clusters: dict[str, dict[str, Any]]) -> list[Finding]:
    identifier = env.resource_name(docdb.cluster_identifier)
    described = clusters.get(identifier)
    if described is None:
        return [Finding("cluster", False, f"{identifier} not found in {env.region}")]
    days = int(described.get("BackupRetentionPeriod") or 0)
    members = len(described.get("DBClusterMembers", []))
    return [
        Finding("automated backups", days >= 1, f"retention {days} days"),
        Finding("instances", members >= min(2, docdb.instance_count), f"{members} in the cluster"),
    ]


# --- Kafka -----------------------------------------------------------------------------------
def _cluster(env: Environment, name: str, probes: Probes, rpo: float) -> list[Finding]:
    replicators = [r for r, c in env.components_of(MskReplicator).items() if c.source == name]
    if not replicators:
        return [Finding("replicator", False, "no msk_replicator copies it to another region")]
    return [probes.replication(replicator, rpo) for replicator in replicators]


# --- the lake ----------------------------------------------------------------------------------
def _lake(env: Environment, lake: S3Lake, s3: Any, rpo: float) -> list[Finding]:
    findings: list[Finding] = []
    for zone, spec in lake.zones:
        bucket = env.resource_name(spec.bucket)
        try:
            status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "off")
        except ClientError as error:
            findings.append(Finding(f"{zone}: bucket", False, f"{bucket}: {error.response['Error']['Code']}"))
            continue
        if spec.versioning:
            findings.append(Finding(f"{zone}: versioning", status == "Enabled", f"{bucket}: {status}"))
        if spec.replicate_to_region:
            findings.append(_replication(s3, bucket, rpo))
    return findings


def _replication(s3: Any, bucket: str, rpo: float) -> Finding:
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"].get("Rules", [])
    except ClientError as error:
        return Finding(
            f"{bucket}: replication", False, f"no replication rule ({error.response['Error']['Code']})"
        )
    enabled = [r for r in rules if r.get("Status") == "Enabled"]
    if not enabled:
        return Finding(f"{bucket}: replication", False, "its replication rules are all disabled")
    if rpo <= RTC_NEEDED_BELOW_S:
        timed = [
            r
            for r in enabled
            if (r.get("Destination", {}).get("ReplicationTime") or {}).get("Status") == "Enabled"
        ]
        if not timed:
            return Finding(
                f"{bucket}: replication",
                False,
                f"no Replication Time Control: an RPO of {rpo / 60:g} min needs its 15-minute guarantee",
            )
        return Finding(f"{bucket}: replication", True, "enabled, with Replication Time Control")
    return Finding(f"{bucket}: replication", True, "enabled")


# --- alarms and drills ---------------------------------------------------------------------------
def _alarms(
    env: Environment, name: str, component: Any, existing: set[str], unassessed: dict[str, str]
) -> list[Finding]:
    """The alarms that watch recovery: a database's drill alarms, a replicator's (unless the
    target cannot hold replicators, as the emulator cannot: then none are made there)."""
    wanted: list[str] = []
    if isinstance(component, Rds):
        wanted = [
            a.name(env.prefix) for a in kind_of(component).alarms(env, name, component) if "drill" in a.key
        ]
    elif isinstance(component, Msk) and "msk_replicator" not in unassessed:
        for replicator, spec in env.components_of(MskReplicator).items():
            if spec.source == name:
                wanted += [a.name(env.prefix) for a in kind_of(spec).alarms(env, replicator, spec)]
    if not wanted:
        return []
    missing = [alarm for alarm in wanted if alarm not in existing]
    detail = f"{len(wanted) - len(missing)} of {len(wanted)} in place"
    if missing:
        detail += (
            f"; missing {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''} (`ops observe apply`)"
        )
    return [Finding("recovery alarms", not missing, detail)]


def _last_drill(env: Environment, name: str, history: list[dict[str, Any]]) -> dict[str, Any] | None:
    drills = [e for e in history if e.get("environment") == env.name and e.get("component") == name]
    ended = [e for e in drills if e.get("status") != "running"]
    if not ended:
        return None
    last = ended[-1]
    outcome = (
        "met its objectives"
        if last.get("objectives_met")
        else ("missed an objective" if last.get("success") else "failed")
    )
    return {
        "drill_id": last.get("drill_id"),
        "runbook": last.get("runbook"),
        "ended_at": last.get("ended_at"),
        "rto_seconds": last.get("rto_seconds"),
        "rpo_seconds": last.get("rpo_seconds"),
        "objectives_met": bool(last.get("objectives_met")),
        "outcome": outcome,
        # "cloudwatch": a drill that ran elsewhere (a scheduled task), read from its metrics
        "source": last.get("source", "local"),
    }
