"""`ops drill history --html`: each component's drills over time, RTO and RPO against its
objectives, the last drill's verdict first."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ops.report import human
from ops.report.charts import history_chart
from ops.report.writer import Check, ReportPaths, Section, Verdict, write_report


def _ended(entry: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(entry.get("ended_at")))
    except ValueError:
        return None


def _result(entry: dict[str, Any]) -> str:
    if entry.get("status") == "running":
        return "running"
    if entry.get("objectives_met"):
        return "met"
    return "missed" if entry.get("success") else "failed"


def seconds(entry: dict[str, Any], key: str) -> str:
    return human.seconds(entry.get(key))


def _per_runbook(drills: list[dict[str, Any]], key: str, label: str) -> dict[str, list[float | None]]:
    """One series per runbook (a restore and a failover are different measures)."""
    runbooks = sorted({str(e.get("runbook")) for e in drills})
    return {
        f"{label} {runbook}": [e.get(key) if e.get("runbook") == runbook else None for e in drills]
        for runbook in runbooks
    }


def write_history_report(folder: Path, entries: list[dict[str, Any]], environment: str | None) -> ReportPaths:
    """One section per component (charts of RTO and RPO per drill against the objective,
    then its drills); the verdict is the last drill of each component."""
    by_component: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if _ended(entry) is not None:
            by_component.setdefault(f"{entry['environment']}/{entry['component']}", []).append(entry)
    checks = []
    sections = []
    for name, drills in sorted(by_component.items()):
        drills.sort(key=lambda e: str(e.get("ended_at")))
        last = drills[-1]
        met = None if _result(last) == "running" else _result(last) == "met"
        checks.append(
            Check(
                name,
                f"RTO <= {seconds(last, 'rto_objective')}, RPO <= {seconds(last, 'rpo_objective')}",
                f"last drill {human.moment(last.get('ended_at'))}: RTO {seconds(last, 'rto_seconds')}, "
                f"RPO {seconds(last, 'rpo_seconds')}",
                met,
            )
        )
        when = [moment for moment in (_ended(e) for e in drills) if moment is not None]
        measures = (("RTO", "rto_seconds", "rto_objective"), ("RPO", "rpo_seconds", "rpo_objective"))
        charts = "".join(
            history_chart(when, _per_runbook(drills, key, label), last.get(objective), f"{label}, seconds")
            for label, key, objective in measures
        )
        sections.append(
            Section(
                f"{name}: {len(drills)} drill(s)",
                ("drill", "runbook", "ended", "RTO", "RPO", "result"),
                [
                    (
                        str(e.get("drill_id")),
                        str(e.get("runbook")),
                        human.moment(e.get("ended_at")),
                        human.seconds(e.get("rto_seconds")),
                        human.seconds(e.get("rpo_seconds")),
                        _result(e),
                    )
                    for e in drills
                ],
                chart_svg=charts,
            )
        )
    measured = [check for check in checks if check.met is not None]
    if not measured:
        verdict = Verdict("done", "no drill has ended yet: `ops drill run RUNBOOK --env ENV`", checks)
    elif failed := [name for name, drills in sorted(by_component.items()) if _result(drills[-1]) == "failed"]:
        verdict = Verdict("failed", f"the last drill failed: {', '.join(failed)}", checks)
    elif all(check.met for check in measured):
        verdict = Verdict(
            "met", f"the last drill of each of {len(measured)} component(s) met its objectives", checks
        )
    else:
        missed = ", ".join(check.measure for check in measured if not check.met)
        verdict = Verdict("missed", f"the last drill missed its objectives: {missed}", checks)
    title = f"drill history ({environment or 'every environment'})"
    return write_report(folder, title, {"drills": entries}, sections, verdict=verdict)
