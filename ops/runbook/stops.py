"""Stop conditions shared by runbooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ops.errors import OpsError
from ops.inventory.environment import Environment
from ops.runbook.model import RunContext, StopCondition


def alarm_prefix(env: Environment, component: str) -> str:
    """The name prefix of a component's alarms (see alarms/spec.py's naming)."""
    return f"{env.prefix}-{component.replace('_', '-')}-"


def firing(cloudwatch: Any, prefix: str, suffix: str) -> str | None:
    """The alarms whose names start with `prefix` and end with `suffix` that are in ALARM,
    as a reason to stop (None when there are none): one DescribeAlarms call."""
    answer = cloudwatch.describe_alarms(AlarmNamePrefix=prefix, StateValue="ALARM")
    # Filter here too: the emulator ignores StateValue when a name prefix is given.
    names = [
        a["AlarmName"]
        for a in answer.get("MetricAlarms", [])
        if a.get("StateValue") == "ALARM"
        and a["AlarmName"].endswith(suffix)
        # A drill alarm (failed, overdue, slow) says the recovery was not proven lately: it
        # must not block the recovery, or the drill that would clear it.
        and not a["AlarmName"].startswith(f"{prefix}drill-")
    ]
    return f"{', '.join(names)} in ALARM" if names else None


def alarms_firing(
    prefix: str, cloudwatch: Callable[[RunContext], Any], suffix: str = "-critical"
) -> StopCondition:
    """Stop while an alarm whose name starts with `prefix` (and ends with `suffix`) is in
    ALARM: one DescribeAlarms call per check."""
    return StopCondition(
        f"alarms {prefix}*{suffix}",
        lambda ctx: firing(cloudwatch(ctx), prefix, suffix),
        calls=("cloudwatch:DescribeAlarms",),
    )


def refuse_if_firing(prefix: str, cloudwatch: Any) -> dict[str, Any]:
    """A pre-flight check: refuse to start while any alarm of the prefix is in ALARM."""
    reason = firing(cloudwatch, prefix, suffix="")
    if reason:
        raise OpsError(f"alarms are firing: {reason}; resolve them first")
    return {"firing": []}
