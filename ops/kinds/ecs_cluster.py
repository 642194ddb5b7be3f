"""ECS clusters (the collectors' and the load tests' tasks run there): Container Insights,
which the collectors' alarms read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ops.inventory.components import EcsCluster
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory


def _insights(cluster: EcsCluster) -> str:
    return "enabled" if cluster.container_insights else "disabled"


class EcsClusterKind(ComponentKind[EcsCluster]):
    kind = "ecs_cluster"

    def aws_names(self, env: Environment, cluster: EcsCluster) -> list[str]:
        return [env.resource_name(cluster.cluster_name)]

    def settings(self, cluster: EcsCluster) -> str:
        return "Container Insights on" if cluster.container_insights else "Container Insights off"

    def cluster_settings(self, env: Environment, cluster: EcsCluster) -> dict[str, dict[str, str]]:
        return {env.resource_name(cluster.cluster_name): {"containerInsights": _insights(cluster)}}

    def seed(
        self, factory: ClientFactory, env: Environment, name: str, cluster: EcsCluster
    ) -> dict[str, str]:
        created = factory.client("ecs").create_cluster(
            clusterName=env.resource_name(cluster.cluster_name),
            settings=[{"name": "containerInsights", "value": _insights(cluster)}],
            tags=[{"key": k, "value": v} for k, v in env.ownership_tags().items()],
        )
        return {"arn": created["cluster"]["clusterArn"]}


KIND = EcsClusterKind()
