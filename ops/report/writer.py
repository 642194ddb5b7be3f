"""Write one report in three forms (HTML, Markdown, JSON) into its own folder.

Every report reads the same way: the verdict first (met, missed, failed, or what a dry run
found) with the objectives beside the measured values, then what changed, then the detail.
Values in tables are text for people (see `ops/report/human.py`), never a data structure."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ops.state import write_atomic

Outcome = Literal["met", "missed", "failed", "done", "planned"]

BANNER = {
    "met": ("#e3f4e8", "#1f7a3d", "OBJECTIVES MET"),
    "missed": ("#fdf1dc", "#9a5b00", "OBJECTIVE MISSED"),
    "failed": ("#fbe4e4", "#a11d1d", "FAILED"),
    "done": ("#e8eef9", "#23438f", "DONE"),
    "planned": ("#eeeeee", "#444444", "DRY RUN"),
}


@dataclass(frozen=True)
class Check:
    """One objective beside what was measured (met None: not measured)."""

    measure: str
    objective: str
    measured: str
    met: bool | None


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    headline: str  # the answer in one line: "RTO 1.5 s of 30 min, nothing lost"
    checks: list[Check] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # created, modified, cut over, rolled back


@dataclass(frozen=True)
class Section:
    """A titled table (and an optional chart above it), the same in Markdown and HTML."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    chart_svg: str = ""
    note: str = ""  # a sentence under the title


@dataclass(frozen=True)
class ReportPaths:
    folder: Path
    json: Path
    markdown: Path
    html: Path


def write_report(
    folder: Path,
    title: str,
    data: dict[str, Any],
    sections: list[Section],
    verdict: Verdict | None = None,
    links: list[tuple[str, str]] | None = None,
) -> ReportPaths:
    """`links`: (text, path relative to the report's folder) to related reports."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(folder, folder / "report.json", folder / "report.md", folder / "report.html")
    payload = dict(data)
    if verdict is not None:
        payload["verdict"] = asdict(verdict)
    write_atomic(paths.json, json.dumps(payload, indent=2, default=str) + "\n")
    write_atomic(paths.markdown, _markdown(title, sections, verdict, links or []))
    write_atomic(paths.html, _html(title, sections, verdict, links or []))
    return paths


def _met(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "MISSED")


def _markdown(
    title: str, sections: list[Section], verdict: Verdict | None, links: list[tuple[str, str]]
) -> str:
    lines = [f"# {title}", ""]
    if verdict is not None:
        lines += [f"> **{BANNER[verdict.outcome][2]}**: {verdict.headline}", ""]
        if verdict.checks:
            lines += ["| measure | objective | measured | result |", "|---|---|---|---|"]
            lines += [
                f"| {c.measure} | {c.objective} | {c.measured} | {_met(c.met)} |" for c in verdict.checks
            ]
            lines.append("")
        if verdict.changes:
            lines += ["**What changed**", ""] + [f"- {change}" for change in verdict.changes] + [""]
    if links:
        lines += ["**Related reports**: " + ", ".join(f"[{text}]({href})" for text, href in links), ""]
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.note:
            lines += [section.note, ""]
        if section.chart_svg:
            lines += ["(a chart: see report.html)", ""]
        if section.header:
            lines += ["| " + " | ".join(section.header) + " |", "|" + "---|" * len(section.header)]
            for row in section.rows:
                lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
            lines.append("")
    return "\n".join(lines)


STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:64em;"
    "padding:0 1em;color:#222}h1{font-size:1.5em;margin-bottom:.4em}h2{font-size:1.15em;margin-top:1.6em}"
    "table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #d6d6d6;padding:.3em .7em;"
    "text-align:left;vertical-align:top}th{background:#f4f4f4}td.num{text-align:right}"
    ".banner{border-radius:6px;padding:1em 1.2em;margin:1em 0 1.4em;border-left:8px solid}"
    ".banner .outcome{font-weight:700;letter-spacing:.05em}"
    ".banner .headline{font-size:1.2em;margin:.3em 0 .5em}"
    ".banner table{background:#fff}.met{color:#1f7a3d;font-weight:600}.missed{color:#a11d1d;font-weight:700}"
    ".unmeasured{color:#666}svg.chart{max-width:100%;height:auto;display:block;margin:.6em 0}"
    ".links a{margin-right:1em}.note{color:#555}"
)


def _html(title: str, sections: list[Section], verdict: Verdict | None, links: list[tuple[str, str]]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if verdict is not None:
        parts.append(_banner(verdict))
    if links:
        anchors = "".join(f"<a href='{esc(href)}'>{esc(text)}</a>" for text, href in links)
        parts.append(f"<p class='links'>Related reports: {anchors}</p>")
    for section in sections:
        parts.append(f"<section><h2>{esc(section.title)}</h2>")
        if section.note:
            parts.append(f"<p class='note'>{esc(section.note)}</p>")
        if section.chart_svg:
            parts.append(section.chart_svg)
        if section.rows:
            parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in section.header) + "</tr>")
            for row in section.rows:
                parts.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
            parts.append("</table>")
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _banner(verdict: Verdict) -> str:
    esc = html.escape
    background, color, word = BANNER[verdict.outcome]
    parts = [
        f"<div class='banner' id='verdict' data-outcome='{verdict.outcome}' "
        f"style='background:{background};border-color:{color}'>",
        f"<div class='outcome' style='color:{color}'>{word}</div>",
        f"<div class='headline'>{esc(verdict.headline)}</div>",
    ]
    if verdict.checks:
        parts.append("<table><tr><th>measure</th><th>objective</th><th>measured</th><th>result</th></tr>")
        for check in verdict.checks:
            css = "unmeasured" if check.met is None else ("met" if check.met else "missed")
            parts.append(
                f"<tr><td>{esc(check.measure)}</td><td>{esc(check.objective)}</td>"
                f"<td>{esc(check.measured)}</td><td class='{css}'>{_met(check.met)}</td></tr>"
            )
        parts.append("</table>")
    if verdict.changes:
        items = "".join(f"<li>{esc(change)}</li>" for change in verdict.changes)
        parts.append(f"<div><strong>What changed</strong><ul>{items}</ul></div>")
    parts.append("</div>")
    return "".join(parts)
