"""Composite alarms: one page for a path that is unhealthy, whatever part of it failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alarms.spec import AlarmSpec


@dataclass(frozen=True)
class CompositeSpec:
    key: str
    severity: str
    description: str
    members: tuple[str, ...]  # alarm names

    def name(self, prefix: str) -> str:
        return f"{prefix}-{self.key}-{self.severity}"

    @property
    def rule(self) -> str:
        return " OR ".join(f'ALARM("{member}")' for member in self.members)


def _signals_ingest_failure(alarm: AlarmSpec, kind: str | None) -> bool:
    """An alarm its kind names as meaning "the ingest path is failing"."""
    # Imported here: every kind imports alarms.spec, and so this package, as it loads.
    from ops.kinds.registry import KINDS

    return kind in KINDS and alarm.key in KINDS[kind].ingest_path_signals


def composites(prefix: str, alarms: list[AlarmSpec], kinds: Mapping[str, str]) -> list[CompositeSpec]:
    members = tuple(
        sorted(
            alarm.name(prefix)
            for alarm in alarms
            if _signals_ingest_failure(alarm, kinds.get(alarm.component)) and not alarm.region
        )
    )
    if not members:
        return []
    return [
        CompositeSpec(
            key="ingest-path-unhealthy",
            severity="critical",
            description="The ingest path is failing: API 5XX, Lambda errors or MSK offline partitions.",
            members=members,
        )
    ]
