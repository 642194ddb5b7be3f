"""CloudWatch metric queries the runbooks' AWS providers share (GetMetricData's query shape),
so every runbook asks CloudWatch the same way."""

from __future__ import annotations

from typing import Any

KAFKA = "AWS/Kafka"
PERIOD = 60  # MSK's DEFAULT monitoring publishes a point a minute


def metric_query(ident: str, namespace: str, metric: str, dims: dict[str, str], stat: str) -> dict[str, Any]:
    """One GetMetricData query: `metric` of `namespace` with these dimensions, a PERIOD point."""
    return {
        "Id": ident,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dims.items()],
            },
            "Period": PERIOD,
            "Stat": stat,
        },
        "ReturnData": True,
    }
