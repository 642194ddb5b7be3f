"""The reports' charts, drawn by matplotlib as static SVG inlined in the HTML.

Why matplotlib's SVG rather than an interactive library's: a report is read offline, often
attached to an incident or a change ticket, sometimes at 3 a.m.; static SVG opens in any
browser with no script to load or fail (plotly's bundled script is 4 MB per file), stays a
few kilobytes, and its text stays text (`svg.fonttype: none`), so a browser test can find the
axes and their labels in the DOM. Hover text is each element's SVG `<title>`.

Every chart's root `<svg>` carries `class="chart"` and `data-chart` (its kind); its series
are groups with ids `series-<n>` and `data-series` (the name), its bands `band-<n>` with
`data-label`, its threshold lines `threshold-<n>` with `data-threshold`."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from ops.report import human

# A band behind a time chart: a label and where it starts and ends on the x axis (seconds).
Band = tuple[str, float, float]

PALETTE = ("#3b6fd8", "#e8833a", "#c23b3b", "#2e9d5b", "#7b52c7", "#6b6b6b")
BAND_FILLS = ("#e6eefa", "#f1f1f1")
KIND_COLORS = {
    "check": "#8fb3e8",
    "action": "#3b6fd8",
    "wait": "#f0b429",
    "approval": "#7b52c7",
    "verify": "#2e9d5b",
}
WIDTH_IN, HEIGHT_IN = 8.0, 2.9


def _pyplot() -> Any:
    """pyplot on the Agg backend, imported when a chart is drawn (0.6 s: not for every command)."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",  # text stays text: searchable, selectable, testable
            "svg.hashsalt": "platform-ops",  # the same chart, the same file
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )
    import matplotlib.pyplot as plt

    return plt


@dataclass
class _Svg:
    """A figure's SVG, with what to add that matplotlib does not write (ids' titles)."""

    kind: str
    titles: dict[str, str]
    attributes: dict[str, dict[str, str]]


def _render(fig: Any, svg: _Svg, tight: bool = True) -> str:
    """`tight`: cropped to what is drawn; else the figure's fixed margins, so that charts of
    one report share their time axis to the pixel whatever their tick labels' widths."""
    plt = _pyplot()
    buffer = io.StringIO()
    fig.savefig(
        buffer, format="svg", bbox_inches="tight" if tight else None, metadata={"Date": None, "Creator": None}
    )
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # inlined in HTML: no XML prolog nor doctype
    text = text.replace("<svg ", f'<svg class="chart" data-chart="{svg.kind}" role="img" ', 1)
    for gid, title in svg.titles.items():
        extra = "".join(f' {k}="{escape(v)}"' for k, v in svg.attributes.get(gid, {}).items())
        opening = re.search(rf'<g id="{re.escape(gid)}"[^>]*>', text)
        if opening is not None:
            tag = opening.group(0)[:-1] + extra + ">" + f"<title>{escape(title)}</title>"
            text = text[: opening.start()] + tag + text[opening.end() :]
    return text


def _seconds_label(start: datetime | None) -> str:
    if start is None:
        return "seconds from the start"
    return f"seconds from the start ({start.strftime('%Y-%m-%d %H:%M:%S %Z').strip()})"


def _nice(value: float) -> str:
    """A number for people: no float noise (1.154798 -> 1.15, 1500.0 -> 1500)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{round(value, digits):g}"


def bar_chart(labels: list[str], values: list[float], unit: str) -> str:
    """Vertical bars with each value on top; `unit` names the y axis."""
    if not values:
        return ""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN))
    svg = _Svg("bar", {}, {})
    bars = ax.bar(range(len(values)), values, color=PALETTE[0], gid="series-0")
    svg.titles["series-0"] = unit
    svg.attributes["series-0"] = {"data-series": unit}
    ax.bar_label(bars, labels=[_nice(v) for v in values], padding=2, fontsize=8)
    ax.set_xticks(range(len(values)), labels, rotation=30 if len(labels) > 8 else 0, ha="right")
    ax.set_ylabel(unit)
    ax.grid(axis="x", visible=False)
    return _render(fig, svg)


def line_chart(
    x: list[float],
    series: dict[str, list[float]],
    unit: str,
    right: dict[str, list[float]] | None = None,
    right_unit: str = "",
    start: datetime | None = None,
) -> str:
    """Lines over time (seconds from the start); `right` series on their own axis (users
    beside requests/s: each on a scale that shows it)."""
    lines: dict[str, list[float | None]] = {name: list(values) for name, values in series.items()}
    return time_chart(x, lines, unit, right=right, right_unit=right_unit, start=start)


def banded_line_chart(
    x: list[float],
    series: dict[str, list[float | None]],
    bands: list[Band],
    unit: str,
    x_max: float | None = None,
) -> str:
    """Lines over shaded, numbered bands (a run's steps), so a reader sees what each line
    did during each step; a None value is a gap. Charts given the same bands and `x_max`
    share one time axis. Each band's full label is its hover text."""
    return time_chart(x, series, unit, bands=bands, x_max=x_max)


def time_chart(
    x: Sequence[float],
    series: dict[str, list[float | None]],
    unit: str,
    *,
    right: dict[str, list[float]] | None = None,
    right_unit: str = "",
    bands: Sequence[Band] = (),
    thresholds: dict[str, float] | None = None,
    x_max: float | None = None,
    start: datetime | None = None,
) -> str:
    """The general time chart: x in seconds from the start, a y axis in `unit`, optional
    right-hand series on a second axis, bands behind, and dashed threshold lines (an
    objective, an SLO) labelled in the legend."""
    values = [v for line in series.values() for v in line if v is not None]
    right_end = max([x_max or 0.0, *x, *(end for _, _, end in bands)], default=0.0)
    if right_end <= 0 or (not values and not bands):
        return ""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN))
    svg = _Svg("time", {}, {})
    for index, (label, begin, end) in enumerate(bands):
        gid = f"band-{index + 1}"
        ax.axvspan(
            begin, max(end, begin + right_end / 500), color=BAND_FILLS[index % 2], lw=0, gid=gid, zorder=0
        )
        svg.titles[gid] = f"{index + 1}. {label}: {begin:.1f} s to {end:.1f} s"
        svg.attributes[gid] = {"data-label": label, "data-start": f"{begin:.3f}", "data-end": f"{end:.3f}"}
        ax.text(
            (begin + end) / 2,
            1.0,
            str(index + 1),
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
            color="#555",
        )
    for index, (name, line) in enumerate(series.items()):
        gid = f"series-{index}"
        xs = list(x)
        ys = [math.nan if v is None else v for v in line]
        ax.plot(
            xs,
            ys,
            color=PALETTE[index % len(PALETTE)],
            lw=1.4,
            label=name,
            gid=gid,
            marker="." if len(xs) < 3 else None,
        )
        svg.titles[gid] = name
        svg.attributes[gid] = {"data-series": name}
    for index, (name, level) in enumerate((thresholds or {}).items()):
        gid = f"threshold-{index}"
        ax.axhline(level, color="#c23b3b", lw=1, ls="--", label=f"{name} ({_nice(level)})", gid=gid)
        svg.titles[gid] = f"{name}: {_nice(level)} {unit}"
        svg.attributes[gid] = {"data-threshold": name}
    ax.set_xlim(0, right_end)
    # An objective far above what was measured (an SLO of 1 s against 25 ms) would flatten
    # the lines: a symmetric log scale shows both.
    top, highest = max(values, default=0.0), max((thresholds or {}).values(), default=0.0)
    if top > 0 and highest / top > 20:
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(_seconds_label(start))
    ax.set_ylabel(unit)
    handles, labels = ax.get_legend_handles_labels()
    if right:
        twin = ax.twinx()
        twin.spines["right"].set_visible(True)
        for index, (name, right_line) in enumerate(right.items()):
            gid = f"series-r{index}"
            color = PALETTE[(len(series) + index) % len(PALETTE)]
            twin.plot(list(x), right_line, color=color, lw=1.2, ls="-.", label=name, gid=gid)
            svg.titles[gid] = name
            svg.attributes[gid] = {"data-series": name}
        twin.set_ylabel(right_unit)
        twin.set_ylim(bottom=0)
        twin.grid(False)
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    if labels:
        ax.legend(handles, labels, loc="upper left", fontsize=8, framealpha=0.85)
    fig.subplots_adjust(left=0.09, right=0.91, bottom=0.17, top=0.9)
    return _render(fig, svg, tight=False)


@dataclass(frozen=True)
class GanttBar:
    """One step of a run: where it starts and how long it takes (seconds from the start)."""

    label: str
    start: float
    seconds: float
    kind: str  # check, action, wait, approval, verify
    failed: bool = False


def gantt_chart(bars: Sequence[GanttBar], marks: dict[str, float], start: datetime | None = None) -> str:
    """A run's steps on one time axis, coloured by kind (waits and approvals distinct), a
    failed step hatched, and `marks` (the cutover) as labelled vertical lines."""
    if not bars:
        return ""
    plt = _pyplot()
    height = max(1.6, 0.28 * len(bars) + 0.9)
    fig, ax = plt.subplots(figsize=(WIDTH_IN, height))
    svg = _Svg("gantt", {}, {})
    longest = max(bar.start + bar.seconds for bar in bars) or 1.0
    for index, bar in enumerate(bars):
        gid = f"step-{index + 1}"
        color = KIND_COLORS.get(bar.kind, PALETTE[-1])
        ax.barh(
            index,
            max(bar.seconds, longest / 400),  # an instant step still shows
            left=bar.start,
            color=color,
            hatch="////" if bar.failed else None,
            edgecolor="#c23b3b" if bar.failed else color,
            gid=gid,
        )
        svg.titles[gid] = (
            f"{bar.label} ({bar.kind}): from +{human.seconds(bar.start)}, {human.seconds(bar.seconds)}"
        )
        svg.attributes[gid] = {"data-step": bar.label, "data-kind": bar.kind}
        ax.text(bar.start + bar.seconds, index, f" {human.seconds(bar.seconds)}", va="center", fontsize=7)
    for index, (label, at) in enumerate(marks.items()):
        gid = f"mark-{index}"
        ax.axvline(at, color="#c23b3b", lw=1.2, ls="--", gid=gid)
        ax.text(at, -0.9, f" {label}", color="#c23b3b", fontsize=8, va="bottom")
        svg.titles[gid] = f"{label} at {at:.2f} s"
        svg.attributes[gid] = {"data-mark": label}
    ax.set_yticks(range(len(bars)), [bar.label for bar in bars])
    ax.invert_yaxis()
    ax.set_xlim(0, longest * 1.12)
    ax.set_xlabel(_seconds_label(start))
    ax.grid(axis="y", visible=False)
    kinds = sorted({bar.kind for bar in bars})
    handles = [plt.Rectangle((0, 0), 1, 1, color=KIND_COLORS.get(k, PALETTE[-1])) for k in kinds]
    ax.legend(
        handles,
        kinds,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=7,
        ncols=len(kinds),
        frameon=False,
    )
    return _render(fig, svg)


def history_chart(
    when: Sequence[datetime], series: dict[str, list[float | None]], objective: float | None, unit: str
) -> str:
    """A measure over calendar time (each drill a point) against its objective."""
    values = [v for line in series.values() for v in line if v is not None]
    if not when or not values:
        return ""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN))
    svg = _Svg("history", {}, {})
    for index, (name, line) in enumerate(series.items()):
        gid = f"series-{index}"
        ys = [math.nan if v is None else v for v in line]
        ax.plot(
            list(when), ys, marker="o", ms=4, lw=1.2, color=PALETTE[index % len(PALETTE)], label=name, gid=gid
        )
        svg.titles[gid] = name
        svg.attributes[gid] = {"data-series": name}
    if objective is not None:
        shown = human.seconds(objective) if "second" in unit else f"{_nice(objective)} {unit}"
        ax.axhline(objective, color="#c23b3b", lw=1, ls="--", label=f"objective ({shown})", gid="threshold-0")
        svg.titles["threshold-0"] = f"objective: {shown}"
        svg.attributes["threshold-0"] = {"data-threshold": "objective"}
    import matplotlib.dates as mdates

    # The objective may be hundreds of times the measured values (30 min against 4 s): a
    # symmetric log scale then shows both, and zero too.
    top = max(values)
    if objective is not None and top > 0 and objective / top > 20:
        ax.set_yscale("symlog", linthresh=1.0)
    if "second" in unit:  # ticks as durations people read: 1 s, 10 s, 1 min 40 s
        from matplotlib.ticker import FuncFormatter

        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human.seconds(v)))
    ax.set_ylim(bottom=0)
    first, last = min(when), max(when)
    pad = max((last - first) * 0.05, timedelta(minutes=30))
    ax.set_xlim(first - pad, last + pad)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_ylabel(unit)
    ax.set_xlabel("drill end (UTC)")
    ax.legend(loc="upper left", fontsize=8, framealpha=0.85)
    return _render(fig, svg)
