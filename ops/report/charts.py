"""Small inline SVG charts: no plotting library, nothing fetched by the browser."""

from __future__ import annotations

import math
from html import escape


def _text(x: float, y: float, text: str, anchor: str = "middle") -> str:
    return f"<text x='{x:.1f}' y='{y:.1f}' font-size='11' text-anchor='{anchor}'>{escape(text)}</text>"


def bar_chart(labels: list[str], values: list[float], unit: str, width: int = 640, height: int = 220) -> str:
    """A vertical bar chart with the value on top of each bar."""
    if not values:
        return ""
    top = max(values) or 1.0
    margin, base = 30, height - 40
    slot = (width - 2 * margin) / len(values)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>",
        _text(margin, 16, unit, anchor="start"),
        f"<line x1='{margin}' y1='{base}' x2='{width - margin}' y2='{base}' stroke='#333'/>",
    ]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        bar_height = (base - margin) * value / top
        x, y = margin + index * slot + slot * 0.15, base - bar_height
        parts.append(
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{slot * 0.7:.1f}' "
            f"height='{bar_height:.1f}' fill='#3b7dd8'/>"
        )
        parts.append(_text(x + slot * 0.35, y - 4, f"{value:g}"))
        parts.append(_text(x + slot * 0.35, base + 16, label))
    parts.append("</svg>")
    return "".join(parts)


PALETTE = ("#3b7dd8", "#e8833a", "#c23b3b", "#2e9d5b")


def line_chart(
    x: list[float], series: dict[str, list[float]], unit: str, width: int = 640, height: int = 220
) -> str:
    """Lines over a shared x axis (seconds), a legend, and the top value of the y axis."""
    points = [v for values in series.values() for v in values]
    if not x or not points:
        return ""
    top, right = max(points) or 1.0, max(x) or 1.0
    margin, base = 40, height - 30

    def at(px: float, py: float) -> str:
        return f"{margin + (width - 2 * margin) * px / right:.1f},{base - (base - margin) * py / top:.1f}"

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>",
        _text(margin, 16, f"{unit} (max {top:g})", anchor="start"),
        f"<line x1='{margin}' y1='{base}' x2='{width - margin}' y2='{base}' stroke='#333'/>",
        _text(width - margin, base + 16, f"{right:g} s", anchor="end"),
    ]
    for index, (name, values) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        path = " ".join(at(px, py) for px, py in zip(x, values, strict=True))
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='1.5' points='{path}'/>")
        parts.append(
            f"<text x='{width - margin - 90 * (index + 1):.0f}' y='16' font-size='11' fill='{color}'>"
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# A band behind a line chart: a label and where it starts and ends on the x axis.
Band = tuple[str, float, float]
BAND_FILLS = ("#e6eefa", "#f3f3f3")
LABEL_ROWS = 3
CHAR_WIDTH = 6.5  # about, at font-size 11


def _ticks(right: float, count: int = 4) -> list[float]:
    """Round x-axis ticks from 0 to `right` (1, 2 or 5 times a power of ten apart)."""
    raw = right / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(right / step) + 1)]


def banded_line_chart(
    x: list[float],
    series: dict[str, list[float | None]],
    bands: list[Band],
    unit: str,
    x_max: float | None = None,
    width: int = 720,
    height: int = 240,
) -> str:
    """Lines over a shared x axis (seconds) drawn over shaded, labelled bands (a run's steps),
    so that a reader sees what each line did during each band. A None value is a gap in its
    line. Several charts given the same bands and `x_max` share one time axis. A band too
    narrow for its label shows its number (1, 2, ...), on one of three rows above the plot
    where it does not overlap another (else none); each has its label as a tooltip."""
    points = [v for values in series.values() for v in values if v is not None]
    right = max([x_max or 0.0, *x, *(end for _, _, end in bands)], default=0.0)
    if right <= 0 or (not points and not bands):
        return ""
    highest = max(points, default=0.0)
    top = highest or 1.0
    left, margin, plot_top, base = 50, 20, 56, height - 30
    label_ends = [-math.inf] * LABEL_ROWS  # where the last label of each row ends

    def px(value: float) -> float:
        return left + (width - left - margin) * min(max(value, 0.0), right) / right

    def py(value: float) -> float:
        return base - (base - plot_top) * value / top

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>",
        _text(left, 14, f"{unit} (max {highest:g})", anchor="start"),
    ]
    for index, (label, start, end) in enumerate(bands):
        x0, x1 = px(start), px(end)
        fill = BAND_FILLS[index % len(BAND_FILLS)]
        shown = label if (x1 - x0) >= CHAR_WIDTH * len(label) + 4 else str(index + 1)
        middle, half = (x0 + x1) / 2, CHAR_WIDTH * len(shown) / 2
        row = next((r for r, ends in enumerate(label_ends) if ends + 3 <= middle - half), None)
        text = ""
        if row is not None:
            label_ends[row] = middle + half
            text = _text(middle, plot_top - 4 - 12 * row, shown)
        parts.append(
            f"<g class='band' data-label='{escape(label)}' data-start='{start:.3f}' data-end='{end:.3f}'>"
            f"<title>{index + 1}. {escape(label)}: {start:.1f} s to {end:.1f} s</title>"
            f"<rect x='{x0:.1f}' y='{plot_top}' width='{max(x1 - x0, 1.0):.1f}' "
            f"height='{base - plot_top}' fill='{fill}' stroke='#c9d3e3' stroke-width='0.5'/>{text}</g>"
        )
    parts.append(f"<line x1='{left}' y1='{base}' x2='{width - margin}' y2='{base}' stroke='#333'/>")
    parts.append(f"<line x1='{left}' y1='{plot_top}' x2='{left}' y2='{base}' stroke='#333'/>")
    parts.append(_text(left - 4, plot_top + 4, f"{top:g}", anchor="end"))
    parts.append(_text(left - 4, base + 4, "0", anchor="end"))
    for tick in _ticks(right):
        parts.append(_text(px(tick), base + 16, f"{tick:g} s"))
    for index, (name, values) in enumerate(series.items()):
        color = PALETTE[index % len(PALETTE)]
        for run in _runs(x, values):  # a gap (None) ends one line and starts the next
            if len(run) == 1:  # a lone second between gaps: a dot, or it would not show
                ((t, v),) = run
                parts.append(f"<circle cx='{px(t):.1f}' cy='{py(v):.1f}' r='2' fill='{color}'/>")
                continue
            path = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in run)
            parts.append(
                f"<polyline class='series' data-series='{escape(name)}' fill='none' stroke='{color}' "
                f"stroke-width='1.5' points='{path}'/>"
            )
        parts.append(
            f"<text x='{width - margin - 110 * (index + 1):.0f}' y='14' font-size='11' fill='{color}'>"
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _runs(x: list[float], values: list[float | None]) -> list[list[tuple[float, float]]]:
    """The unbroken stretches of a series: its points between gaps (None)."""
    runs: list[list[tuple[float, float]]] = [[]]
    for at, value in zip(x, values, strict=True):
        if value is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((at, value))
    return [run for run in runs if run]
