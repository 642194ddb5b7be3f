"""What a provider of one kind of resource does (batch read, create, update, delete), and
the defaults a provider starts from, as grizzly's BaseHandler gives a Handler's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ops.reconcile.model import Observed, Resource

# Where a write records the fingerprint of what it wrote, when the resource takes tags.
FINGERPRINT_TAG = "platform-ops:fingerprint"


class Provider(Protocol):
    """One kind of resource. Reads are batched; writes go one resource a call (or a batch
    for deletes) through the engine's rate limiter."""

    kind: str
    # What people call resources of the kind, in notes ("composite alarms").
    title: str
    # How many resources one delete call takes (DeleteAlarms takes 100).
    delete_batch: int
    # False for kinds that exist before us (an ECS cluster): we only set their settings.
    creates: bool
    # False for kinds whose deletion destroys data (log groups): kept when no longer desired.
    prunes: bool
    # Writes a second, within the service's quota (PutMetricAlarm: 3 by default).
    write_rate: float
    # The API operations its writes call ("cloudwatch:PutCompositeAlarm"): a target that
    # lacks one (the emulator) cannot take the kind.
    needs: frozenset[str]

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        """The desired resources that exist (owned or not) and every other resource this
        environment owns (so that prune can find it). An observed resource's region is
        empty when it is the environment's region, as for desired resources."""
        ...

    def create(self, resource: Resource) -> None: ...

    def update(self, resource: Resource, observed: Observed) -> None: ...

    def delete(self, observed: Sequence[Observed]) -> None: ...


class BaseProvider:
    """A provider's defaults: a kind that is created and pruned, one delete a call, one
    write a second; an update that writes the whole resource again. A subclass names its
    kind, reads, writes, and says only where it differs."""

    kind: str
    title: str
    delete_batch: int = 1
    creates: bool = True
    prunes: bool = True
    write_rate: float = 1.0
    needs: frozenset[str] = frozenset()

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        raise NotImplementedError

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        """A resource as the service describes it, in the form of the desired properties
        (what a plan compares); by default it is described in that form already."""
        return described

    def observed(
        self,
        name: str,
        described: dict[str, Any],
        tags: dict[str, str],
        *,
        owned: bool,
        applied_fingerprint: str | None = None,
        region: str = "",
        arn: str = "",
        version: int = 0,
        tier: str = "",
    ) -> Observed:
        """What was read, in canonical form; the applied fingerprint is the tag's unless the
        kind keeps it elsewhere (a dashboard takes no tags)."""
        applied = tags.get(FINGERPRINT_TAG, "") if applied_fingerprint is None else applied_fingerprint
        return Observed(
            name,
            self.canonical(described),
            tags,
            owned=owned,
            applied_fingerprint=applied,
            region=region,
            arn=arn,
            version=version,
            tier=tier,
        )

    @staticmethod
    def tags_to_write(resource: Resource) -> dict[str, str]:
        """The resource's ownership tags and the fingerprint of what is written."""
        return {**resource.tags, FINGERPRINT_TAG: resource.fingerprint}

    @staticmethod
    def fingerprint_tag(resource: Resource) -> dict[str, str]:
        """The fingerprint alone, for an update that leaves the ownership tags as they are."""
        return {FINGERPRINT_TAG: resource.fingerprint}

    def create(self, resource: Resource) -> None:
        raise NotImplementedError(f"{self.kind}: not created here (creates = False)")

    def update(self, resource: Resource, observed: Observed) -> None:
        self.create(resource)  # a write of the whole resource, for kinds without a partial one

    def delete(self, observed: Sequence[Observed]) -> None:
        raise NotImplementedError(f"{self.kind}: never deleted here (prunes = False)")
