"""Plan an environment's observability: its desired state against what its providers read,
with the kinds the target cannot take left out (and said so)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from alarms import alarm_catalog
from ops.aws.clients import AwsTarget, ClientFactory
from ops.errors import BadInput
from ops.inventory.components import Msk
from ops.inventory.environment import Environment
from ops.observe.desired.resources import RESOURCE_KINDS, desired_resources, log_group_prefixes, resolve
from ops.observe.providers.cluster_settings import ClusterSettings
from ops.observe.providers.collector_configs import CollectorConfigs
from ops.observe.providers.collector_tasks import CollectorTasks
from ops.observe.providers.cw_dashboards import CloudWatchDashboards
from ops.observe.providers.event_rules import EventRules
from ops.observe.providers.grafana_dashboards import GRAFANA_KIND, GrafanaDashboards
from ops.observe.providers.log_groups import LogGroups
from ops.observe.providers.metric_alarms import CompositeAlarms, MetricAlarms
from ops.reconcile.engine import make_plan
from ops.reconcile.model import Plan
from ops.reconcile.provider import Provider

if TYPE_CHECKING:
    from grafana_client.api import GrafanaApi


@dataclass
class ObservePlan:
    plan: Plan
    providers: list[Provider]


def kinds_for(only: list[str] | None, grafana: bool = False) -> list[str]:
    """The kinds asked for, in apply order; Grafana's dashboards left out when there is no
    Grafana to reach."""
    for kind in only or []:
        if kind not in RESOURCE_KINDS:
            raise BadInput(f"--only {kind!r}: not a kind (kinds: {', '.join(RESOURCE_KINDS)})")
    kinds = [k for k in RESOURCE_KINDS if not only or k in only]
    if not grafana:
        kinds = [k for k in kinds if k != GRAFANA_KIND]
    return kinds


def providers_for(
    factory: ClientFactory,
    env: Environment,
    kinds: list[str],
    write_rate: float | None,
    grafana: GrafanaApi | None = None,
) -> list[Provider]:
    regions = [env.region, *(m.region for m in env.components_of(Msk).values() if m.region)]
    rate = write_rate or env.spec.alarm_settings.write_rate
    every: dict[str, Provider] = {
        "event-rule": EventRules(factory, env),
        "alarm": MetricAlarms(factory, env, regions, rate),
        "composite-alarm": CompositeAlarms(factory, env, regions, rate),
        "log-group": LogGroups(factory, env, log_group_prefixes(env), regions),
        "container-insights": ClusterSettings(factory, env),
        "collector-config": CollectorConfigs(factory, env),
        "collector-task": CollectorTasks(factory, env),
        "cloudwatch-dashboard": CloudWatchDashboards(factory, env),
    }
    if grafana is not None:
        every[GRAFANA_KIND] = GrafanaDashboards(grafana, env)
    return [every[kind] for kind in kinds]


def unavailable(providers: list[Provider], target: AwsTarget) -> list[str]:
    """A note for each provider whose writes need an operation the target lacks."""
    notes = []
    for provider in providers:
        missing = sorted(provider.needs & target.lacks)
        if missing:
            operation = missing[0].split(":", 1)[1]
            notes.append(f"not planned: {provider.title} ({target.name} has no {operation})")
    return notes


def observe_plan(
    factory: ClientFactory,
    env: Environment,
    only: list[str] | None = None,
    write_rate: float | None = None,
    grafana: GrafanaApi | None = None,
) -> ObservePlan:
    asked = providers_for(factory, env, kinds_for(only, grafana is not None), write_rate, grafana)
    lacks = factory.target.lacks
    providers = [p for p in asked if not p.needs & lacks]
    resolved = resolve(factory, env, alarm_catalog(env))
    desired = desired_resources(env, resolved)
    plan = make_plan(env.name, desired, providers)
    plan.notes += resolved.notes
    if grafana is None and (not only or GRAFANA_KIND in only):
        plan.notes.append(
            "not planned: Grafana dashboards (no Grafana to reach: set OPS_GRAFANA_URL and "
            "OPS_GRAFANA_TOKEN, or give the environment a grafana component on AWS)"
        )
    plan.notes += unavailable(asked, factory.target)
    return ObservePlan(plan, providers)
