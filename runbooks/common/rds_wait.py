"""Waiting for an RDS instance or cluster to reach a status: a poll that learns how long
the same operation took on the same size of database (ops/runbook/waits.py), and survives
renames."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import OpsError
from ops.runbook.model import RunContext
from ops.runbook.waits import WaitHistory, geometric, poll_delays

WAIT_TIMEOUT_S = 3600.0
NOT_FOUND = ("DBInstanceNotFound", "DBClusterNotFoundFault")

Describe = Callable[[str], dict[str, Any]]
Watch = Callable[[str, float | None], None]  # what was seen, the expected duration


@dataclass(frozen=True)
class Learning:
    """Where a wait learns from and records to, and what kind of wait it is."""

    history: WaitHistory
    kind: str  # e.g. "rds-instance restore available"


def size_of(found: dict[str, Any]) -> str:
    """What makes one database's operations slower than another's: engine, class, storage."""
    parts = (found.get("Engine"), found.get("DBInstanceClass"), found.get("AllocatedStorage"))
    return "/".join(str(part) for part in parts if part is not None) or "unknown"


def wait_for_instance(
    ctx: RunContext, identifier: str, statuses: tuple[str, ...] = ("available",), operation: str = "change"
) -> dict[str, Any]:
    """Poll until `identifier` is in one of `statuses`, as often as earlier waits of this
    `operation` (restore, rename, stop, start) on this size of instance say (1 s, x1.5, at
    most 10 s when none is known; boto3's waiter waits a fixed 30 s). A rename makes the
    name vanish, then appear: not-found is polled through, which boto3's waiter does not do."""
    ctx.checkpoint("waiting")
    learning = Learning(WaitHistory.of(ctx.state), f"rds-instance {operation} {'/'.join(statuses)}")
    describe = _instance(ctx.aws.client("rds"))
    return poll_status(
        describe, identifier, statuses, WAIT_TIMEOUT_S, time.monotonic, time.sleep, learning, ctx.watch
    )


def wait_for_cluster(
    ctx: RunContext, identifier: str, statuses: tuple[str, ...] = ("available",), operation: str = "change"
) -> dict[str, Any]:
    """As `wait_for_instance`, for an Aurora cluster."""
    ctx.checkpoint("waiting")
    learning = Learning(WaitHistory.of(ctx.state), f"rds-cluster {operation} {'/'.join(statuses)}")
    describe = _cluster(ctx.aws.client("rds"))
    return poll_status(
        describe, identifier, statuses, WAIT_TIMEOUT_S, time.monotonic, time.sleep, learning, ctx.watch
    )


def _instance(rds: Any) -> Describe:
    return lambda identifier: rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def _cluster(rds: Any) -> Describe:
    return lambda identifier: rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


def poll_available(
    rds: Any,
    identifier: str,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    learning: Learning | None = None,
) -> dict[str, Any]:
    return poll_status(_instance(rds), identifier, ("available",), timeout, clock, sleep, learning)


def poll_status(
    describe: Describe,
    identifier: str,
    statuses: tuple[str, ...],
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    learning: Learning | None = None,
    watch: Watch | None = None,
) -> dict[str, Any]:
    """Poll `describe` until the status is one of `statuses`. The schedule is chosen at the
    first answer (it says the size); until then, and without `learning`, it is geometric.
    `watch` is told each status seen and the duration history expects (ctx.watch)."""
    started = clock()
    deadline = started + timeout
    delays = None if learning is not None else geometric()
    size = ""
    expected: float | None = None
    while True:
        try:
            found = describe(identifier)
            if delays is None and learning is not None:
                size = size_of(found)
                history = learning.history.durations(learning.kind, size)
                expected = statistics.median(history) if history else None
                delays = poll_delays(history)
            status = found.get("DBInstanceStatus", found.get("Status"))
            if watch is not None:
                watch(f"{identifier}: {status}", expected)
            if status in statuses:
                if learning is not None and size:
                    learning.history.record(learning.kind, size, clock() - started)
                return found
        except ClientError as error:
            if error.response["Error"]["Code"] not in NOT_FOUND:
                raise
        if delays is None:  # not found yet: no size to learn from
            delays = geometric()
        left = deadline - clock()
        if left <= 0:
            raise OpsError(f"{identifier} was not {' or '.join(statuses)} within {timeout:.0f} s")
        sleep(min(next(delays), left))
