"""Numbers and values as people read them in a report: durations in ms, s, min or h with
two or three significant digits, percentages, counts per name as rows, never a repr."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any


def seconds(value: float | None) -> str:
    """1.154798 -> '1.15 s', 0.0123 -> '12 ms', 95 -> '1 min 35 s', 7260 -> '2 h 1 min'."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return "unknown"
    if value == 0:
        return "0 s"
    if abs(value) < 1:
        return f"{significant(value * 1000)} ms"
    if abs(value) < 60:
        return f"{significant(value)} s"
    if abs(value) < 3600:
        minutes, rest = divmod(round(value), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, rest = divmod(round(value / 60), 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{significant(value)} ms"


def percent(ratio: float | None) -> str:
    """0.0123 -> '1.23%' (a ratio, not a percentage)."""
    if ratio is None:
        return "-"
    return f"{significant(ratio * 100)}%"


def significant(value: float, digits: int = 3) -> str:
    """At most `digits` significant digits, no float noise, no exponent for ordinary sizes."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    places = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    rounded = round(value, places)
    return f"{rounded:.{places}f}".rstrip("0").rstrip(".") if places else f"{rounded:.0f}"


def moment(text: str | None) -> str:
    """An ISO timestamp as 'YYYY-MM-DD HH:MM:SS UTC' (seconds are enough for a reader)."""
    if not text:
        return "-"
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return text


def value(item: Any) -> str:
    """Any output value as text for a table cell: mappings and lists spelled out."""
    if item is None:
        return "-"
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, float):
        return significant(item)
    if isinstance(item, dict):
        return ", ".join(f"{key}: {value(inner)}" for key, inner in item.items()) or "-"
    if isinstance(item, list | tuple):
        return ", ".join(value(inner) for inner in item) or "-"
    return str(item)
