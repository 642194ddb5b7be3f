"""The provider of CloudWatch Logs log groups and their retention.

Log groups are never pruned: deleting one deletes its logs. A group no longer desired is
shown and kept."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ops.aws.clients import ClientFactory
from ops.inventory.environment import Environment
from ops.observe.providers.base import AwsProvider
from ops.reconcile.model import Observed, Resource

LOG_GROUP_KIND = "log-group"


class LogGroups(AwsProvider):
    kind = LOG_GROUP_KIND
    title = "log groups"
    prunes = False  # deleting a group deletes its logs
    write_rate = 5.0  # CreateLogGroup and PutRetentionPolicy: 5 a second by default
    needs = frozenset({"logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource"})

    def __init__(
        self, factory: ClientFactory, env: Environment, prefixes: Sequence[str], regions: Sequence[str]
    ) -> None:
        super().__init__(factory, env)
        self.prefixes = sorted(set(prefixes))  # where our groups live: one listing each
        self.regions = sorted(set(regions) | {env.region})

    def _logs(self, region: str) -> Any:
        return self.client("logs", region)

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        observed: list[Observed] = []
        for region in self.regions:
            names = [r.name for r in desired if (r.region or self.env.region) == region]
            observed += self._read_region(region, names).values()
        return observed

    def _read_region(self, region: str, names: list[str]) -> dict[str, Observed]:
        tagged = {
            arn.split(":log-group:", 1)[1].removesuffix(":*"): tags
            for arn, tags in self.owned_arns("logs:log-group", region).items()
        }
        logs = self._logs(region)
        observed: dict[str, Observed] = {}
        for group in self._listed(logs, _common_prefixes(names + self.prefixes)):
            name = group["logGroupName"]
            arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
            tags = tagged.get(name)
            if tags is None:
                # The tagging API does not list every group (the emulator lists none):
                # ask the group itself, only for groups under our own prefixes.
                tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
            observed[name] = self.observed(
                name, group, tags, owned=self.owns(tags), arn=arn, region=self.region_label(region)
            )
        return observed

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        return {"retentionInDays": described.get("retentionInDays")}

    def _listed(self, logs: Any, prefixes: list[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        paginator = logs.get_paginator("describe_log_groups")
        for prefix in prefixes:
            for page in paginator.paginate(logGroupNamePrefix=prefix):
                found += page.get("logGroups", [])
        return found

    def create(self, resource: Resource) -> None:
        logs = self._logs(resource.region or self.env.region)
        logs.create_log_group(logGroupName=resource.name, tags=self.tags_to_write(resource))
        logs.put_retention_policy(
            logGroupName=resource.name, retentionInDays=resource.properties["retentionInDays"]
        )

    def update(self, resource: Resource, observed: Observed) -> None:
        logs = self._logs(resource.region or self.env.region)
        logs.put_retention_policy(
            logGroupName=resource.name, retentionInDays=resource.properties["retentionInDays"]
        )
        logs.tag_resource(resourceArn=observed.arn, tags=self.fingerprint_tag(resource))


def _common_prefixes(names: list[str]) -> list[str]:
    """A few listing prefixes that cover every name: names grouped by their first two
    path segments, each group by its longest common prefix."""
    groups: dict[str, list[str]] = {}
    for name in names:
        head = "/".join(name.split("/")[:3])
        groups.setdefault(head, []).append(name)
    # A character-wise common prefix is what a name-prefix listing wants.
    return sorted(os.path.commonprefix(members) for members in groups.values())  # noqa: RUF071
