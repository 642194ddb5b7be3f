"""What an alarm is, independent of AWS's API shape; and the naming strategy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

Comparison = Literal[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "GreaterThanUpperThreshold",
]
MissingData = Literal["breaching", "notBreaching", "ignore", "missing"]
AlarmSeverity = Literal["critical", "warning"]

# A dimension value looked up in AWS at plan time (an HTTP API's id, an EMR cluster's id).
LOOKUP_PREFIX = "lookup:"


def lookup(service: str, name: str) -> str:
    return f"{LOOKUP_PREFIX}{service}:{name}"


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: dict[str, str]
    stat: str  # Average, Sum, Minimum, Maximum, SampleCount, or a percentile such as p90
    period: int = 60


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm. Exactly one of `metric` (a static threshold on one metric, or an anomaly
    band when `anomaly_band` is set) or `expression` over `inputs` (metric math)."""

    component: str
    key: str  # the override key, e.g. "errors", "disk-used"
    severity: AlarmSeverity
    description: str
    comparison: Comparison
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing: MissingData
    source: str  # where the default comes from: "AWS recommended", or why we chose it
    threshold: float | None = None
    metric: Metric | None = None
    expression: str | None = None
    inputs: dict[str, Metric] = field(default_factory=dict)
    anomaly_band: float | None = None
    qualifier: str = ""  # e.g. "broker-1", "glue-financial-etl" when one key has many alarms
    region: str = ""  # where the metric lives, when not the environment's region

    def name(self, prefix: str) -> str:
        """`<platform>-<env>-<component>-<key>[-<qualifier>]-<severity>`."""
        parts = [prefix, self.component.replace("_", "-"), self.key, self.qualifier, self.severity]
        return "-".join(part for part in parts if part)

    @property
    def period(self) -> int:
        if self.metric is not None:
            return self.metric.period
        return min(metric.period for metric in self.inputs.values())

    def with_changes(self, **changes: object) -> AlarmSpec:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def anomaly_alarm(
    *,
    component: str,
    key: str,
    metric: Metric,
    comparison: Comparison,
    periods: int,
    missing: MissingData = "missing",
    description: str,
    source: str,
    band: float = 2.0,
) -> AlarmSpec:
    """An alarm on a metric leaving its learned band (`band` standard deviations)."""
    return AlarmSpec(
        component=component,
        key=key,
        severity="warning",
        description=description,
        comparison=comparison,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        treat_missing=missing,
        source=source,
        metric=metric,
        anomaly_band=band,
    )


def threshold_alarm(
    *,
    component: str,
    key: str,
    severity: AlarmSeverity,
    metric: Metric,
    comparison: Comparison,
    threshold: float,
    periods: int,
    datapoints: int | None = None,
    missing: MissingData = "missing",
    description: str,
    source: str = "AWS recommended",
    qualifier: str = "",
    region: str = "",
) -> AlarmSpec:
    return AlarmSpec(
        component=component,
        key=key,
        severity=severity,
        description=description,
        comparison=comparison,
        evaluation_periods=periods,
        datapoints_to_alarm=datapoints or periods,
        treat_missing=missing,
        source=source,
        threshold=threshold,
        metric=metric,
        qualifier=qualifier,
        region=region,
    )


def graded_alarms(
    *,
    component: str,
    key: str,
    metric: Metric,
    comparison: Comparison,
    periods: int,
    warning: float | None = None,
    critical: float | None = None,
    datapoints: int | None = None,
    missing: MissingData = "missing",
    description: str,
    source: str = "AWS recommended",
    qualifier: str = "",
    region: str = "",
) -> list[AlarmSpec]:
    """One metric with a warning and a critical threshold (either may be left out): two
    alarms of one key, told apart by their severity; an override names one level as
    `key.warning` or `key.critical` (alarms/catalog.py)."""
    levels: list[tuple[AlarmSeverity, float | None]] = [("warning", warning), ("critical", critical)]
    return [
        threshold_alarm(
            component=component,
            key=key,
            severity=severity,
            metric=metric,
            comparison=comparison,
            threshold=threshold,
            periods=periods,
            datapoints=datapoints,
            missing=missing,
            description=description,
            source=source,
            qualifier=qualifier,
            region=region,
        )
        for severity, threshold in levels
        if threshold is not None
    ]
