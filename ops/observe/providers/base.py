"""What the AWS providers share: the environment's clients, its region, its ownership tags."""

from __future__ import annotations

from typing import Any

from ops.aws.clients import ClientFactory
from ops.inventory.environment import Environment
from ops.observe.providers.ownership import is_owned, owned_by_tagging_api
from ops.reconcile.provider import BaseProvider


class AwsProvider(BaseProvider):
    """A provider of one environment's AWS resources of one kind."""

    def __init__(self, factory: ClientFactory, env: Environment) -> None:
        self.factory = factory
        self.env = env

    def client(self, service: str, region: str | None = None) -> Any:
        return self.factory.client(service, region=region)

    def region_label(self, region: str) -> str:
        """A region as resources carry it: empty for the environment's own."""
        return "" if region == self.env.region else region

    def owns(self, tags: dict[str, str]) -> bool:
        return is_owned(tags, self.env, self.kind)

    def owned_arns(self, resource_type: str, region: str | None = None) -> dict[str, dict[str, str]]:
        """ARN -> tags of the kind's resources this environment owns, from the tagging API."""
        tagging = self.client("resourcegroupstaggingapi", region)
        return owned_by_tagging_api(tagging, self.env, resource_type, self.kind)
