"""Run a campaign on any backend: stream its live statistics to the sinks, stop it when an
abort rule holds for its window, then merge the results, judge them against the SLO, ask
the backend what the run cost, and write results.json and the report once, cost and a link
to Locust's own HTML report included."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.campaign.backend import Backend, FinalStats, LiveStats
from ops.campaign.cost import CampaignCost, Cost
from ops.campaign.results import results_payload, summarize, verdict
from ops.campaign.spec import AbortRule, Campaign
from ops.campaign.timeline import charts, parse_history
from ops.inventory.spec import Slo
from ops.report.writer import Check as ReportCheck
from ops.report.writer import Section, Verdict, write_report
from ops.state import write_atomic

if TYPE_CHECKING:  # the sinks' clients load with the sinks
    from ops.campaign.live import LiveSink

Check = tuple[str, str, str, bool]


@dataclass
class AbortWatch:
    """k6's abortOnFail with a window: a rule must hold on every reading for `for` seconds."""

    rules: list[AbortRule]
    since: dict[int, float] = field(default_factory=dict)

    def breached(self, live: LiveStats) -> str:
        for index, rule in enumerate(self.rules):
            value = live.fail_ratio if rule.metric == "error_rate" else live.p95_ms
            if value is None or value <= rule.above:
                self.since.pop(index, None)
                continue
            began = self.since.setdefault(index, live.elapsed_s)
            if live.elapsed_s - began >= rule.window:
                return f"{rule.metric} {value:g} above {rule.above:g} for {rule.window:g} s"
        return ""


@dataclass
class CampaignOutcome:
    campaign_id: str
    folder: Path
    data: dict[str, Any]
    checks: list[Check]
    sections: list[Section] = field(default_factory=list)  # the report's, besides the data
    cost: CampaignCost | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, path relative to the folder)

    @property
    def met(self) -> bool:
        return all(ok for *_, ok in self.checks)


def drive(
    backend: Backend,
    rules: list[AbortRule],
    sinks: list[LiveSink],
    on_live: Callable[[LiveStats], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> tuple[FinalStats, str]:
    """Start, stream, stop on a breached rule, collect; every process or task is stopped
    whatever happens (interrupts included)."""
    watch = AbortWatch(rules)
    aborted = ""
    try:
        backend.start()
        if on_start is not None:
            on_start()
        for live in backend.stream():
            for sink in sinks:
                sink.publish(live)
            if on_live is not None:
                on_live(live)
            aborted = watch.breached(live)
            if aborted:
                backend.stop()
                break
        return backend.finish(), aborted
    finally:
        backend.cleanup()
        for sink in sinks:
            sink.close()


def run_campaign(
    spec: Campaign,
    backend: Backend,
    campaign_id: str,
    folder: Path,
    slo: Slo,
    sinks: list[LiveSink] | None = None,
    on_live: Callable[[LiveStats], None] | None = None,
    on_start: Callable[[], None] | None = None,
) -> CampaignOutcome:
    final, aborted = drive(backend, list(spec.abort), sinks or [], on_live, on_start)
    # Asked after the cleanup: every task has stopped, so its billed time is known.
    outcome = judge(spec, campaign_id, folder, final, aborted, slo, backend.cost())
    write_results(outcome)
    return outcome


def arrival_checks(arrivals: dict[str, Any]) -> list[Check]:
    """Open model: a run that dropped iterations did not apply the load it claims."""
    if not arrivals:
        return []
    dropped = sum(stage["dropped"] for stage in arrivals["stages"])
    return [("dropped iterations", "0", str(dropped), dropped == 0)]


def judge(
    spec: Campaign,
    campaign_id: str,
    folder: Path,
    final: FinalStats,
    aborted: str,
    slo: Slo,
    cost: CampaignCost | None = None,
) -> CampaignOutcome:
    summary = summarize(final.stats)
    checks: list[Check] = verdict(summary, slo) + arrival_checks(final.arrivals)
    if aborted:
        checks.append(("abort rule", "not breached", aborted, False))
    data = {
        "campaign_id": campaign_id,
        "folder": str(folder),
        "campaign": spec.model_dump(mode="json"),
        **results_payload(summary, checks),
        "aborted": aborted,
        "arrivals": final.arrivals,
        # Relative to the report's folder, as the report links it.
        "locust_report": {"path": final.locust_report or None, "absent": final.locust_report_absent or None},
    }
    if cost is not None:
        data["cost"] = cost.payload()
    sections = report_sections(checks, final, cost, slo)
    links = [("Locust's own report", final.locust_report)] if final.locust_report else []
    return CampaignOutcome(campaign_id, folder, data, checks, sections, cost, links)


def write_results(outcome: CampaignOutcome) -> None:
    """results.json and the report (HTML, Markdown, JSON): the one place both are written."""
    folder = outcome.folder
    write_atomic(folder / "results.json", json.dumps(outcome.data, indent=2) + "\n")
    title = f"campaign {outcome.campaign_id}"
    write_report(
        folder, title, outcome.data, outcome.sections, verdict=campaign_verdict(outcome), links=outcome.links
    )


def campaign_verdict(outcome: CampaignOutcome) -> Verdict:
    """The SLO verdict first: every check met, one missed, or the campaign aborted."""
    checks = [
        ReportCheck(measure, objective, measured, ok) for measure, objective, measured, ok in outcome.checks
    ]
    cost = outcome.cost.actual if outcome.cost is not None else None
    spent = f"; cost ${cost.usd:.2f}" if cost is not None else ""
    aborted = outcome.data.get("aborted")
    if aborted:
        return Verdict("failed", f"aborted: {aborted}{spent}", checks)
    missed = [check.measure for check in checks if not check.met]
    if missed:
        return Verdict("missed", f"SLO missed: {', '.join(missed)}{spent}", checks)
    return Verdict("met", f"every SLO met ({len(checks)} checks){spent}", checks)


def _usd(cost: Cost | None, missing: str) -> tuple[str, ...]:
    if cost is None:
        return (missing, "", "")
    return (f"${cost.usd:.2f}", f"{cost.vcpu_hours:.2f}", f"{cost.gb_hours:.2f}")


def cost_section(cost: CampaignCost) -> Section:
    """The same figures the verdict prints: the estimate (none on attach) and what ran."""
    rows = [("estimate", *_usd(cost.estimate, "none")), ("actual", *_usd(cost.actual, "unknown"))]
    return Section("Cost", ("", "USD", "vCPU-hours", "GB-hours"), rows, note=cost.note)


def locust_report_absent(final: FinalStats) -> Section | None:
    """Why Locust's own report is missing (present, the report links it instead)."""
    if final.locust_report:
        return None
    why = final.locust_report_absent or "the backend did not say"
    return Section("Locust's own report", ("file", "absent because"), [("none", why)])


def report_sections(
    checks: list[Check], final: FinalStats, cost: CampaignCost | None = None, slo: Slo | None = None
) -> list[Section]:
    verdict_rows: list[tuple[str, ...]] = [(m, o, v, "yes" if ok else "NO") for m, o, v, ok in checks]
    sections = [Section("SLO verdict", ("measure", "objective", "measured", "met"), verdict_rows)]
    if cost is not None:
        sections.append(cost_section(cost))
    absent = locust_report_absent(final)
    if absent is not None:
        sections.append(absent)
    if final.arrivals:
        rows: list[tuple[str, ...]] = [
            (
                str(i + 1),
                f"{s['duration_s']:g} s",
                f"{s['expected']:g}",
                str(s["started"]),
                str(s["dropped"]),
                f"{s['started'] / s['duration_s']:.2f}/s",
            )
            for i, s in enumerate(final.arrivals["stages"])
        ]
        header = ("stage", "length", "due", "started", "dropped", "achieved rate")
        sections.append(Section("Arrivals (open model)", header, rows))
    timeline = parse_history(final.history_csv)
    titles = {
        "throughput": "Throughput over time",
        "latency": "Latency over time (recent window)",
        "errors": "Errors over time",
    }
    for name, svg in charts(timeline, slo).items():
        if svg:
            sections.append(Section(titles[name], (), [], chart_svg=svg))
    return sections
