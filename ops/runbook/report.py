"""A run's report and a drill's: JSON, Markdown and HTML with a timeline of its steps."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.report import human
from ops.report.charts import Band, GanttBar, banded_line_chart, gantt_chart
from ops.report.writer import Check, ReportPaths, Section, Verdict, write_report
from ops.runbook.drill_load import LoadOutcome, epoch, load_per_band, step_bands
from ops.runbook.journal import RunRecord


def write_run_report(record: RunRecord, folder: Path) -> ReportPaths:
    """A run's report, from its journal alone (`ops runbook report RUN_ID` makes it again)."""
    title = f"{record.runbook} run {record.run_id} ({record.environment})"
    return write_report(folder, title, record.__dict__, _run_sections(record), verdict=run_verdict(record))


def run_verdict(record: RunRecord) -> Verdict:
    """The answer first: did it end, and did its RTO and RPO meet the objectives."""
    checks = objective_checks(
        record.objectives, record.outputs.get("RecoveryTime"), record.outputs.get("RPOSeconds")
    )
    changes = _changes(record)
    if record.status in ("failed", "interrupted", "rollback-failed"):
        where = f" at {record.failed_step}" if record.failed_step else ""
        undone = "; rolled back: " + ", ".join(record.rolled_back) if record.rolled_back else ""
        left = (
            "; still to undo: " + ", ".join(record.left) + f" (`ops runbook abort {record.run_id}`)"
            if record.left
            else ""
        )
        return Verdict(
            "failed",
            f"{record.status}{where}: {record.error or 'no error recorded'}{undone}{left}",
            checks,
            changes,
        )
    if record.status == "aborted":
        return Verdict("done", "aborted: every change it made was undone", checks, changes)
    if record.status != "completed":
        return Verdict(
            "done", f"{record.status}: not ended yet (`ops runbook status {record.run_id}`)", checks, changes
        )
    if not record.execute:
        actions = [s for s, step in record.steps.items() if step.get("kind") != "check"]
        return Verdict(
            "planned", f"dry run: every check passed; {len(actions)} step(s) would run with --execute", [], []
        )
    measured = [check for check in checks if check.met is not None]
    headline = (
        ", ".join(f"{c.measure} {c.measured} (objective {c.objective})" for c in measured) or "completed"
    )
    if not measured:
        return Verdict("done", headline, checks, changes)
    if all(check.met for check in measured):
        return Verdict("met", headline, checks, changes)
    return Verdict("missed", headline, checks, changes)


def objective_checks(objectives: dict[str, Any], rto: float | None, rpo: float | None) -> list[Check]:
    """RTO and RPO beside the component's objectives (none recorded: nothing to judge)."""
    if not objectives:
        return []
    checks = []
    for name, measured, objective in (
        ("RTO", rto, objectives.get("rto")),
        ("RPO", rpo, objectives.get("rpo")),
    ):
        if objective is None:
            continue
        met = None if measured is None else float(measured) <= float(objective)
        checks.append(Check(name, f"<= {human.seconds(float(objective))}", human.seconds(measured), met))
    return checks


def _changes(record: RunRecord) -> list[str]:
    """What the run changed, in the order it did: each action step, and what was undone."""
    found = []
    for step, info in record.steps.items():
        if info.get("kind") != "action":
            continue
        title = info.get("title") or step
        if step in record.rolled_back:
            found.append(f"{title} (rolled back)")
        elif step in record.completed:
            found.append(title)
        elif step == record.failed_step:
            found.append(f"{title} (failed)")
    return found


def _offset(record: RunRecord, moment: str) -> float:
    return (datetime.fromisoformat(moment) - datetime.fromisoformat(record.started_at)).total_seconds()


def _run_sections(record: RunRecord) -> list[Section]:
    bars = []
    for step, (begin, end) in record.timings.items():
        kind = record.steps.get(step, {}).get("kind", "action")
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(begin)).total_seconds()
        bars.append(GanttBar(step, _offset(record, begin), seconds, kind, failed=step == record.failed_step))
    marks = (
        {"cutover": _offset(record, record.timings["cutover"][1])} if "cutover" in record.completed else {}
    )
    start = datetime.fromisoformat(record.started_at) if record.started_at else None
    timeline = Section(
        "Timeline",
        ("step", "kind", "what it did", "started at", "took"),
        [
            (
                bar.label,
                bar.kind,
                record.steps.get(bar.label, {}).get("title", ""),
                f"+{human.seconds(bar.start)}",
                human.seconds(bar.seconds) + (" (failed)" if bar.failed else ""),
            )
            for bar in bars
        ],
        chart_svg=gantt_chart(bars, marks, start),
        note="Each step from the run's start; waits and approvals in their own colours, the cutover marked.",
    )
    outputs = Section("Outputs", ("output", "value"), [(k, _output(k, v)) for k, v in record.outputs.items()])
    run = Section(
        "Run",
        ("field", "value"),
        [
            ("runbook", record.runbook),
            ("environment", record.environment),
            ("parameters", human.value(record.params)),
            ("mode", "executed" if record.execute else "dry run"),
            ("status", record.status),
            ("started", human.moment(record.started_at)),
            ("ended", human.moment(record.ended_at)),
            ("approver", record.approver or "-"),
            ("rolled back", ", ".join(record.rolled_back) or "-"),
            ("error", record.error or "-"),
        ],
    )
    return [timeline, outputs, run]


def _output(name: str, value: Any) -> str:
    """Seconds as durations, the rest spelled out (a mapping as `name: value` pairs)."""
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (name.endswith("Seconds") or name in ("RecoveryTime",))
    ):
        return human.seconds(float(value))
    return human.value(value)


def write_drill_report(
    folder: Path,
    drill: dict[str, Any],
    record: RunRecord | None,
    events: list[dict[str, Any]],
    load: LoadOutcome | None,
) -> ReportPaths:
    """A drill's report: its figures against the objectives, its run's sections and, under
    load, what users saw during each step: the load's error rate and p95 per second over the
    steps' bands, on one time axis from the drill's start. `record` and `events` are its
    run's journal (None and [] when the drill ended before its run began)."""
    met = drill["objectives_met"]
    checks = objective_checks(
        {"rto": drill.get("rto_objective"), "rpo": drill.get("rpo_objective")},
        drill.get("rto_seconds"),
        drill.get("rpo_seconds"),
    )
    what = f"drill of {drill['runbook']} on {drill['component']} ({drill['environment']})"
    if drill["status"] in ("failed", "interrupted") or drill.get("error"):
        verdict = Verdict(
            "failed", f"{what} {drill['status']}: {drill.get('error') or 'see the run'}", checks
        )
    elif met:
        verdict = Verdict("met", f"{what}: objectives met", checks)
    else:
        verdict = Verdict("missed", f"{what}: an objective was missed", checks)
    if record is not None:
        verdict = Verdict(verdict.outcome, verdict.headline, checks, _changes(record))
    rows: list[tuple[str, ...]] = [
        ("runbook", drill["runbook"]),
        ("environment", drill["environment"]),
        ("component", drill["component"]),
        ("status", drill["status"] + (" (objectives met)" if met else "")),
        ("started", human.moment(drill["started_at"])),
        ("ended", human.moment(drill["ended_at"])),
        ("RTO", f"{human.seconds(drill['rto_seconds'])} (objective {human.seconds(drill['rto_objective'])})"),
        ("RPO", f"{human.seconds(drill['rpo_seconds'])} (objective {human.seconds(drill['rpo_objective'])})"),
        ("error", drill["error"] or "-"),
    ]
    sections = [Section("Drill", ("field", "value"), rows)]
    data: dict[str, Any] = {"drill": drill, "run": record.__dict__ if record else None}
    if record is not None:
        sections += _run_sections(record)
    if load is not None:
        origin, end = epoch(drill["started_at"]), epoch(drill["ended_at"])
        bands = step_bands(events, origin, end)
        sections += _load_sections(load, bands, origin, end)
        data["load"] = {
            **load.summary(),
            "points": [{**asdict(p), "second": round(p.at - origin, 3)} for p in load.points],
            "steps": [{"step": label, "start_s": start, "end_s": stop} for label, start, stop in bands],
        }
    return write_report(folder, f"drill {drill['drill_id']}", data, sections, verdict=verdict)


def _load_sections(load: LoadOutcome, bands: list[Band], origin: float, end: float) -> list[Section]:
    window = f"last {load.window_s:g} s"
    x = [p.at - origin for p in load.points]
    errors = [None if p.error_rate is None else round(100 * p.error_rate, 3) for p in load.points]
    p95 = [p.p95_ms for p in load.points]
    span = end - origin
    charts = banded_line_chart(x, {"error rate %": errors}, bands, f"errors, % of requests ({window})", span)
    charts += banded_line_chart(x, {"p95 ms": p95}, bands, "p95 latency, ms (Locust's last 10 s)", span)
    ending = (
        "stopped at the drill's end (longer than the drill)"
        if load.stopped_by_drill
        else "ended before the drill did"
    )
    summary = Section(
        "Load",
        ("field", "value"),
        [
            ("campaign", f"{load.campaign} ({load.campaign_id})"),
            ("planned", f"{load.planned_seconds:g} s; {ending}"),
            ("requests", f"{load.requests} ({load.failures} failed)"),
            ("SLO", "met" if load.slo_met else "missed (reported; the drill's exit code is its objectives')"),
            ("aborted", load.aborted or "-"),
            ("results", load.folder),
        ],
    )
    verdict = Section(
        "Load SLO verdict",
        ("measure", "objective", "measured", "met"),
        [(c["measure"], c["objective"], c["measured"], "yes" if c["met"] else "NO") for c in load.slo],
    )
    per_step = Section(
        "What users saw during each step",
        ("#", "step", "from s", "to s", "seconds seen", "error rate, worst", "p95 ms, worst"),
        [
            (
                str(index + 1),
                seen.label,
                f"{seen.start:.1f}",
                f"{seen.end:.1f}",
                str(seen.seconds),
                "-" if seen.error_rate_max is None else f"{seen.error_rate_max:.2%}",
                "-" if seen.p95_max_ms is None else f"{seen.p95_max_ms:g}",
            )
            for index, seen in enumerate(load_per_band(load.points, bands, origin))
        ],
        chart_svg=charts,
    )
    return [summary, verdict, per_step]
