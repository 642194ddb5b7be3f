"""A run's report and a drill's: JSON, Markdown and HTML with a timeline of its steps."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.report.charts import Band, banded_line_chart, bar_chart
from ops.report.writer import ReportPaths, Section, write_report
from ops.runbook.drill_load import LoadOutcome, epoch, load_per_band, step_bands
from ops.runbook.journal import RunRecord


def write_run_report(record: RunRecord, folder: Path) -> ReportPaths:
    title = f"{record.runbook} run {record.run_id}"
    return write_report(folder, title, record.__dict__, _run_sections(record))


def _run_sections(record: RunRecord) -> list[Section]:
    durations = {
        step: (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        for step, (start, end) in record.timings.items()
    }
    timeline = Section(
        "Timeline",
        ("step", "started", "seconds"),
        [(step, record.timings[step][0], f"{seconds:.2f}") for step, seconds in durations.items()],
        chart_svg=bar_chart(list(durations), [round(s, 2) for s in durations.values()], "seconds per step"),
    )
    outputs = Section("Outputs", ("output", "value"), [(k, str(v)) for k, v in record.outputs.items()])
    run = Section(
        "Run",
        ("field", "value"),
        [
            ("runbook", record.runbook),
            ("environment", record.environment),
            ("mode", "executed" if record.execute else "dry run"),
            ("status", record.status),
            ("started", record.started_at),
            ("ended", record.ended_at),
            ("approver", record.approver or "-"),
            ("rolled back", ", ".join(record.rolled_back) or "-"),
            ("error", record.error or "-"),
        ],
    )
    return [run, outputs, timeline]


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
    rows: list[tuple[str, ...]] = [
        ("runbook", drill["runbook"]),
        ("environment", drill["environment"]),
        ("component", drill["component"]),
        ("status", drill["status"] + (" (objectives met)" if met else "")),
        ("started", drill["started_at"]),
        ("ended", drill["ended_at"]),
        ("RTO s", f"{drill['rto_seconds']} (objective {drill['rto_objective']})"),
        ("RPO s", f"{drill['rpo_seconds']} (objective {drill['rpo_objective']})"),
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
    return write_report(folder, f"drill {drill['drill_id']}", data, sections)


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
