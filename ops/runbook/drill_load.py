"""A drill under load: what the drill service needs of a load that runs for the length of a
drill (`DrillLoad`; the command lends one, since this engine may not import the campaign
engine), what it keeps of it (`LoadOutcome`: the campaign's verdict and its seconds), and
the drill's time axis: its steps as bands from the run's journal, and what the load saw
during each of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ops.report.charts import Band


@dataclass(frozen=True)
class LoadPoint:
    """One second of the load, the second ending at `at` (epoch seconds). `requests` and
    `failures`: what the load's totals grew by in that second (they sum to the run's, but
    arrive in lumps, as the load's workers report). `error_rate`: failures over requests in
    a trailing window as long as the workers' report interval (None: no request in it).
    `p95_ms`: the load's p95 over its own recent window (None before any response)."""

    at: float
    requests: int
    failures: int
    error_rate: float | None
    p95_ms: float | None


@dataclass
class LoadOutcome:
    """What a drill keeps of its load once it is stopped."""

    campaign: str
    campaign_id: str
    folder: str
    planned_seconds: float
    stopped_by_drill: bool  # still running at the drill's end (longer than the drill)
    requests: int
    failures: int
    slo_met: bool
    slo: list[dict[str, Any]]  # measure, objective, measured, met: the campaign's verdict
    aborted: str = ""  # an abort rule of the campaign stopped it
    window_s: float = 1.0  # the points' error-rate window
    points: list[LoadPoint] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """What the drill's history and output hold (the seconds stay in the report)."""
        data = asdict(self)
        data.pop("points")
        return data


class DrillLoad(Protocol):
    """A load that runs for the length of a drill. `start` returns once the load reaches
    the target (or raises); `stop` ends it whatever state it is in and leaves no process,
    even when it raises."""

    campaign: str
    campaign_id: str

    def start(self) -> None: ...

    def stop(self) -> LoadOutcome: ...


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


STEP_ENDS = ("step-completed", "step-failed")
UNDOS = ("step-rolled-back", "step-rollback-failed")


def step_bands(events: list[dict[str, Any]], origin: float, end: float) -> list[Band]:
    """The run's steps as bands (seconds from `origin`), from its journal: each step from
    its start to its completion or failure (a step cut short ends at the next entry), then
    `teardown` from the entry before the first rollback to the last one."""
    bands: list[Band] = []
    for index, event in enumerate(events):
        if event["event"] != "step-started":
            continue
        later = events[index + 1 :]
        ended = next((e for e in later if e["event"] in STEP_ENDS and e.get("step") == event["step"]), None)
        until = ended or (later[0] if later else None)
        stop = epoch(until["at"]) if until else end
        bands.append((event["step"], epoch(event["at"]) - origin, stop - origin))
    undone = [index for index, e in enumerate(events) if e["event"] in UNDOS]
    if undone:
        first = events[max(undone[0] - 1, 0)]
        bands.append(("teardown", epoch(first["at"]) - origin, epoch(events[undone[-1]]["at"]) - origin))
    return bands


@dataclass(frozen=True)
class BandLoad:
    """The worst the load saw during one band, over the seconds that overlap it (a second
    that spans two steps counts for both)."""

    label: str
    start: float
    end: float
    seconds: int
    error_rate_max: float | None
    p95_max_ms: float | None


def load_per_band(points: list[LoadPoint], bands: list[Band], origin: float) -> list[BandLoad]:
    found = []
    for label, start, end in bands:
        # A point covers the second (at - 1, at]: it overlaps [start, end] unless it is wholly out.
        seen = [p for p in points if p.at - origin > start and p.at - 1 - origin < end]
        rates = [p.error_rate for p in seen if p.error_rate is not None]
        p95s = [p.p95_ms for p in seen if p.p95_ms is not None]
        found.append(
            BandLoad(label, start, end, len(seen), max(rates, default=None), max(p95s, default=None))
        )
    return found
