"""Small inline SVG charts: no plotting library, nothing fetched by the browser."""

from __future__ import annotations

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
