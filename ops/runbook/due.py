"""Which drills the inventory's drill policy wants that have not passed recently enough:
for each component and runbook of the policy, the last drill that met its objectives (from
the drill history) against how often one must pass."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from ops.inventory.environment import Environment


@dataclass(frozen=True)
class DrillDue:
    component: str
    runbook: str
    every_seconds: float
    last_passed: str | None  # when the last drill that met its objectives ended
    due_at: str | None  # last_passed + every; None: never passed, due now
    overdue: bool
    last_outcome: str  # the newest drill's end: "met", "missed", "failed", "running" or "never run"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _outcome(entry: dict[str, Any]) -> str:
    if entry.get("status") == "running":
        return "running"
    if entry.get("objectives_met"):
        return "met"
    return "missed" if entry.get("success") else "failed"


def _ended(entry: dict[str, Any]) -> datetime | None:
    text = entry.get("ended_at") or entry.get("started_at")
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def drills_due(env: Environment, history: list[dict[str, Any]], now: datetime) -> list[DrillDue]:
    """One line per (component, runbook) of the policy, in the inventory's order."""
    found: list[DrillDue] = []
    for component, runbooks in env.spec.drill_policy.items():
        for runbook, every in runbooks.items():
            drills = [
                e
                for e in history
                if e.get("environment") == env.name
                and e.get("component") == component
                and e.get("runbook") == runbook
            ]
            passed = [moment for e in drills if e.get("objectives_met") and (moment := _ended(e)) is not None]
            last = max(passed, default=None)
            due_at = last + timedelta(seconds=every) if last is not None else None
            found.append(
                DrillDue(
                    component,
                    runbook,
                    every,
                    last.isoformat() if last else None,
                    due_at.isoformat() if due_at else None,
                    due_at is None or due_at < now,
                    _outcome(drills[-1]) if drills else "never run",
                )
            )
    return found
