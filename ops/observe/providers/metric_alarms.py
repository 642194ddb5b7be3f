"""The provider of CloudWatch metric alarms: batch reads, rate-limited writes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ops.aws.clients import ClientFactory
from ops.inventory.environment import Environment
from ops.observe.providers.alarm_shape import canonical
from ops.observe.providers.base import AwsProvider
from ops.observe.providers.ownership import chunks, tag_list
from ops.reconcile.model import Observed, Resource

DESCRIBE_BATCH = 100  # DescribeAlarms takes up to 100 names a call
ALARM_KIND = "alarm"


class MetricAlarms(AwsProvider):
    """Metric alarms (static thresholds, metric math, anomaly bands)."""

    kind = ALARM_KIND
    title = "metric alarms"
    delete_batch = 100  # DeleteAlarms takes up to 100 names a call
    needs = frozenset({"cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:DeleteAlarms"})
    alarm_type = "MetricAlarm"

    def __init__(
        self, factory: ClientFactory, env: Environment, regions: Sequence[str], write_rate: float
    ) -> None:
        super().__init__(factory, env)
        self.regions = sorted(set(regions) | {env.region})
        self.write_rate = write_rate

    def _cloudwatch(self, region: str) -> Any:
        return self.client("cloudwatch", region)

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        wanted: dict[str, list[str]] = defaultdict(list)
        for resource in desired:
            wanted[resource.region or self.env.region].append(resource.name)
        observed: list[Observed] = []
        for region in sorted(set(self.regions) | set(wanted)):
            observed += self._read_region(region, wanted.get(region, [])).values()
        return observed

    def _read_region(self, region: str, names: list[str]) -> dict[str, Observed]:
        owned = {
            arn.split(":alarm:", 1)[1]: tags
            for arn, tags in self.owned_arns("cloudwatch:alarm", region).items()
        }
        observed: dict[str, Observed] = {}
        # Owned names are described too: the tagging API is eventually consistent (and the
        # emulator keeps a deleted alarm's tags), so an orphan must exist to be pruned.
        for batch in chunks(sorted(set(names) | set(owned)), DESCRIBE_BATCH):
            answer = self._cloudwatch(region).describe_alarms(
                AlarmNames=batch, AlarmTypes=[self.alarm_type], MaxRecords=DESCRIBE_BATCH
            )
            for alarm in answer.get(f"{self.alarm_type}s", []):
                name = alarm["AlarmName"]
                observed[name] = self.observed(
                    name,
                    alarm,
                    owned.get(name, {}),
                    owned=name in owned,
                    arn=alarm["AlarmArn"],
                    region=self.region_label(region),
                )
        return observed

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        return canonical(described)

    def put(self, cloudwatch: Any, resource: Resource, **extra: Any) -> None:
        cloudwatch.put_metric_alarm(AlarmName=resource.name, **resource.properties, **extra)

    def create(self, resource: Resource) -> None:
        tags = tag_list(self.tags_to_write(resource))
        self.put(self._cloudwatch(resource.region or self.env.region), resource, Tags=tags)

    def update(self, resource: Resource, observed: Observed) -> None:
        cloudwatch = self._cloudwatch(resource.region or self.env.region)
        self.put(cloudwatch, resource)
        # PutMetricAlarm ignores tags on an update: record the new fingerprint apart.
        cloudwatch.tag_resource(ResourceARN=observed.arn, Tags=tag_list(self.tags_to_write(resource)))

    def delete(self, observed: Sequence[Observed]) -> None:
        by_region: dict[str, list[str]] = defaultdict(list)
        for item in observed:
            by_region[item.region or self.env.region].append(item.name)
        for region, names in by_region.items():
            self._delete_in(region, names)

    def _delete_in(self, region: str, names: Sequence[str]) -> None:
        for batch in chunks(names, self.delete_batch):
            self._cloudwatch(region).delete_alarms(AlarmNames=batch)


COMPOSITE_FIELDS = ("AlarmDescription", "ActionsEnabled", "AlarmActions", "OKActions", "AlarmRule")
COMPOSITE_KIND = "composite-alarm"


class CompositeAlarms(MetricAlarms):
    """Composite alarms: read and owned like metric alarms, written with PutCompositeAlarm,
    deleted one a call (DeleteAlarms takes one composite at a time)."""

    kind = COMPOSITE_KIND
    title = "composite alarms"
    delete_batch = 1
    needs = frozenset({"cloudwatch:PutCompositeAlarm", "cloudwatch:TagResource", "cloudwatch:DeleteAlarms"})
    alarm_type = "CompositeAlarm"

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        found = {key: described[key] for key in COMPOSITE_FIELDS if described.get(key) not in (None, [], "")}
        for key in ("AlarmActions", "OKActions"):
            if key in found:
                found[key] = sorted(found[key])
        return found

    def put(self, cloudwatch: Any, resource: Resource, **extra: Any) -> None:
        cloudwatch.put_composite_alarm(AlarmName=resource.name, **resource.properties, **extra)
