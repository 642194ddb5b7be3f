"""Write one report in three forms into its own folder."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.state import write_atomic


@dataclass(frozen=True)
class Section:
    """A titled table, rendered the same way in Markdown and HTML."""

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    chart_svg: str = ""


@dataclass(frozen=True)
class ReportPaths:
    folder: Path
    json: Path
    markdown: Path
    html: Path


def write_report(folder: Path, title: str, data: dict[str, Any], sections: list[Section]) -> ReportPaths:
    folder.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(folder, folder / "report.json", folder / "report.md", folder / "report.html")
    write_atomic(paths.json, json.dumps(data, indent=2, default=str) + "\n")
    write_atomic(paths.markdown, _markdown(title, sections))
    write_atomic(paths.html, _html(title, sections))
    return paths


def _markdown(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for section in sections:
        lines += [f"## {section.title}", "", "| " + " | ".join(section.header) + " |"]
        lines.append("|" + "---|" * len(section.header))
        lines += ["| " + " | ".join(row) + " |" for row in section.rows]
        lines.append("")
    return "\n".join(lines)


def _html(title: str, sections: list[Section]) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .7em;"
        "text-align:left}th{background:#f3f3f3}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    for section in sections:
        parts.append(f"<h2>{esc(section.title)}</h2>")
        if section.chart_svg:
            parts.append(section.chart_svg)
        parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in section.header) + "</tr>")
        for row in section.rows:
            parts.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
