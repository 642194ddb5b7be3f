"""The provider of EventBridge rules (the Glue job-failure rule the alarms watch)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ops.aws.clients import ClientFactory
from ops.inventory.environment import Environment
from ops.observe.ownership import FINGERPRINT_TAG, is_owned, owned_by_tagging_api, tag_list
from ops.reconcile.model import Observed, Resource

EVENT_RULE_KIND = "event-rule"


def canonical_rule(rule: dict[str, Any]) -> dict[str, Any]:
    pattern = rule.get("EventPattern")
    return {
        "EventPattern": json.dumps(json.loads(pattern), sort_keys=True) if pattern else "",
        "State": rule.get("State", "ENABLED"),
        "Description": rule.get("Description", ""),
    }


class EventRules:
    kind = EVENT_RULE_KIND
    delete_batch = 1
    creates = True
    prunes = True
    write_rate = 10.0

    def __init__(self, factory: ClientFactory, env: Environment) -> None:
        self.factory = factory
        self.env = env
        self.events = factory.client("events")

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        tagged = {
            arn.rsplit("/", 1)[1]: tags
            for arn, tags in owned_by_tagging_api(
                self.factory.client("resourcegroupstaggingapi"), self.env, "events:rule", self.kind
            ).items()
        }
        observed: dict[str, Observed] = {}
        for page in self.events.get_paginator("list_rules").paginate(NamePrefix=self.env.prefix):
            for rule in page.get("Rules", []):
                name = rule["Name"]
                tags = tagged.get(name)
                if tags is None:  # not listed by the tagging API (the emulator lists none)
                    listed = self.events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags", [])
                    tags = {t["Key"]: t["Value"] for t in listed}
                observed[name] = Observed(
                    name,
                    canonical_rule(rule),
                    tags,
                    owned=is_owned(tags, self.env, self.kind),
                    applied_fingerprint=tags.get(FINGERPRINT_TAG, ""),
                    ref=rule["Arn"],
                )
        return list(observed.values())

    def _put(self, resource: Resource, **extra: Any) -> None:
        self.events.put_rule(Name=resource.name, **resource.properties, **extra)

    def create(self, resource: Resource) -> None:
        tags = {**resource.tags, FINGERPRINT_TAG: resource.fingerprint}
        self._put(resource, Tags=tag_list(tags))

    def update(self, resource: Resource, observed: Observed) -> None:
        self._put(resource)
        self.events.tag_resource(
            ResourceARN=observed.ref, Tags=tag_list({FINGERPRINT_TAG: resource.fingerprint})
        )

    def delete(self, observed: Sequence[Observed]) -> None:
        for rule in observed:
            self.events.delete_rule(Name=rule.name)
