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
