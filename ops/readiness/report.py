"""The readiness report: a verdict table first, then each component's findings and drill."""

from __future__ import annotations

from pathlib import Path

from ops.readiness.model import Assessment, Verdict
from ops.report import human
from ops.report.writer import Check, ReportPaths, Section, write_report
from ops.report.writer import Verdict as ReportVerdict


def _seconds(value: object) -> str:
    return "-" if value is None else human.seconds(float(str(value)))


def readiness_verdict(assessment: Assessment) -> ReportVerdict:
    """Protected as measured everywhere is met; any component unprotected is a failure;
    protected as configured only (no drill proved it) is an objective not yet shown."""
    checks = [
        Check(
            c.component,
            f"RPO <= {_seconds(c.rpo_seconds)}, RTO <= {_seconds(c.rto_seconds)}",
            c.verdict.value,
            {Verdict.unprotected: False, Verdict.configured: None}.get(c.verdict, True),
        )
        for c in assessment.components
    ]
    unprotected = [c.component for c in assessment.unprotected]
    if unprotected:
        return ReportVerdict("failed", f"unprotected: {', '.join(unprotected)}", checks)
    configured = [c.component for c in assessment.components if c.verdict is Verdict.configured]
    if configured:
        return ReportVerdict(
            "missed",
            f"protected as configured only (no drill proved it yet): {', '.join(configured)}",
            checks,
        )
    return ReportVerdict("met", "every stateful component protected, as measured by its drills", checks)


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
                human.moment(str(c.last_drill["ended_at"])),
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
    sections = [verdicts, findings, drills, skipped, calls]
    return write_report(folder, title, assessment.as_dict(), sections, verdict=readiness_verdict(assessment))
