"""Container Insights on the platform's ECS clusters: a setting of clusters that exist
already (Terraform creates them), changed only on clusters we own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ops.observe.providers.base import AwsProvider
from ops.observe.providers.ownership import chunks, owned_by_environment
from ops.reconcile.model import Observed, Resource

CLUSTER_SETTINGS_KIND = "container-insights"
DESCRIBE_BATCH = 100  # DescribeClusters takes up to 100 clusters a call


class ClusterSettings(AwsProvider):
    kind = CLUSTER_SETTINGS_KIND
    title = "Container Insights settings"
    creates = False  # clusters are created by Terraform
    prunes = False  # a setting is never deleted
    needs = frozenset({"ecs:UpdateCluster", "ecs:TagResource"})

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        ecs = self.client("ecs")
        observed: dict[str, Observed] = {}
        for batch in chunks([r.name for r in desired], DESCRIBE_BATCH):
            answer = ecs.describe_clusters(clusters=batch, include=["SETTINGS", "TAGS"])
            for cluster in answer.get("clusters", []):
                if cluster.get("status") != "ACTIVE":
                    continue
                tags = {t["key"]: t["value"] for t in cluster.get("tags", [])}
                name = cluster["clusterName"]
                # Ownership of a cluster is the environment's (its tags), not a kind's.
                owned = owned_by_environment(tags, self.env)
                observed[name] = self.observed(name, cluster, tags, owned=owned, arn=cluster["clusterArn"])
        return list(observed.values())

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        settings = {s["name"]: s["value"] for s in described.get("settings", [])}
        return {"containerInsights": settings.get("containerInsights", "disabled")}

    def update(self, resource: Resource, observed: Observed) -> None:
        ecs = self.client("ecs")
        value = resource.properties["containerInsights"]
        ecs.update_cluster(cluster=resource.name, settings=[{"name": "containerInsights", "value": value}])
        tags = [{"key": k, "value": v} for k, v in self.fingerprint_tag(resource).items()]
        ecs.tag_resource(resourceArn=observed.arn, tags=tags)
