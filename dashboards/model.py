"""One dashboard definition, two targets (dashboards/grafana.py, dashboards/cloudwatch.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Query:
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    period: int
    label: str = ""


@dataclass(frozen=True)
class Panel:
    """A time series of one alarm's metrics, with the alarm's threshold drawn on it: the
    alarm's state is shown where a reader looks."""

    title: str
    queries: tuple[Query, ...]
    region: str
    threshold: float | None = None
    above: bool = True  # the alarm fires above the threshold (else below)
    alarm: str = ""  # the alarm's name


@dataclass(frozen=True)
class Dashboard:
    key: str  # the component's name, or "ingest-overview"
    title: str
    description: str
    panels: tuple[Panel, ...]
    alarms: tuple[tuple[str, str], ...] = field(default=())  # (alarm name, region) in the alarm-status panel
    tags: tuple[str, ...] = field(default=())
