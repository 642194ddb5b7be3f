"""What a provider of one kind of resource does: batch read, create, update, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ops.reconcile.model import Observed, Resource


class Provider(Protocol):
    """One kind of resource. Reads are batched; writes go one resource a call (or a batch
    for deletes) through the engine's rate limiter."""

    kind: str
    # How many resources one delete call takes (DeleteAlarms takes 100).
    delete_batch: int
    # False for kinds that exist before us (an ECS cluster): we only set their settings.
    creates: bool
    # False for kinds whose deletion destroys data (log groups): kept when no longer desired.
    prunes: bool
    # Writes a second, within the service's quota (PutMetricAlarm: 3 by default).
    write_rate: float

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        """The desired resources that exist (owned or not) and every other resource this
        environment owns (so that prune can find it). An observed resource's region is
        empty when it is the environment's region, as for desired resources."""
        ...

    def create(self, resource: Resource) -> None: ...

    def update(self, resource: Resource, observed: Observed) -> None: ...

    def delete(self, observed: Sequence[Observed]) -> None: ...
