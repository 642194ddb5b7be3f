"""Small value types shared by the inventory models."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field

# Every model forbids unknown keys: a typo must never be silently ignored.
STRICT = ConfigDict(extra="forbid", frozen=True)

Severity = Literal["critical", "warning", "info"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """Accept '90s', '5m', '1h', '1d' or a number of seconds; return seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '5m', '1h'")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError(f"{value!r} is not a duration: write seconds or a string like '90s', '5m', '1h'")


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]

# AWS-style names: letters, digits and hyphens, as most AWS resource names allow.
ResourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")]

# The retention periods CloudWatch Logs accepts.
RetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]
