"""The readiness report: a verdict table first, then each component's findings and drill."""

from __future__ import annotations

from pathlib import Path

from ops.readiness.model import Assessment
from ops.report.writer import ReportPaths, Section, write_report


def _seconds(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):g} s"


def write_readiness(folder: Path, assessment: Assessment) -> ReportPaths:
    verdicts = Section(
        "Verdicts",
        ("component", "kind", "verdict", "RPO objective", "RTO objective", "why"),
        [
            (
                c.component,
                c.kind,
                c.verdict.value,
                _seconds(c.rpo_seconds),
                _seconds(c.rto_seconds),
                "; ".join(c.reasons) or "every mechanism in place, a drill met the objectives",
            )
            for c in assessment.components
        ],
    )
    findings = Section(
        "Recovery mechanisms and alarms",
        ("component", "check", "state", "detail"),
        [
            (c.component, f.check, {True: "ok", False: "FAILED", None: "unknown"}[f.ok], f.detail)
            for c in assessment.components
            for f in c.findings
        ],
    )
    drills = Section(
        "Last drills",
        ("component", "drill", "runbook", "ended", "RTO measured", "RPO measured", "outcome"),
        [
            (
                c.component,
                str(c.last_drill["drill_id"]),
                str(c.last_drill["runbook"]),
                str(c.last_drill["ended_at"]),
                _seconds(c.last_drill["rto_seconds"]),
                _seconds(c.last_drill["rpo_seconds"]),
                str(c.last_drill["outcome"]),
            )
            for c in assessment.components
            if c.last_drill is not None
        ],
    )
    skipped = Section(
        "Not assessed here",
        ("component", "why"),
        [(name, why) for name, why in assessment.not_assessed.items()],
    )
    calls = Section(
        "AWS read calls",
        ("operation", "calls"),
        [(operation, str(count)) for operation, count in sorted(assessment.calls.get("calls", {}).items())],
    )
    title = f"DR readiness of {assessment.environment}, {assessment.assessed_at[:19]} UTC"
    return write_report(folder, title, assessment.as_dict(), [verdicts, findings, drills, skipped, calls])
