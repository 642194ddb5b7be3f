"""Stop conditions shared by runbooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ops.runbook.model import RunContext, StopCondition


def alarms_firing(
    prefix: str, cloudwatch: Callable[[RunContext], Any], suffix: str = "-critical"
) -> StopCondition:
    """Stop while an alarm whose name starts with `prefix` (and ends with `suffix`) is in
    ALARM: one DescribeAlarms call per check."""

    def check(ctx: RunContext) -> str | None:
        answer = cloudwatch(ctx).describe_alarms(AlarmNamePrefix=prefix, StateValue="ALARM")
        # Filter here too: the emulator ignores StateValue when a name prefix is given.
        firing = [
            a["AlarmName"]
            for a in answer.get("MetricAlarms", [])
            if a.get("StateValue") == "ALARM" and a["AlarmName"].endswith(suffix)
        ]
        return f"{', '.join(firing)} in ALARM" if firing else None

    return StopCondition(f"alarms {prefix}*{suffix}", check)
