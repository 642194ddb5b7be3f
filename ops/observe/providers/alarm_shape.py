"""AlarmSpec -> the canonical PutMetricAlarm / DescribeAlarms shape, and back from what
DescribeAlarms returns, so that desired and observed compare field by field."""

from __future__ import annotations

from typing import Any

from alarms.spec import AlarmSpec, Metric

# The fields of a metric alarm we manage (others, such as state, are not configuration).
MANAGED_FIELDS = (
    "AlarmDescription",
    "ActionsEnabled",
    "AlarmActions",
    "OKActions",
    "InsufficientDataActions",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "Metrics",
    "ThresholdMetricId",
)
STATISTICS = {"Average", "Sum", "Minimum", "Maximum", "SampleCount"}


def alarm_properties(alarm: AlarmSpec, actions: list[str], source_note: str = "") -> dict[str, Any]:
    """What PutMetricAlarm is called with (without name and tags), canonical."""
    description = alarm.description + (f" [{source_note}]" if source_note else "")
    properties: dict[str, Any] = {
        "AlarmDescription": description[:1024],
        "ActionsEnabled": True,
        "AlarmActions": actions,
        "OKActions": actions,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": alarm.comparison,
        "TreatMissingData": alarm.treat_missing,
    }
    if alarm.anomaly_band is not None:
        assert alarm.metric is not None
        properties["Metrics"] = [
            _metric_query("m1", alarm.metric, return_data=True),
            {
                "Id": "ad1",
                "Expression": f"ANOMALY_DETECTION_BAND(m1, {alarm.anomaly_band:g})",
                "ReturnData": True,
            },
        ]
        properties["ThresholdMetricId"] = "ad1"
    elif alarm.expression is not None:
        properties["Metrics"] = [
            {"Id": "e1", "Expression": alarm.expression, "Label": alarm.key, "ReturnData": True},
            *(_metric_query(key, metric, return_data=False) for key, metric in sorted(alarm.inputs.items())),
        ]
        properties["Threshold"] = float(alarm.threshold or 0)
    else:
        assert alarm.metric is not None
        metric = alarm.metric
        properties.update(
            {
                "Namespace": metric.namespace,
                "MetricName": metric.name,
                "Dimensions": _dimensions(metric.dimensions),
                "Period": metric.period,
                "Threshold": float(alarm.threshold or 0),
            }
        )
        key = "Statistic" if metric.stat in STATISTICS else "ExtendedStatistic"
        properties[key] = metric.stat
    return canonical(properties)


def _metric_query(query_id: str, metric: Metric, return_data: bool) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": metric.namespace,
                "MetricName": metric.name,
                "Dimensions": _dimensions(metric.dimensions),
            },
            "Period": metric.period,
            "Stat": metric.stat,
        },
        "ReturnData": return_data,
    }


def _dimensions(dimensions: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in sorted(dimensions.items())]


def canonical(alarm: dict[str, Any]) -> dict[str, Any]:
    """Managed fields only, empty values dropped, numbers and lists in one form: applied
    to both sides of a comparison."""
    result: dict[str, Any] = {}
    for field in MANAGED_FIELDS:
        value = alarm.get(field)
        if value is None or value == [] or value == "":
            continue
        if field == "Threshold":
            value = float(value)
        elif field == "Dimensions":
            value = sorted(({"Name": d["Name"], "Value": d["Value"]} for d in value), key=lambda d: d["Name"])
        elif field == "Metrics":
            value = [_canonical_query(q) for q in value]
        elif field in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            value = sorted(value)
        result[field] = value
    return result


def _canonical_query(query: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"Id": query["Id"], "ReturnData": query.get("ReturnData", True)}
    for key in ("Expression", "Label"):
        if query.get(key):
            result[key] = query[key]
    stat = query.get("MetricStat")
    if stat:
        metric = stat["Metric"]
        result["MetricStat"] = {
            "Metric": {
                "Namespace": metric["Namespace"],
                "MetricName": metric["MetricName"],
                "Dimensions": sorted(
                    ({"Name": d["Name"], "Value": d["Value"]} for d in metric.get("Dimensions", [])),
                    key=lambda d: d["Name"],
                ),
            },
            "Period": stat["Period"],
            "Stat": stat["Stat"],
        }
    return result
