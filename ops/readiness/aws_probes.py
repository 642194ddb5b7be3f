"""What `ops dr assess` asks AWS in a cloud environment: the newest restorable moment of a
database (its LatestRestorableTime), and an MSK replicator's state and ReplicationLatency
(in its target cluster's region)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ops.inventory.components import Msk, MskReplicator
from ops.inventory.environment import Environment
from ops.readiness.model import Finding

LATENCY_LOOK_BACK = timedelta(minutes=10)


class AwsProbes:
    def __init__(self, env: Environment, factory: Any) -> None:
        self.env, self.factory = env, factory

    def restore_reaches(self, component: str, described: dict[str, Any] | None, rpo: float) -> Finding:
        latest = (described or {}).get("LatestRestorableTime")
        if not isinstance(latest, datetime):
            return Finding("point-in-time window", None, "AWS reports no LatestRestorableTime")
        age = (datetime.now(UTC) - latest).total_seconds()
        detail = f"the newest restorable moment is {age:.0f} s old (RPO {rpo:g} s)"
        return Finding("point-in-time window", age <= rpo, detail)

    def readers(self, wanted: int, described: dict[str, Any], rpo: float) -> Finding:
        """An Aurora cluster's reader instances (DescribeDBClusters' members, already read)."""
        if "DBClusterMembers" not in described:
            return Finding(
                "readers", False, "an RDS PostgreSQL instance has no readers: use aurora-postgresql"
            )
        members = described["DBClusterMembers"]
        found = sum(1 for member in members if not member.get("IsClusterWriter"))
        return Finding("readers", found >= wanted, f"{found} reader(s) in the cluster ({wanted} wanted)")

    def replication(self, replicator: str, rpo: float) -> Finding:
        spec = self.env.components_of(MskReplicator)[replicator]
        target = self.env.spec.components.get(spec.target)
        region = (target.region if isinstance(target, Msk) else None) or self.env.region
        name = self.env.resource_name(spec.replicator_name)
        check = f"replicator {replicator}"
        kafka = self.factory.client("kafka", region=region)
        listed = kafka.list_replicators(ReplicatorNameFilter=name).get("Replicators", [])
        found = next((r for r in listed if r.get("ReplicatorName") == name), None)
        if found is None:
            return Finding(check, False, f"no MSK replicator {name} in {region}")
        state = found.get("ReplicatorState")
        if state != "RUNNING":
            return Finding(check, False, f"{name} is {state}, not RUNNING")
        end = datetime.now(UTC)
        answer = self.factory.client("cloudwatch", region=region).get_metric_statistics(
            Namespace="AWS/Kafka",
            MetricName="ReplicationLatency",
            Dimensions=[{"Name": "ReplicatorName", "Value": name}],
            StartTime=end - LATENCY_LOOK_BACK,
            EndTime=end,
            Period=60,
            Statistics=["Maximum"],
        )
        points = answer.get("Datapoints", [])
        if not points:
            return Finding(check, None, f"{name} RUNNING; no ReplicationLatency in the last 10 minutes")
        latency = max(float(p["Maximum"]) for p in points) / 1000  # milliseconds
        detail = f"{name} RUNNING; replication latency up to {latency:g} s (RPO {rpo:g} s)"
        return Finding(check, latency <= rpo, detail)
