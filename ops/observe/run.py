"""Assemble providers and desired state for an environment, and make its plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from alarms import alarm_catalog
from ops.aws.clients import ClientFactory
from ops.errors import BadInput
from ops.inventory.components import Msk
from ops.inventory.environment import Environment
from ops.local.gaps import UNEMULATED_OPERATIONS
from ops.observe.cluster_settings import ClusterSettings
from ops.observe.collector_configs import CollectorConfigs
from ops.observe.collector_tasks import CollectorTasks
from ops.observe.cw_dashboards import CloudWatchDashboards
from ops.observe.desired import KINDS, desired_resources, log_group_prefixes, resolve
from ops.observe.event_rules import EventRules
from ops.observe.grafana_dashboards import GRAFANA_KIND, GrafanaDashboards
from ops.observe.log_groups import LogGroups
from ops.observe.metric_alarms import COMPOSITE_KIND, CompositeAlarms, MetricAlarms
from ops.reconcile.engine import make_plan
from ops.reconcile.model import Plan
from ops.reconcile.provider import Provider

if TYPE_CHECKING:
    from grafana_client.api import GrafanaApi


@dataclass
class ObservePlan:
    plan: Plan
    providers: list[Provider]


def kinds_for(env: Environment, only: list[str] | None, grafana: bool = False) -> list[str]:
    """The kinds to reconcile, in apply order; the emulator's gaps left out locally, and
    Grafana's dashboards when there is no Grafana to reach."""
    for kind in only or []:
        if kind not in KINDS:
            raise BadInput(f"--only {kind!r}: not a kind (kinds: {', '.join(KINDS)})")
    kinds = [k for k in KINDS if not only or k in only]
    if env.provider == "local" and "PutCompositeAlarm" in UNEMULATED_OPERATIONS["cloudwatch"]:
        kinds = [k for k in kinds if k != COMPOSITE_KIND]
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


def observe_plan(
    factory: ClientFactory,
    env: Environment,
    only: list[str] | None = None,
    write_rate: float | None = None,
    grafana: GrafanaApi | None = None,
) -> ObservePlan:
    kinds = kinds_for(env, only, grafana is not None)
    resolved = resolve(factory, env, alarm_catalog(env))
    desired = desired_resources(env, resolved)
    providers = providers_for(factory, env, kinds, write_rate, grafana)
    plan = make_plan(env.name, desired, providers)
    plan.notes += resolved.notes
    if grafana is None and (not only or GRAFANA_KIND in only):
        plan.notes.append(
            "not planned: Grafana dashboards (no Grafana to reach: set OPS_GRAFANA_URL and "
            "OPS_GRAFANA_TOKEN, or give the environment a grafana component on AWS)"
        )
    if env.provider == "local" and (not only or COMPOSITE_KIND in only):
        plan.notes.append("not planned: composite alarms (the emulator has no PutCompositeAlarm)")
    return ObservePlan(plan, providers)
