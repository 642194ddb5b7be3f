"""Resources, what was observed of them, and the plan that reconciles the two."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ops.reconcile.diff import FieldChange, diff


@dataclass(frozen=True)
class Resource:
    """A desired resource: its kind, its name (identity within the kind), its properties
    in the provider's canonical form, and the tags that record ownership."""

    kind: str
    name: str
    properties: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    component: str = ""  # the inventory component it belongs to, for display
    region: str = ""  # where it lives, when not the environment's region

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.properties)

    @property
    def key(self) -> str:
        """The identity in a plan: the name, with the region when not the environment's."""
        return f"{self.region}/{self.name}" if self.region else self.name


@dataclass(frozen=True)
class Observed:
    """A resource as read from the provider."""

    name: str
    properties: dict[str, Any]
    tags: dict[str, str]
    owned: bool
    # The fingerprint recorded when we last wrote it ('' if unknown): compared with the
    # fingerprint of what is there now, it tells an out-of-band edit from a code change.
    applied_fingerprint: str = ""
    region: str = ""
    # What a provider needs to write it again, one meaning a field (empty when unused):
    arn: str = ""  # its ARN, to tag it (writes that ignore tags record the fingerprint apart)
    version: int = 0  # the version read (Grafana's): an update must not overwrite a newer one
    tier: str = ""  # an SSM parameter's tier: an advanced one never goes back to standard

    @property
    def key(self) -> str:
        return f"{self.region}/{self.name}" if self.region else self.name

    @property
    def drifted(self) -> bool:
        return bool(self.applied_fingerprint) and self.applied_fingerprint != fingerprint(self.properties)


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    NOOP = "no-op"
    SKIP = "skip"  # exists but is not ours: never touched


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    action: Action
    fields: tuple[FieldChange, ...] = ()
    reason: str = ""
    desired: Resource | None = None
    observed: Observed | None = None

    @property
    def pending(self) -> bool:
        return self.action in (Action.CREATE, Action.UPDATE, Action.DELETE)


@dataclass
class Plan:
    environment: str
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.pending]

    def counts(self) -> dict[str, int]:
        found = {action.value: 0 for action in Action}
        for change in self.changes:
            found[change.action.value] += 1
        return found


def plan_change(
    kind: str,
    desired: Resource | None,
    observed: Observed | None,
    creates: bool = True,
    prunes: bool = True,
) -> Change:
    """What to do to bring one resource from `observed` to `desired`."""
    if desired is None and observed is None:
        raise ValueError("a change needs a desired or an observed resource")
    name = desired.name if desired else observed.name  # type: ignore[union-attr]
    if observed is None:
        if not creates:
            return Change(
                kind, name, Action.SKIP, reason="does not exist (not created here)", desired=desired
            )
        return Change(kind, name, Action.CREATE, reason="does not exist", desired=desired)
    if not observed.owned:
        reason = "exists without our ownership tags: left alone"
        return Change(kind, name, Action.SKIP, reason=reason, desired=desired, observed=observed)
    if desired is None:
        if not prunes:
            reason = "owned, no longer desired: kept, since deleting it deletes data"
            return Change(kind, name, Action.SKIP, reason=reason, observed=observed)
        return Change(kind, name, Action.DELETE, reason="owned, no longer desired", observed=observed)
    fields = tuple(diff(observed.properties, desired.properties))
    if not fields:
        return Change(kind, name, Action.NOOP, desired=desired, observed=observed)
    reason = "edited out of band (drift)" if observed.drifted else "the code changed"
    return Change(kind, name, Action.UPDATE, fields, reason, desired, observed)


def fingerprint(properties: dict[str, Any]) -> str:
    """A short, stable hash of canonical properties."""
    text = json.dumps(properties, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
