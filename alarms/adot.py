"""The ADOT collectors themselves: a gateway collector that is down loses every signal."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Adot, EcsCluster
from ops.inventory.environment import Environment

SOURCE = "platform-ops default: a collector service must keep its tasks running"


def alarms(env: Environment, name: str, adot: Adot) -> list[AlarmSpec]:
    cluster = env.component(adot.ecs_cluster)
    assert isinstance(cluster, EcsCluster)
    found: list[AlarmSpec] = []
    for collector in adot.collectors:
        if collector.mode != "gateway":
            continue  # sidecars and Lambda layers live and die with what they serve
        dims = {
            "ClusterName": env.resource_name(cluster.cluster_name),
            "ServiceName": env.resource_name(collector.name),
        }
        found += [
            threshold_alarm(
                name,
                "running-tasks",
                "critical",
                Metric("ECS/ContainerInsights", "RunningTaskCount", dims, "Minimum"),
                "LessThanThreshold",
                1,
                3,
                missing="breaching",
                qualifier=collector.name,
                source=SOURCE,
                description=f"The {collector.name} collector has no running task: telemetry is being lost.",
            ),
            threshold_alarm(
                name,
                "memory",
                "warning",
                Metric("ECS/ContainerInsights", "MemoryUtilized", dims, "Maximum"),
                "GreaterThanThreshold",
                1600,
                5,
                qualifier=collector.name,
                source=SOURCE,
                description=f"The {collector.name} collector uses over 1.6 GB: memory_limiter drops data.",
            ),
        ]
    return found
