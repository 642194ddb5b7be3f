"""The ADOT collectors' configurations as SSM parameters (/<platform>/<env>/adot/<collector>),
which their task definitions take with `valueFrom` (AOT_CONFIG_CONTENT).

A value over 4 KB needs the advanced tier (up to 8 KB); a parameter never goes back from
advanced to standard (SSM refuses), so an advanced one stays advanced."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from ops.aws.clients import ClientFactory
from ops.inventory.environment import Environment
from ops.observe.providers.base import AwsProvider
from ops.observe.providers.ownership import chunks, tag_list
from ops.reconcile.model import Observed, Resource

COLLECTOR_CONFIG_KIND = "collector-config"
STANDARD_LIMIT = 4096
DELETE_BATCH = 10  # DeleteParameters takes 10 names a call


def config_parameter(env: Environment, collector: str) -> str:
    return env.parameter_name("adot", collector)


def tier_for(value: str) -> str:
    return "Standard" if len(value.encode()) <= STANDARD_LIMIT else "Advanced"


class CollectorConfigs(AwsProvider):
    kind = COLLECTOR_CONFIG_KIND
    title = "collector configurations"
    delete_batch = DELETE_BATCH
    write_rate = 3.0  # PutParameter: 3 a second by default (standard throughput)
    needs = frozenset({"ssm:PutParameter", "ssm:AddTagsToResource", "ssm:DeleteParameters"})

    def __init__(self, factory: ClientFactory, env: Environment) -> None:
        super().__init__(factory, env)
        self.path = env.parameter_name("adot") + "/"

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        ssm = self.client("ssm")
        found: dict[str, dict[str, Any]] = {}
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=self.path, Recursive=False):
            for parameter in page.get("Parameters", []):
                found[parameter["Name"]] = parameter
        outside = [r.name for r in desired if r.name not in found]
        for batch in chunks(outside, 10):  # GetParameters takes 10 names a call
            for parameter in ssm.get_parameters(Names=batch).get("Parameters", []):
                found[parameter["Name"]] = parameter
        tiers = self._tiers(list(found))
        return [
            self._observed(name, parameter, tiers.get(name, "Standard")) for name, parameter in found.items()
        ]

    def _tiers(self, names: list[str]) -> dict[str, str]:
        tiers: dict[str, str] = {}
        paginator = self.client("ssm").get_paginator("describe_parameters")
        for batch in chunks(names, 50):
            filters = [{"Key": "Name", "Option": "Equals", "Values": batch}]
            for page in paginator.paginate(ParameterFilters=filters):
                tiers.update({p["Name"]: p.get("Tier", "Standard") for p in page.get("Parameters", [])})
        return tiers

    def _observed(self, name: str, parameter: dict[str, Any], tier: str) -> Observed:
        listed = self.client("ssm").list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
        tags = {t["Key"]: t["Value"] for t in listed.get("TagList", [])}
        return self.observed(name, parameter, tags, owned=self.owns(tags), tier=tier)

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        return {"Value": described["Value"], "Type": described.get("Type", "String")}

    def create(self, resource: Resource) -> None:
        value = resource.properties["Value"]
        self.client("ssm").put_parameter(
            Name=resource.name,
            Value=value,
            Type=resource.properties["Type"],
            Tier=tier_for(value),
            Description=f"ADOT collector configuration ({resource.component})",
            Tags=tag_list(self.tags_to_write(resource)),
        )

    def update(self, resource: Resource, observed: Observed) -> None:
        tier = "Advanced" if observed.tier == "Advanced" else tier_for(resource.properties["Value"])
        ssm = self.client("ssm")
        ssm.put_parameter(
            Name=resource.name,
            Value=resource.properties["Value"],
            Type=resource.properties["Type"],
            Tier=tier,
            Overwrite=True,
        )
        fingerprint = tag_list(self.fingerprint_tag(resource))
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=resource.name, Tags=fingerprint)

    def delete(self, observed: Sequence[Observed]) -> None:
        try:
            self.client("ssm").delete_parameters(Names=[o.name for o in observed])
        except ClientError as error:
            raise RuntimeError(f"DeleteParameters: {error}") from error
