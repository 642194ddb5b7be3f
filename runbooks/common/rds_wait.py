"""Waiting for an RDS instance or cluster to reach a status: an adaptive poll that survives
renames."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import OpsError
from ops.runbook.model import RunContext

WAIT_TIMEOUT_S = 3600.0
MAX_POLL_INTERVAL_S = 10.0
NOT_FOUND = ("DBInstanceNotFound", "DBClusterNotFoundFault")

Describe = Callable[[str], dict[str, Any]]


def wait_for_instance(
    ctx: RunContext, identifier: str, statuses: tuple[str, ...] = ("available",)
) -> dict[str, Any]:
    """Poll with a growing interval (1 s, x1.5, at most 10 s; boto3's waiter waits a fixed
    30 s) until `identifier` is in one of `statuses`. A rename makes the name vanish, then
    appear: not-found is polled through, which boto3's waiter does not do."""
    ctx.checkpoint("waiting")
    return poll_status(
        _instance(ctx.aws.client("rds")), identifier, statuses, WAIT_TIMEOUT_S, time.monotonic, time.sleep
    )


def wait_for_cluster(
    ctx: RunContext, identifier: str, statuses: tuple[str, ...] = ("available",)
) -> dict[str, Any]:
    """As `wait_for_instance`, for an Aurora cluster."""
    ctx.checkpoint("waiting")
    return poll_status(
        _cluster(ctx.aws.client("rds")), identifier, statuses, WAIT_TIMEOUT_S, time.monotonic, time.sleep
    )


def _instance(rds: Any) -> Describe:
    return lambda identifier: rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def _cluster(rds: Any) -> Describe:
    return lambda identifier: rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


def poll_available(
    rds: Any, identifier: str, timeout: float, clock: Callable[[], float], sleep: Callable[[float], None]
) -> dict[str, Any]:
    return poll_status(_instance(rds), identifier, ("available",), timeout, clock, sleep)


def poll_status(
    describe: Describe,
    identifier: str,
    statuses: tuple[str, ...],
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    deadline = clock() + timeout
    interval = 1.0
    while True:
        try:
            found = describe(identifier)
            if found.get("DBInstanceStatus", found.get("Status")) in statuses:
                return found
        except ClientError as error:
            if error.response["Error"]["Code"] not in NOT_FOUND:
                raise
        if clock() + interval > deadline:
            raise OpsError(f"{identifier} was not {' or '.join(statuses)} within {timeout:.0f} s")
        sleep(interval)
        interval = min(interval * 1.5, MAX_POLL_INTERVAL_S)
