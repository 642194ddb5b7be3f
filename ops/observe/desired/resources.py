"""The desired observability of an environment: alarms, composites, log groups, cluster
settings and event rules, as reconcile resources."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from alarms import alarm_catalog
from alarms.composite import composites
from alarms.spec import LOOKUP_PREFIX, AlarmSpec, Metric
from ops.aws.clients import ClientFactory
from ops.contracts import collector_image_parameter
from ops.inventory.components import Adot
from ops.inventory.environment import Environment
from ops.kinds.registry import kind_of
from ops.observe.desired.collectors import collector_resources
from ops.observe.desired.dashboards import dashboard_resources
from ops.observe.providers.alarm_shape import alarm_properties
from ops.observe.providers.cluster_settings import CLUSTER_SETTINGS_KIND
from ops.observe.providers.collector_configs import COLLECTOR_CONFIG_KIND
from ops.observe.providers.collector_tasks import COLLECTOR_TASK_KIND
from ops.observe.providers.cw_dashboards import DASHBOARD_KIND
from ops.observe.providers.event_rules import EVENT_RULE_KIND, canonical_rule
from ops.observe.providers.grafana_dashboards import GRAFANA_KIND
from ops.observe.providers.log_groups import LOG_GROUP_KIND
from ops.observe.providers.metric_alarms import ALARM_KIND, COMPOSITE_KIND
from ops.observe.providers.ownership import ownership_tags
from ops.reconcile.model import Resource

# The order providers are applied in: a rule before the alarm that watches it, alarms
# before the composites that name them.
RESOURCE_KINDS = (
    EVENT_RULE_KIND,
    ALARM_KIND,
    COMPOSITE_KIND,
    LOG_GROUP_KIND,
    CLUSTER_SETTINGS_KIND,
    COLLECTOR_CONFIG_KIND,
    COLLECTOR_TASK_KIND,
    DASHBOARD_KIND,
    GRAFANA_KIND,
)


@dataclass
class Resolved:
    """What the desired state needs from AWS: the account, and ids looked up by name."""

    account_id: str
    ids: dict[str, str] = field(default_factory=dict)  # "lookup:<service>:<name>" -> id
    notes: list[str] = field(default_factory=list)
    collector_image: str | None = None  # terraform/modules/adot's image parameter


def resolve(factory: ClientFactory, env: Environment, alarms: list[AlarmSpec]) -> Resolved:
    """One call per service at most: the account, HTTP API ids, EMR cluster ids."""
    account = env.meta.account_id or factory.client("sts").get_caller_identity()["Account"]
    wanted: dict[str, set[str]] = defaultdict(set)
    for alarm in alarms:
        for metric in _metrics(alarm):
            for value in metric.dimensions.values():
                if value.startswith(LOOKUP_PREFIX):
                    service, name = value.removeprefix(LOOKUP_PREFIX).split(":", 1)
                    wanted[service].add(name)
    resolved = Resolved(str(account))
    if wanted.get("apigatewayv2"):
        pages = factory.client("apigatewayv2").get_paginator("get_apis").paginate()
        found = {api["Name"]: api["ApiId"] for page in pages for api in page.get("Items", [])}
        resolved.ids |= {
            f"{LOOKUP_PREFIX}apigatewayv2:{n}": found[n] for n in wanted["apigatewayv2"] if n in found
        }
    if wanted.get("emr"):
        live = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
        pages = factory.client("emr").get_paginator("list_clusters").paginate(ClusterStates=live)
        found = {c["Name"]: c["Id"] for page in pages for c in page.get("Clusters", [])}
        resolved.ids |= {f"{LOOKUP_PREFIX}emr:{n}": found[n] for n in wanted["emr"] if n in found}
    if env.components_of(Adot):
        answer = factory.client("ssm").get_parameters(Names=[collector_image_parameter(env)])["Parameters"]
        resolved.collector_image = answer[0]["Value"] if answer else None
    return resolved


def _metrics(alarm: AlarmSpec) -> list[Metric]:
    return ([alarm.metric] if alarm.metric else []) + list(alarm.inputs.values())


def _substitute(alarm: AlarmSpec, ids: dict[str, str]) -> AlarmSpec | None:
    """The alarm with looked-up ids in its dimensions; None if one is not found."""

    def fill(metric: Metric) -> Metric | None:
        dims = {k: ids.get(v, v) for k, v in metric.dimensions.items()}
        if any(v.startswith(LOOKUP_PREFIX) for v in dims.values()):
            return None
        return Metric(metric.namespace, metric.name, dims, metric.stat, metric.period)

    metric = fill(alarm.metric) if alarm.metric else None
    inputs = {key: fill(m) for key, m in alarm.inputs.items()}
    if (alarm.metric and metric is None) or any(m is None for m in inputs.values()):
        return None
    return alarm.with_changes(metric=metric, inputs=inputs)


def desired_resources(env: Environment, resolved: Resolved) -> list[Resource]:
    catalog = alarm_catalog(env)
    resources: list[Resource] = []
    kept: list[AlarmSpec] = []
    for alarm in catalog:
        filled = _substitute(alarm, resolved.ids)
        if filled is None:
            resolved.notes.append(
                f"not planned: {alarm.name(env.prefix)} (its {_lookups(alarm)} does not exist yet)"
            )
            continue
        kept.append(filled)
        region = filled.region or env.region
        actions = [topic_arn(env, region, resolved.account_id, filled.severity)]
        resources.append(
            Resource(
                ALARM_KIND,
                filled.name(env.prefix),
                alarm_properties(filled, actions, filled.source),
                ownership_tags(env, ALARM_KIND),
                filled.component,
                filled.region,
            )
        )
    kinds = {name: c.kind for name, c in env.spec.components.items()}
    for composite in composites(env.prefix, kept, kinds):
        actions = [topic_arn(env, env.region, resolved.account_id, composite.severity)]
        properties = {
            "AlarmDescription": composite.description,
            "ActionsEnabled": True,
            "AlarmActions": actions,
            "OKActions": actions,
            "AlarmRule": composite.rule,
        }
        resources.append(
            Resource(
                COMPOSITE_KIND, composite.name(env.prefix), properties, ownership_tags(env, COMPOSITE_KIND)
            )
        )
    resources += _log_groups(env) + _cluster_settings(env) + _event_rules(env)
    resources += dashboard_resources(env, kept, resolved.account_id)
    resources += collector_resources(env, resolved.account_id, resolved.collector_image, resolved.notes)
    return resources


def _lookups(alarm: AlarmSpec) -> str:
    values = [v for m in _metrics(alarm) for v in m.dimensions.values() if v.startswith(LOOKUP_PREFIX)]
    return ", ".join(v.removeprefix(LOOKUP_PREFIX).replace(":", " ", 1) for v in values)


def topic_arn(env: Environment, region: str, account: str, severity: str) -> str:
    """The SNS topic of a severity. Alarms notify topics in their own region, so an
    environment alarming in a second region has the same topics there."""
    topic = env.spec.notifications[severity].topic  # type: ignore[index]
    return f"arn:aws:sns:{region}:{account}:{env.resource_name(topic)}"


def _log_groups(env: Environment) -> list[Resource]:
    resources = []
    for name, component in env.spec.components.items():
        days = component.log_retention_days or env.spec.logs.retention_days
        region = kind_of(component).region(component)
        tags = ownership_tags(env, LOG_GROUP_KIND)
        for group in kind_of(component).log_groups(env, name, component):
            resources.append(Resource(LOG_GROUP_KIND, group, {"retentionInDays": days}, tags, name, region))
    return resources


def _cluster_settings(env: Environment) -> list[Resource]:
    return [
        Resource(CLUSTER_SETTINGS_KIND, cluster, settings, {}, name)
        for name, component in env.spec.components.items()
        for cluster, settings in kind_of(component).cluster_settings(env, component).items()
    ]


def _event_rules(env: Environment) -> list[Resource]:
    return [
        Resource(EVENT_RULE_KIND, rule_name, canonical_rule(rule), ownership_tags(env, EVENT_RULE_KIND), name)
        for name, component in env.spec.components.items()
        for rule_name, rule in kind_of(component).event_rules(env, name, component).items()
    ]


def log_group_prefixes(env: Environment) -> list[str]:
    """Where this environment's log groups can be, to find the ones no longer desired."""
    return [f"/{env.platform}/{env.name}/", f"/aws/lambda/{env.prefix}-", f"/aws/rds/instance/{env.prefix}-"]
