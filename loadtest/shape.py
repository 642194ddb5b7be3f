"""The load plan of a campaign as pure functions of the time since the start, shared by the
campaign engine (validation, expected counts) and the Locust processes (which follow it).
No dependency beyond the standard library: this file ships in the load-test image.

Closed model: users ramp linearly from one stage's target to the next (k6 ramping-vus).
Open model: iterations start at a rate that ramps linearly between stage targets (k6
ramping-arrival-rate; a constant rate is one stage whose start and target are equal),
whatever the response times; an iteration with no free user is dropped and counted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Stage:
    duration: float  # seconds
    target: float  # users (closed) or iterations per second (open) at the stage's end


@dataclass(frozen=True)
class Plan:
    model: str  # "closed" | "open"
    start: float  # users or rate at t = 0
    stages: list[Stage] = field(default_factory=list)
    max_users: int = 0  # open model: the users that carry the iterations
    spawn_rate: float = 0.0  # closed model: users started per second at most
    workers: int = 1

    @property
    def duration(self) -> float:
        return sum(stage.duration for stage in self.stages)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> Plan:
        raw = json.loads(text)
        return Plan(**{**raw, "stages": [Stage(**s) for s in raw["stages"]]})

    def level_at(self, t: float) -> float:
        """Users (closed) or arrival rate (open) at `t` seconds, linear within a stage."""
        begin, level = 0.0, self.start
        for stage in self.stages:
            if t < begin + stage.duration:
                return level + (stage.target - level) * (t - begin) / stage.duration
            begin, level = begin + stage.duration, stage.target
        return level

    def arrivals_by(self, t: float) -> float:
        """Iterations due in [0, t] (the integral of the rate; a trapezoid per stage)."""
        begin, level, total = 0.0, self.start, 0.0
        for stage in self.stages:
            span = min(max(t - begin, 0.0), stage.duration)
            if span <= 0:
                break
            end_level = level + (stage.target - level) * span / stage.duration
            total += (level + end_level) / 2 * span
            begin, level = begin + stage.duration, stage.target
        return total

    def stage_bounds(self) -> list[tuple[float, float]]:
        bounds, begin = [], 0.0
        for stage in self.stages:
            bounds.append((begin, begin + stage.duration))
            begin += stage.duration
        return bounds

    def stage_of(self, t: float) -> int:
        for index, (begin, end) in enumerate(self.stage_bounds()):
            if begin <= t < end:
                return index
        return len(self.stages) - 1
