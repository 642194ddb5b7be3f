"""DR readiness, per stateful component: what is configured (findings), what the last drill
measured, and the verdict from both.

- protected as measured: every finding holds, and a drill met the objectives within the
  period the drill policy sets (31 days when it sets none);
- protected as configured only: every finding holds, no such drill;
- unprotected: a finding fails (or cannot be read), or the last drill missed an objective.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

DEFAULT_DRILL_PERIOD_S = 31 * 86400.0


class Verdict(StrEnum):
    measured = "protected as measured"
    configured = "protected as configured only"
    unprotected = "unprotected"


@dataclass(frozen=True)
class Finding:
    """One recovery mechanism or alarm checked: `ok` None when it could not be read."""

    check: str
    ok: bool | None
    detail: str


@dataclass
class ComponentReadiness:
    component: str
    kind: str
    rpo_seconds: float | None
    rto_seconds: float | None
    findings: list[Finding] = field(default_factory=list)
    last_drill: dict[str, Any] | None = None  # id, runbook, ended, RTO and RPO measured, met
    drill_period_seconds: float = DEFAULT_DRILL_PERIOD_S
    verdict: Verdict = Verdict.unprotected
    reasons: list[str] = field(default_factory=list)

    def judge(self, now: datetime) -> None:
        """Set the verdict and the reasons for it."""
        failed = [f for f in self.findings if f.ok is not True]
        self.reasons = [f"{f.check}: {f.detail}" for f in failed]
        drill = self.last_drill
        if drill is not None and not drill.get("objectives_met"):
            self.reasons.append(
                f"last drill {drill['drill_id']} {drill.get('outcome', 'missed its objectives')}"
            )
        if self.reasons:
            self.verdict = Verdict.unprotected
            return
        ended = _ended(drill) if drill is not None else None
        recent = ended is not None and now - ended <= timedelta(seconds=self.drill_period_seconds)
        if recent:
            self.verdict = Verdict.measured
        else:
            self.verdict = Verdict.configured
            period = self.drill_period_seconds / 86400
            self.reasons.append(f"no drill met the objectives in the last {period:g} days")

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["verdict"] = self.verdict.value
        return found


def _ended(drill: dict[str, Any]) -> datetime | None:
    text = drill.get("ended_at") or ""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass
class Assessment:
    environment: str
    assessed_at: str
    components: list[ComponentReadiness]
    calls: dict[str, Any] = field(default_factory=dict)  # the AWS read calls made, by operation
    not_assessed: dict[str, str] = field(default_factory=dict)  # component -> why

    @property
    def unprotected(self) -> list[ComponentReadiness]:
        return [c for c in self.components if c.verdict is Verdict.unprotected]

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "assessed_at": self.assessed_at,
            "verdicts": {c.component: c.verdict.value for c in self.components},
            "components": [c.as_dict() for c in self.components],
            "not_assessed": self.not_assessed,
            "calls": self.calls,
        }
