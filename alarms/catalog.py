"""Every alarm of an environment: each kind's defaults with the inventory's overrides."""

from __future__ import annotations

import difflib

from alarms.spec import AlarmSpec
from ops.inventory.components import AlarmOverride, Component
from ops.inventory.environment import Environment

Path = tuple[str | int, ...]


def defaults(env: Environment, name: str, component: Component) -> list[AlarmSpec]:
    """The kind's own alarms (ops/kinds/<kind>.py), before the inventory's overrides."""
    # Imported here: every kind imports alarms.spec, and so this package, as it loads.
    from ops.kinds.registry import kind_of

    return kind_of(component).alarms(env, name, component)


def alarm_catalog(env: Environment) -> list[AlarmSpec]:
    """Every enabled alarm of the environment, overrides applied."""
    found: list[AlarmSpec] = []
    for name, component in env.spec.components.items():
        for alarm in defaults(env, name, component):
            override = _override_for(component.alarms, alarm)
            if override is None:
                found.append(alarm)
            elif override.enabled:
                found.append(apply_override(alarm, override))
    return found


def _override_for(overrides: dict[str, AlarmOverride], alarm: AlarmSpec) -> AlarmOverride | None:
    """The override of one alarm: `key` (every alarm of the key), then `key.qualifier` (one
    alarm of a per-resource key), then `key.severity` (one level of a graded key), each more
    specific one winning field by field."""
    names = [alarm.key, f"{alarm.key}.{alarm.qualifier}" if alarm.qualifier else "", _level(alarm)]
    found = [overrides[name] for name in names if name in overrides]
    if len(found) <= 1:
        return found[0] if found else None
    merged: dict[str, object] = {}
    for override in found:
        merged |= override.model_dump(exclude_unset=True)
    return AlarmOverride.model_validate(merged)


def _level(alarm: AlarmSpec) -> str:
    """`key.severity`: how an override names one level of a graded key."""
    return f"{alarm.key}.{alarm.severity}"


def _graded(alarms: list[AlarmSpec]) -> set[str]:
    """Keys whose metric carries more than one threshold (a warning and a critical alarm)."""
    levels: dict[tuple[str, str], set[str]] = {}
    for alarm in alarms:
        levels.setdefault((alarm.key, alarm.qualifier), set()).add(alarm.severity)
    return {key for (key, _), severities in levels.items() if len(severities) > 1}


def apply_override(alarm: AlarmSpec, override: AlarmOverride) -> AlarmSpec:
    changes: dict[str, object] = {}
    if override.threshold is not None:
        changes["threshold"] = override.threshold
    if override.severity is not None:
        changes["severity"] = override.severity
    if override.evaluation_periods is not None:
        changes["evaluation_periods"] = override.evaluation_periods
        changes["datapoints_to_alarm"] = min(alarm.datapoints_to_alarm, override.evaluation_periods)
    if override.datapoints_to_alarm is not None:
        changes["datapoints_to_alarm"] = override.datapoints_to_alarm
    if override.period is not None:
        if alarm.metric is not None:
            changes["metric"] = alarm.metric.__class__(**{**alarm.metric.__dict__, "period": override.period})
        changes["inputs"] = {
            key: metric.__class__(**{**metric.__dict__, "period": override.period})
            for key, metric in alarm.inputs.items()
        }
    return alarm.with_changes(**changes)


def override_problems(env: Environment) -> list[tuple[Path, str]]:
    """Overrides that name no alarm, or that cannot work, as (path, message); no AWS call."""
    problems: list[tuple[Path, str]] = []
    for name, component in env.spec.components.items():
        alarms = defaults(env, name, component)
        graded = _graded(alarms)
        keys = {a.key for a in alarms} | {f"{a.key}.{a.qualifier}" for a in alarms if a.qualifier}
        keys |= {_level(a) for a in alarms if a.key in graded}
        for key, override in component.alarms.items():
            where: Path = ("components", name, "alarms", key)
            if key not in keys:
                problems.append((where, _unknown_key(key, keys, component.kind)))
                continue
            targets = [a for a in alarms if key in (a.key, f"{a.key}.{a.qualifier}", _level(a))]
            if targets[0].key in graded:
                problems += _graded_checks(where, key, override, targets)
            problems += _override_checks(env, where, override, targets)
    return problems


def _graded_checks(
    where: Path, key: str, override: AlarmOverride, targets: list[AlarmSpec]
) -> list[tuple[Path, str]]:
    """A graded key's levels are told apart by severity: a threshold names one level, and a
    severity cannot change (two alarms would take one name)."""
    problems: list[tuple[Path, str]] = []
    base = targets[0].key
    if override.severity is not None:
        problems.append(
            ((*where, "severity"), f"{base!r} has a warning and a critical level; their severities are fixed")
        )
    if override.threshold is not None and len({t.severity for t in targets}) > 1:
        problems.append(
            (
                (*where, "threshold"),
                f"{base!r} has a warning and a critical threshold: "
                f"set it in '{base}.warning' or '{base}.critical'",
            )
        )
    return problems


def _unknown_key(key: str, keys: set[str], kind: str) -> str:
    if not keys:
        return f"a {kind} component has no alarms to override"
    close = difflib.get_close_matches(key, sorted(keys), n=1)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else f"known: {', '.join(sorted(k for k in keys if '.' not in k))}"
    )
    return f"unknown alarm {key!r} for a {kind} component; {hint}"


def _override_checks(
    env: Environment, where: Path, override: AlarmOverride, targets: list[AlarmSpec]
) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    severity = override.severity or targets[0].severity
    if override.enabled and severity not in env.spec.notifications:
        known = ", ".join(env.spec.notifications)
        problems.append(
            ((*where, "severity"), f"no SNS topic for severity {severity!r} (notifications has: {known})")
        )
    if override.threshold is not None and any(t.anomaly_band is not None for t in targets):
        problems.append(((*where, "threshold"), "an anomaly-band alarm has no threshold to set"))
    for target in targets:
        periods = override.evaluation_periods or target.evaluation_periods
        datapoints = override.datapoints_to_alarm or min(target.datapoints_to_alarm, periods)
        if datapoints > periods:
            problems.append(
                (
                    (*where, "datapoints_to_alarm"),
                    f"{datapoints} is more than the {periods} evaluation periods",
                )
            )
            break
        period = override.period or target.period
        if period * periods > 86_400:
            problems.append(
                (
                    (*where, "evaluation_periods"),
                    "period x evaluation periods must be at most one day (86,400 s)",
                )
            )
            break
    return problems
