"""A field-level diff of two property trees, for plans people can review."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.path}: {_short(self.before)} -> {_short(self.after)}"


_ABSENT = "(absent)"


def diff(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """Every leaf that differs; lists are compared item by item when of equal length."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            changes += diff(before.get(key, _ABSENT), after.get(key, _ABSENT), sub)
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        changes = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            changes += diff(old, new, f"{path}[{index}]")
        return changes
    if before != after:
        return [FieldChange(path or "(value)", before, after)]
    return []


def _short(value: Any, limit: int = 60) -> str:
    text = value if value == _ABSENT else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
