"""Waiting for an RDS instance to be available: an adaptive poll that survives renames."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import OpsError
from ops.runbook.model import RunContext

WAIT_TIMEOUT_S = 3600.0
MAX_POLL_INTERVAL_S = 10.0


def wait_for_instance(ctx: RunContext, identifier: str) -> dict[str, Any]:
    """Poll with a growing interval (1 s, x1.5, at most 10 s; boto3's waiter waits a fixed
    30 s) until `identifier` is available. A rename makes the name vanish, then appear:
    not-found is polled through, which boto3's waiter does not do."""
    ctx.checkpoint("waiting")
    return poll_available(ctx.aws.client("rds"), identifier, WAIT_TIMEOUT_S, time.monotonic, time.sleep)


def poll_available(
    rds: Any, identifier: str, timeout: float, clock: Callable[[], float], sleep: Callable[[float], None]
) -> dict[str, Any]:
    deadline = clock() + timeout
    interval = 1.0
    while True:
        try:
            instance: dict[str, Any] = rds.describe_db_instances(DBInstanceIdentifier=identifier)[
                "DBInstances"
            ][0]
            if instance["DBInstanceStatus"] == "available":
                return instance
        except ClientError as error:
            if error.response["Error"]["Code"] != "DBInstanceNotFound":
                raise
        if clock() + interval > deadline:
            raise OpsError(f"{identifier} was not available within {timeout:.0f} s")
        sleep(interval)
        interval = min(interval * 1.5, MAX_POLL_INTERVAL_S)
