"""A run's report: JSON, Markdown and HTML with a timeline of its steps."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ops.report.charts import bar_chart
from ops.report.writer import ReportPaths, Section, write_report
from ops.runbook.journal import RunRecord


def write_run_report(record: RunRecord, folder: Path) -> ReportPaths:
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
    return write_report(
        folder, f"{record.runbook} run {record.run_id}", record.__dict__, [run, outputs, timeline]
    )
