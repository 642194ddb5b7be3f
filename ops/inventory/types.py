"""Small value types shared by the inventory models."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from ops.util.regions import region_problem

# Every model forbids unknown keys (a typo must never be silently ignored) and takes only
# finite numbers (`.inf`, `1e400` and `.nan` are no threshold, objective or rate).
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

Severity = Literal["critical", "warning", "info"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
# No duration the toolkit takes (an objective, a timeout, a retention, a TTL) means anything
# past a year: a longer one is a typo (`99999999999999d`).
MAX_DURATION_SECONDS = 366 * 86400.0


def parse_duration(value: Any) -> Any:
    """Accept '90s', '5m', '1h', '1d' or a number of seconds; return seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '5m', '1h'")
    seconds: float | None = None
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise ValueError(f"{value!r:.40} is not a finite duration") from None
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds is None:
        raise ValueError(f"{value!r} is not a duration: write seconds or a string like '90s', '5m', '1h'")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"{value!r} is longer than the 366 days a duration may be")
    return seconds


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]

# How often a drill must pass: a named period (the longest such a period can be, so that a
# drill on the same day each month is never late) or a duration.
NAMED_PERIODS = {"daily": 86400.0, "weekly": 7 * 86400.0, "monthly": 31 * 86400.0, "quarterly": 92 * 86400.0}


def parse_every(value: Any) -> Any:
    """'weekly', 'monthly', 'quarterly' (or 'daily'), or a duration like '14d'; seconds."""
    if isinstance(value, str) and value.strip() in NAMED_PERIODS:
        return NAMED_PERIODS[value.strip()]
    if isinstance(value, str) and not _DURATION.match(value):
        named = ", ".join(NAMED_PERIODS)
        raise ValueError(f"{value!r} is not a period: write {named}, or a duration like '14d'")
    return parse_duration(value)


Every = Annotated[float, BeforeValidator(parse_every), Field(gt=0)]

# AWS-style names: letters, digits and hyphens, as most AWS resource names allow.
ResourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]

# The retention periods CloudWatch Logs accepts.
RetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]


def _known_region(value: str) -> str:
    problem = region_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# A region botocore knows (a typo would fail at the first AWS call, or plan in nowhere).
Region = Annotated[str, AfterValidator(_known_region)]
