"""Dashboards from the same definitions as the alarms (alarms/): one per component, a panel
per alarmed metric with its threshold, an alarm-status panel; and an overview of the ingest
path (API Gateway -> Lambda -> MSK -> Glue/EMR -> S3 and RDS) from the first panels of
each stage and the path's critical alarms."""

from __future__ import annotations

from collections import defaultdict

from alarms.spec import AlarmSpec, Metric
from dashboards.model import Dashboard, Panel, Query
from ops.inventory.environment import Environment
from ops.kinds.registry import ingest_path

OVERVIEW = "ingest-overview"


def _query(metric: Metric, label: str = "") -> Query:
    return Query(
        metric.namespace,
        metric.name,
        tuple(sorted(metric.dimensions.items())),
        metric.stat,
        metric.period,
        label,
    )


def panel_of(alarm: AlarmSpec, env: Environment) -> Panel | None:
    if alarm.metric is not None:
        queries: tuple[Query, ...] = (_query(alarm.metric),)
    elif alarm.inputs:
        queries = tuple(_query(m, key) for key, m in sorted(alarm.inputs.items()))
    else:
        return None
    title = " ".join(part for part in (alarm.key.replace("-", " "), alarm.qualifier) if part)
    threshold = None if alarm.anomaly_band is not None else alarm.threshold
    above = "Greater" in alarm.comparison
    return Panel(title, queries, alarm.region or env.region, threshold, above, alarm.name(env.prefix))


def dashboards_for(env: Environment, alarms: list[AlarmSpec]) -> list[Dashboard]:
    """Every dashboard of the environment, from its alarms (lookups already resolved)."""
    by_component: dict[str, list[AlarmSpec]] = defaultdict(list)
    for alarm in alarms:
        by_component[alarm.component].append(alarm)
    boards = []
    for component, members in sorted(by_component.items()):
        panels = tuple(p for p in (panel_of(a, env) for a in members) if p is not None)
        kind = env.spec.components[component].kind if component in env.spec.components else "platform"
        boards.append(
            Dashboard(
                component.replace("_", "-"),
                f"{env.prefix} {component} ({kind})",
                f"The alarmed metrics of {component}, each with its alarm's threshold.",
                panels,
                tuple((a.name(env.prefix), a.region or env.region) for a in members),
                ("platform-ops", env.name, kind),
            )
        )
    overview = _overview(env, by_component)
    return [*([overview] if overview.panels else []), *boards]


def _overview(env: Environment, by_component: dict[str, list[AlarmSpec]]) -> Dashboard:
    panels: list[Panel] = []
    critical: list[tuple[str, str]] = []
    # Each kind on the path, in the path's order, gives its first panels.
    for kind in ingest_path():
        for name, component in env.spec.components.items():
            if component.kind != kind.kind:
                continue
            members = [a for a in by_component.get(name, []) if not a.region]
            found = [p for p in (panel_of(a, env) for a in members) if p is not None]
            found = found[: kind.overview_panels]
            panels += [
                Panel(f"{name}: {p.title}", p.queries, p.region, p.threshold, p.above, p.alarm) for p in found
            ]
            critical += [(a.name(env.prefix), env.region) for a in members if a.severity == "critical"]
    return Dashboard(
        OVERVIEW,
        f"{env.prefix} ingest path",
        "API Gateway -> Lambda -> MSK -> Glue/EMR -> S3 and RDS: the first signals of each stage.",
        tuple(panels),
        tuple(critical),
        ("platform-ops", env.name, "overview"),
    )
