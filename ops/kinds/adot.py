"""The ADOT collectors themselves: a gateway collector that is down loses every signal."""

from __future__ import annotations

from adot.generate import emf_log_group
from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Adot, EcsCluster
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind

SOURCE = "platform-ops default: a collector service must keep its tasks running"


def collector_log_group(env: Environment, collector: str) -> str:
    """Where a collector's container logs go (its task definition names it too)."""
    return f"/{env.platform}/{env.name}/adot/{env.resource_name(collector)}"


class AdotKind(ComponentKind[Adot]):
    kind = "adot"

    def aws_names(self, env: Environment, adot: Adot) -> list[str]:
        return [env.resource_name(c.name) for c in adot.collectors]

    def settings(self, adot: Adot) -> str:
        return ", ".join(f"{c.name} ({c.mode})" for c in adot.collectors)

    def log_groups(self, env: Environment, name: str, adot: Adot) -> list[str]:
        collectors = [collector_log_group(env, c.name) for c in adot.collectors if c.mode != "lambda"]
        return [*collectors, emf_log_group(env)]  # container logs, and awsemf's metrics

    def alarms(self, env: Environment, name: str, adot: Adot) -> list[AlarmSpec]:
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
                    component=name,
                    key="running-tasks",
                    severity="critical",
                    metric=Metric("ECS/ContainerInsights", "RunningTaskCount", dims, "Minimum"),
                    comparison="LessThanThreshold",
                    threshold=1,
                    periods=3,
                    missing="breaching",
                    qualifier=collector.name,
                    source=SOURCE,
                    description=(
                        f"The {collector.name} collector has no running task: telemetry is being lost."
                    ),
                ),
                threshold_alarm(
                    component=name,
                    key="memory",
                    severity="warning",
                    metric=Metric("ECS/ContainerInsights", "MemoryUtilized", dims, "Maximum"),
                    comparison="GreaterThanThreshold",
                    threshold=1600,
                    periods=5,
                    qualifier=collector.name,
                    source=SOURCE,
                    description=(
                        f"The {collector.name} collector uses over 1.6 GB: memory_limiter drops data."
                    ),
                ),
            ]
        return found


KIND = AdotKind()
