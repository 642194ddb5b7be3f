"""A dashboard as Grafana dashboard JSON, built with grafana-foundation-sdk: CloudWatch
queries for the alarmed metrics (each panel draws its alarm's threshold as a line and the
firing side as an area, so the alarm's state shows on it), and on the overview a
Prometheus (AMP) panel of the ingest service's own counters."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from grafana_foundation_sdk.builders import cloudwatch, common, dashboard, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as common_models
from grafana_foundation_sdk.models import dashboard as models

from dashboards.build import OVERVIEW
from dashboards.model import Dashboard, Panel

CLOUDWATCH = models.DataSourceRef(type_val="cloudwatch", uid="cloudwatch")
PROMETHEUS = models.DataSourceRef(type_val="prometheus", uid="amp")
UID_PREFIX = "pops"  # dashboards whose uid starts so are platform-ops'


def dashboard_uid(prefix: str, board: Dashboard) -> str:
    """Deterministic, at most 40 characters (Grafana's limit), with the ownership prefix."""
    text = f"{prefix}-{board.key}"
    if len(text) + len(UID_PREFIX) + 1 <= 40:
        return f"{UID_PREFIX}-{text}"
    return f"{UID_PREFIX}-{text[:26]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _thresholds(panel: Panel) -> dashboard.ThresholdsConfig:
    ok, firing = models.Threshold(color="green"), models.Threshold(value=panel.threshold, color="red")
    steps = (
        [ok, firing]
        if panel.above
        else [models.Threshold(color="red"), models.Threshold(value=panel.threshold, color="green")]
    )
    return dashboard.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE).steps(steps)


def _panel(panel: Panel, index: int) -> timeseries.Panel:
    built = (
        timeseries.Panel()
        .title(panel.title)
        .description(f"alarm: {panel.alarm}" if panel.alarm else "")
        .datasource(CLOUDWATCH)
        .grid_pos(models.GridPos(h=8, w=12, x=(index % 2) * 12, y=(index // 2) * 8))
    )
    for number, query in enumerate(panel.queries):
        target = (
            cloudwatch.CloudWatchMetricsQuery()
            .ref_id(chr(ord("A") + number))
            .datasource(CLOUDWATCH)
            .region(panel.region)
            .namespace(query.namespace)
            .metric_name(query.metric)
            .dimensions(dict(query.dimensions))
            .statistic(query.stat)
            .period(str(query.period))
            .match_exact(True)
        )
        if query.label:
            target = target.label(query.label)
        built = built.with_target(target)
    if panel.threshold is not None:
        style = common.GraphThresholdsStyleConfig().mode(common_models.GraphTresholdsStyleMode.LINE_AND_AREA)
        built = built.thresholds(_thresholds(panel)).thresholds_style(style)
    return built


def _ingest_panel(index: int) -> timeseries.Panel:
    """The ingest service's own counters, scraped by the gateway collector into AMP."""
    target = (
        prometheus.Dataquery()
        .ref_id("A")
        .expr("sum by (record_type, outcome) (rate(ingest_records_total[5m]))")
        .legend_format("{{record_type}} {{outcome}}")
    )
    return (
        timeseries.Panel()
        .title("ingest service: records per second (AMP)")
        .datasource(PROMETHEUS)
        .grid_pos(models.GridPos(h=8, w=12, x=(index % 2) * 12, y=(index // 2) * 8))
        .with_target(target)
    )


def render_dashboard(prefix: str, board: Dashboard) -> dict[str, Any]:
    """The dashboard's JSON model (what POST /api/dashboards/db takes as `dashboard`)."""
    builder = (
        dashboard.Dashboard(board.title)
        .uid(dashboard_uid(prefix, board))
        .description(board.description)
        .tags(list(board.tags))
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("browser")
        .editable()
    )
    for index, panel in enumerate(board.panels):
        builder = builder.with_panel(_panel(panel, index))
    if board.key == OVERVIEW:
        builder = builder.with_panel(_ingest_panel(len(board.panels)))
    model: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    annotations = model.get("annotations") or {}
    model["annotations"] = {
        **annotations,
        "list": [*annotations.get("list", []), *_alarm_annotations(prefix, board)],
    }
    return model


def _alarm_annotations(prefix: str, board: Dashboard) -> list[dict[str, Any]]:
    """The dashboard's alarms' state changes, marked on every panel: CloudWatch annotations
    by alarm-name prefix (the SDK's annotation builder takes no CloudWatch query, so the
    query it builds is placed in the annotation as Grafana's JSON has it)."""
    regions = sorted({region for _, region in board.alarms})
    found = []
    for region in regions:
        names = [name for name, where in board.alarms if where == region]
        # Alarm names share a prefix character by character: what prefix matching wants.
        common_prefix = os.path.commonprefix(names) if board.key != OVERVIEW else f"{prefix}-"  # noqa: RUF071
        query = (
            cloudwatch.CloudWatchAnnotationQuery()
            .region(region)
            .prefix_matching(True)
            .alarm_name_prefix(common_prefix)
            .action_prefix("")
        )
        fields = json.loads(json.dumps(query.build(), cls=JSONEncoder))
        found.append(
            {
                **fields,
                "datasource": {"type": "cloudwatch", "uid": CLOUDWATCH.uid},
                "enable": True,
                "iconColor": "red",
                "name": f"alarm state changes ({region})",
            }
        )
    return found
