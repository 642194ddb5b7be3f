"""S3: request error rates per zone bucket, and replication failures where replicated.

4xx/5xx need the bucket's request metrics enabled with the filter `EntireBucket`."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import S3Lake
from ops.inventory.environment import Environment

REQUEST_METRICS_FILTER = "EntireBucket"
REPLICATION_RULE = "replicate-all"


def replica_bucket(env: Environment, bucket: str, region: str) -> str:
    """The naming convention of a zone's replica: `<bucket>-<region>`."""
    return f"{env.resource_name(bucket)}-{region}"


def alarms(env: Environment, name: str, lake: S3Lake) -> list[AlarmSpec]:
    found: list[AlarmSpec] = []
    for zone, bucket in lake.zones:
        bucket_name = env.resource_name(bucket.bucket)
        dims = {"BucketName": bucket_name, "FilterId": REQUEST_METRICS_FILTER}
        found += [
            threshold_alarm(
                name,
                "4xx-rate",
                "warning",
                Metric("AWS/S3", "4xxErrors", dims, "Average"),
                "GreaterThanThreshold",
                0.05,
                15,
                qualifier=zone,
                missing="notBreaching",
                description=f"Over 5% of requests to the {zone} zone are client errors (denied, missing).",
            ),
            threshold_alarm(
                name,
                "5xx-rate",
                "critical",
                Metric("AWS/S3", "5xxErrors", dims, "Average"),
                "GreaterThanThreshold",
                0.05,
                15,
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
                    name,
                    "replication-failures",
                    "critical",
                    Metric("AWS/S3", "OperationsFailedReplication", replication, "Maximum"),
                    "GreaterThanThreshold",
                    0,
                    5,
                    qualifier=zone,
                    missing="notBreaching",
                    description=f"{zone} zone objects fail to replicate to {bucket.replicate_to_region}.",
                )
            )
    return found
