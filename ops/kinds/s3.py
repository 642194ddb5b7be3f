"""S3, the lake (a bucket per zone): request error rates per zone bucket, and replication
failures where replicated.

4xx/5xx need the bucket's request metrics enabled with the filter `EntireBucket`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import S3Lake
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind
from ops.kinds.seeding import tags_kv

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory

REQUEST_METRICS_FILTER = "EntireBucket"
REPLICATION_RULE = "replicate-all"


def replica_bucket(env: Environment, bucket: str, region: str) -> str:
    """The naming convention of a zone's replica: `<bucket>-<region>`."""
    return f"{env.resource_name(bucket)}-{region}"


class S3Kind(ComponentKind[S3Lake]):
    kind = "s3"
    ingest_stage = 6
    overview_panels = 1

    def aws_names(self, env: Environment, lake: S3Lake) -> list[str]:
        return [env.resource_name(bucket.bucket) for _, bucket in lake.zones]

    def settings(self, lake: S3Lake) -> str:
        return "zones raw, processed, curated"

    def seed(self, factory: ClientFactory, env: Environment, name: str, lake: S3Lake) -> dict[str, str]:
        s3 = factory.client("s3")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        buckets: dict[str, str] = {}
        for zone, spec in lake.zones:
            bucket = env.resource_name(spec.bucket)
            if bucket not in existing:
                if env.region == "us-east-1":
                    s3.create_bucket(Bucket=bucket)
                else:
                    s3.create_bucket(
                        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": env.region}
                    )
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags_kv(env)})
            if spec.versioning:
                s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            if spec.replicate_to_region:
                _seed_replication(s3, env, name, bucket, spec.replicate_to_region)
            buckets[zone] = bucket
        return buckets

    def alarms(self, env: Environment, name: str, lake: S3Lake) -> list[AlarmSpec]:
        found: list[AlarmSpec] = []
        for zone, bucket in lake.zones:
            bucket_name = env.resource_name(bucket.bucket)
            dims = {"BucketName": bucket_name, "FilterId": REQUEST_METRICS_FILTER}
            found += [
                threshold_alarm(
                    component=name,
                    key="4xx-rate",
                    severity="warning",
                    metric=Metric("AWS/S3", "4xxErrors", dims, "Average"),
                    comparison="GreaterThanThreshold",
                    threshold=0.05,
                    periods=15,
                    qualifier=zone,
                    missing="notBreaching",
                    description=(
                        f"Over 5% of requests to the {zone} zone are client errors (denied, missing)."
                    ),
                ),
                threshold_alarm(
                    component=name,
                    key="5xx-rate",
                    severity="critical",
                    metric=Metric("AWS/S3", "5xxErrors", dims, "Average"),
                    comparison="GreaterThanThreshold",
                    threshold=0.05,
                    periods=15,
                    qualifier=zone,
                    missing="notBreaching",
                    description=f"More than 5% of requests to the {zone} zone fail on S3's side.",
                ),
            ]
            if bucket.replicate_to_region:
                replication = {
                    "SourceBucket": bucket_name,
                    "DestinationBucket": replica_bucket(env, bucket.bucket, bucket.replicate_to_region),
                    "RuleId": REPLICATION_RULE,
                }
                found.append(
                    threshold_alarm(
                        component=name,
                        key="replication-failures",
                        severity="critical",
                        metric=Metric("AWS/S3", "OperationsFailedReplication", replication, "Maximum"),
                        comparison="GreaterThanThreshold",
                        threshold=0,
                        periods=5,
                        qualifier=zone,
                        missing="notBreaching",
                        description=f"{zone} zone objects fail to replicate to {bucket.replicate_to_region}.",
                    )
                )
        return found


KIND = S3Kind()


def _seed_replication(s3: Any, env: Environment, name: str, bucket: str, region: str) -> None:
    """Cross-region replication as the platform's Terraform makes it: every object to a
    versioned copy bucket in `region`, with Replication Time Control when the lake's RPO is
    15 minutes or less (its guarantee)."""
    replica = f"{bucket}-{region}"
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if replica not in existing:
        s3.create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    objective = env.spec.objectives.get(name)
    destination: dict[str, Any] = {"Bucket": f"arn:aws:s3:::{replica}"}
    if objective is not None and objective.rpo <= 15 * 60:
        destination["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
        destination["Metrics"] = {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    rule = {
        "ID": "dr",
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": destination,
    }
    role = f"arn:aws:iam::{env.meta.account_id or '123456789012'}:role/{env.prefix}-s3-replication"
    s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration={"Role": role, "Rules": [rule]})
