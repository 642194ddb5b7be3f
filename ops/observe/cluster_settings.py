"""Container Insights on the platform's ECS clusters: a setting of clusters that exist
already (Terraform creates them), changed only on clusters we own."""

from __future__ import annotations

from collections.abc import Sequence

from ops.aws.clients import ClientFactory
from ops.inventory.environment import Environment
from ops.observe.ownership import FINGERPRINT_TAG, chunks, owned_by_environment
from ops.reconcile.model import Observed, Resource

CLUSTER_SETTINGS_KIND = "container-insights"
DESCRIBE_BATCH = 100  # DescribeClusters takes up to 100 clusters a call


class ClusterSettings:
    kind = CLUSTER_SETTINGS_KIND
    delete_batch = 1
    creates = False
    prunes = False
    write_rate = 1.0

    def __init__(self, factory: ClientFactory, env: Environment) -> None:
        self.env = env
        self.ecs = factory.client("ecs")

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        observed: dict[str, Observed] = {}
        for batch in chunks([r.name for r in desired], DESCRIBE_BATCH):
            answer = self.ecs.describe_clusters(clusters=batch, include=["SETTINGS", "TAGS"])
            for cluster in answer.get("clusters", []):
                if cluster.get("status") != "ACTIVE":
                    continue
                tags = {t["key"]: t["value"] for t in cluster.get("tags", [])}
                settings = {s["name"]: s["value"] for s in cluster.get("settings", [])}
                name = cluster["clusterName"]
                observed[name] = Observed(
                    name,
                    {"containerInsights": settings.get("containerInsights", "disabled")},
                    tags,
                    # Ownership of a cluster is the environment's (its tags), not a kind's.
                    owned=owned_by_environment(tags, self.env),
                    applied_fingerprint=tags.get(FINGERPRINT_TAG, ""),
                    ref=cluster["clusterArn"],
                )
        return list(observed.values())

    def create(self, resource: Resource) -> None:
        raise NotImplementedError("clusters are created by Terraform")  # creates = False

    def update(self, resource: Resource, observed: Observed) -> None:
        value = resource.properties["containerInsights"]
        self.ecs.update_cluster(
            cluster=resource.name, settings=[{"name": "containerInsights", "value": value}]
        )
        self.ecs.tag_resource(
            resourceArn=observed.ref, tags=[{"key": FINGERPRINT_TAG, "value": resource.fingerprint}]
        )

    def delete(self, observed: Sequence[Observed]) -> None:
        raise NotImplementedError("cluster settings are never deleted")  # prunes = False
