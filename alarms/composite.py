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


# (component kind, alarm key) pairs that mean "the ingest path is failing".
INGEST_PATH_SIGNALS = {("api_gateway", "5xx-rate"), ("lambda", "errors"), ("msk", "offline-partitions")}


def composites(prefix: str, alarms: list[AlarmSpec], kinds: Mapping[str, str]) -> list[CompositeSpec]:
    members = tuple(
        sorted(
            alarm.name(prefix)
            for alarm in alarms
            if (kinds.get(alarm.component), alarm.key) in INGEST_PATH_SIGNALS and not alarm.region
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
