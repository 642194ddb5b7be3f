"""The provider of EventBridge rules (the Glue job-failure rule the alarms watch)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ops.observe.providers.base import AwsProvider
from ops.observe.providers.ownership import tag_list
from ops.reconcile.model import Observed, Resource

EVENT_RULE_KIND = "event-rule"


def canonical_rule(rule: dict[str, Any]) -> dict[str, Any]:
    pattern = rule.get("EventPattern")
    return {
        "EventPattern": json.dumps(json.loads(pattern), sort_keys=True) if pattern else "",
        "State": rule.get("State", "ENABLED"),
        "Description": rule.get("Description", ""),
    }


class EventRules(AwsProvider):
    kind = EVENT_RULE_KIND
    title = "EventBridge rules"
    write_rate = 10.0
    needs = frozenset({"events:PutRule", "events:TagResource", "events:DeleteRule"})

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        events = self.client("events")
        tagged = {arn.rsplit("/", 1)[1]: tags for arn, tags in self.owned_arns("events:rule").items()}
        observed: dict[str, Observed] = {}
        for page in events.get_paginator("list_rules").paginate(NamePrefix=self.env.prefix):
            for rule in page.get("Rules", []):
                name = rule["Name"]
                tags = tagged.get(name)
                if tags is None:  # not listed by the tagging API (the emulator lists none)
                    listed = events.list_tags_for_resource(ResourceARN=rule["Arn"]).get("Tags", [])
                    tags = {t["Key"]: t["Value"] for t in listed}
                observed[name] = self.observed(name, rule, tags, owned=self.owns(tags), arn=rule["Arn"])
        return list(observed.values())

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        return canonical_rule(described)

    def _put(self, resource: Resource, **extra: Any) -> None:
        self.client("events").put_rule(Name=resource.name, **resource.properties, **extra)

    def create(self, resource: Resource) -> None:
        self._put(resource, Tags=tag_list(self.tags_to_write(resource)))

    def update(self, resource: Resource, observed: Observed) -> None:
        self._put(resource)
        self.client("events").tag_resource(
            ResourceARN=observed.arn, Tags=tag_list(self.fingerprint_tag(resource))
        )

    def delete(self, observed: Sequence[Observed]) -> None:
        for rule in observed:
            self.client("events").delete_rule(Name=rule.name)
