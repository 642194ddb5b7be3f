"""Dashboards: one definition from the alarms, two targets (Grafana JSON through
grafana-foundation-sdk, a CloudWatch dashboard body), with the alarm thresholds on them."""

from __future__ import annotations

from alarms import alarm_catalog
from alarms.spec import LOOKUP_PREFIX
from dashboards.build import OVERVIEW, dashboards_for
from dashboards.cloudwatch import render_body
from dashboards.grafana import UID_PREFIX, dashboard_uid, render_dashboard
from ops.inventory.loader import load_inventory
from tests.helpers import INVENTORY


def _boards(env_name: str = "prod"):  # type: ignore[no-untyped-def]
    env = load_inventory(INVENTORY).environment(env_name)
    alarms = [
        a
        for a in alarm_catalog(env)
        if not any(
            v.startswith(LOOKUP_PREFIX)
            for m in [a.metric, *a.inputs.values()]
            if m
            for v in m.dimensions.values()
        )
    ]
    return env, alarms, dashboards_for(env, alarms)


def test_one_dashboard_per_component_with_alarms_and_the_overview_first() -> None:
    _, alarms, boards = _boards()
    assert boards[0].key == OVERVIEW
    assert {b.key for b in boards[1:]} == {a.component.replace("_", "-") for a in alarms}
    warehouse = next(b for b in boards if b.key == "warehouse")
    cpu = next(p for p in warehouse.panels if p.title == "cpu")
    assert cpu.threshold == 90.0 and cpu.above and cpu.alarm == "dataplat-prod-warehouse-cpu-warning"


def test_grafana_and_cloudwatch_render_the_same_panels_and_thresholds() -> None:
    env, _, boards = _boards()
    for board in boards:
        grafana = render_dashboard(env.prefix, board)
        cloudwatch = render_body(board, "123456789012")
        metric_widgets = [w for w in cloudwatch["widgets"] if w["type"] == "metric"]
        extra = 1 if board.key == OVERVIEW else 0  # the overview's AMP panel is Grafana's alone
        assert len(grafana["panels"]) == len(metric_widgets) + extra == len(board.panels) + extra
        for panel, widget, gpanel in zip(board.panels, metric_widgets, grafana["panels"], strict=False):
            assert widget["properties"]["title"] == gpanel["title"] == panel.title
            if panel.threshold is not None:
                steps = gpanel["fieldConfig"]["defaults"]["thresholds"]["steps"]
                assert steps[1]["value"] == panel.threshold
                assert widget["properties"]["annotations"]["horizontal"][0]["value"] == panel.threshold
            targets = [(t["namespace"], t["metricName"]) for t in gpanel["targets"]]
            assert targets == [(q.namespace, q.metric) for q in panel.queries]


def test_grafana_uids_are_deterministic_prefixed_and_within_40_characters() -> None:
    env, _, boards = _boards()
    uids = [dashboard_uid(env.prefix, b) for b in boards]
    assert uids == [dashboard_uid(env.prefix, b) for b in _boards()[2]]
    assert len(set(uids)) == len(uids)
    assert all(u.startswith(f"{UID_PREFIX}-") and len(u) <= 40 for u in uids)
    long = dashboard_uid("a-very-long-platform-name-production", boards[0])
    assert len(long) <= 40 and long.startswith(UID_PREFIX)


def test_grafana_marks_the_alarms_state_changes_on_each_dashboard() -> None:
    env, _, boards = _boards()
    warehouse = next(b for b in boards if b.key == "warehouse")
    (annotation,) = render_dashboard(env.prefix, warehouse)["annotations"]["list"]
    assert annotation["queryMode"] == "Annotations" and annotation["prefixMatching"] is True
    assert annotation["alarmNamePrefix"] == "dataplat-prod-warehouse-"
    events = next(b for b in boards if b.key == "events-replicator")
    regions = {a["region"] for a in render_dashboard(env.prefix, events)["annotations"]["list"]}
    assert regions == {region for _, region in events.alarms}  # one annotation per region of its alarms
