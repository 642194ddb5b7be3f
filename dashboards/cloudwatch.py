"""A dashboard as a CloudWatch dashboard body: an alarm widget with the real states of the
dashboard's alarms, then a metric widget per panel with the alarm's threshold drawn."""

from __future__ import annotations

from typing import Any

from dashboards.model import Dashboard, Panel

WIDTH, HEIGHT = 12, 6  # two panels a row (the grid is 24 wide)
ALARMS_PER_WIDGET = 100  # an alarm widget shows at most 100 alarms


def dashboard_name(prefix: str, board: Dashboard) -> str:
    return f"{prefix}-{board.key}"


def _metric_rows(panel: Panel) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for query in panel.queries:
        row: list[Any] = [query.namespace, query.metric]
        for key, value in query.dimensions:
            row += [key, value]
        options: dict[str, Any] = {"stat": query.stat, "period": query.period}
        if query.label:
            options["label"] = query.label
        rows.append([*row, options])
    return rows


def _metric_widget(panel: Panel, x: int, y: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": panel.title,
        "region": panel.region,
        "view": "timeSeries",
        "metrics": _metric_rows(panel),
    }
    if panel.threshold is not None:
        fill = "above" if panel.above else "below"
        properties["annotations"] = {
            "horizontal": [{"label": panel.alarm, "value": panel.threshold, "fill": fill}]
        }
    return {"type": "metric", "x": x, "y": y, "width": WIDTH, "height": HEIGHT, "properties": properties}


def render_body(board: Dashboard, account: str) -> dict[str, Any]:
    """The body, without the ownership marker (the provider adds it)."""
    widgets: list[dict[str, Any]] = []
    y = 0
    for start in range(0, len(board.alarms), ALARMS_PER_WIDGET):
        members = board.alarms[start : start + ALARMS_PER_WIDGET]
        alarms = [f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}" for name, region in members]
        rows = 1 + len(alarms) // 8
        widgets.append(
            {
                "type": "alarm",
                "x": 0,
                "y": y,
                "width": 24,
                "height": 2 + rows,
                "properties": {"title": f"Alarms: {board.title}", "alarms": alarms},
            }
        )
        y += 2 + rows
    for index, panel in enumerate(board.panels):
        widgets.append(_metric_widget(panel, (index % 2) * WIDTH, y + (index // 2) * HEIGHT))
    return {"widgets": widgets}
