"""Plan, apply and drift over any set of providers."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ops.reconcile.model import Action, Change, Plan, Resource, plan_change
from ops.reconcile.provider import Provider
from ops.reconcile.ratelimit import RateLimiter

log = logging.getLogger(__name__)


def make_plan(environment: str, desired: Iterable[Resource], providers: Sequence[Provider]) -> Plan:
    """Read every provider once (batched) and compare with the desired resources."""
    by_kind: dict[str, list[Resource]] = {p.kind: [] for p in providers}
    for resource in desired:
        if resource.kind in by_kind:
            by_kind[resource.kind].append(resource)
    plan = Plan(environment)
    for provider in providers:
        wanted = {r.key: r for r in by_kind[provider.kind]}
        observed = {o.key: o for o in provider.read(list(wanted.values()))}
        for key in sorted(set(wanted) | set(observed)):
            found = observed.get(key)
            if key not in wanted and found is not None and not found.owned:
                continue  # not ours and not wanted: none of our business
            change = plan_change(provider.kind, wanted.get(key), found, provider.creates, provider.prunes)
            plan.changes.append(dataclasses.replace(change, name=key))  # shows the region
    return plan


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)


def apply_plan(
    plan: Plan,
    providers: Sequence[Provider],
    workers: int = 4,
    on_progress: Callable[[Change], None] | None = None,
) -> ApplyResult:
    """Carry out every pending change: creates and updates kind by kind in the providers'
    order (alarms before the composites that name them), in parallel within the rate limit;
    then deletes in the reverse order, in batches. A failure is recorded and the rest goes on."""
    result = ApplyResult()
    by_kind = {p.kind: p for p in providers}
    limiters = {p.kind: RateLimiter(p.write_rate) for p in providers}

    def write(change: Change) -> None:
        provider = by_kind[change.kind]
        assert change.desired is not None
        limiters[change.kind].acquire()
        try:
            if change.action is Action.CREATE:
                provider.create(change.desired)
            else:
                assert change.observed is not None
                provider.update(change.desired, change.observed)
        except Exception as error:  # one failed write must not stop the others
            log.warning("%s %s %s failed: %s", change.action, change.kind, change.name, error)
            result.failed.append((change, _message(error)))
        else:
            result.applied.append(change)
        if on_progress:
            on_progress(change)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for provider in providers:
            writes = [c for c in plan.pending if c.kind == provider.kind and c.action is not Action.DELETE]
            list(pool.map(write, writes))
    for provider in reversed(providers):
        deletes = [c for c in plan.pending if c.kind == provider.kind and c.action is Action.DELETE]
        for start in range(0, len(deletes), provider.delete_batch):
            batch = deletes[start : start + provider.delete_batch]
            limiters[provider.kind].acquire()
            try:
                provider.delete([c.observed for c in batch if c.observed is not None])
            except Exception as error:  # recorded; the next batch still goes
                result.failed += [(c, _message(error)) for c in batch]
            else:
                result.applied += batch
            if on_progress:
                for change in batch:
                    on_progress(change)
    return result


def drifted(plan: Plan) -> list[Change]:
    """Owned resources edited out of band since we last wrote them."""
    return [c for c in plan.changes if c.observed is not None and c.observed.owned and c.observed.drifted]


def _message(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        info = response["Error"]
        return f"{info.get('Code')}: {info.get('Message')}"
    return f"{type(error).__name__}: {error}"
