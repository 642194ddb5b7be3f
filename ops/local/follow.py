"""An endpoint that a process follows through an SSM parameter: read on first use, re-read
every few seconds (a failover rewrites the parameter) and at once after a failure, so the
ingest service and the loader move to wherever the parameter points now."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from ops.aws.clients import AwsTarget, ClientFactory

log = logging.getLogger(__name__)

T = TypeVar("T")

FOLLOW_SECONDS = 2.0
# The Kafka endpoint also carries a failover's holds on the clients (ops.contracts
# .KafkaEndpoint): read more often, as each hold and release adds its delay to the
# producers' write unavailability (a read is one local GetParameter).
KAFKA_FOLLOW_SECONDS = 0.5


def ssm_reader(parameter: str, parse: Callable[[str], T]) -> Callable[[], T]:
    """Read `parameter` (through OPS_AWS_ENDPOINT_URL when set: the emulator) and parse it."""
    ssm = ClientFactory(AwsTarget().with_defaults(region=os.environ.get("AWS_DEFAULT_REGION"))).client("ssm")

    def read() -> T:
        return parse(ssm.get_parameter(Name=parameter)["Parameter"]["Value"])

    return read


class Followed(Generic[T]):
    """The value `read` gives, re-read when older than `ttl` seconds or after `invalidate()`.

    A failed re-read keeps the last value (the parameter store being unreachable is no
    reason to drop a cluster that works); only the first read's failure is raised."""

    def __init__(self, read: Callable[[], T], ttl: float = FOLLOW_SECONDS) -> None:
        self._read = read
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: T | None = None
        self._checked_at = 0.0

    def get(self) -> T:
        with self._lock:
            if self._value is None or time.monotonic() - self._checked_at > self._ttl:
                try:
                    self._value = self._read()
                except Exception as error:
                    if self._value is None:
                        raise
                    log.warning("re-reading the endpoint failed (%s); keeping %s", error, self._value)
                self._checked_at = time.monotonic()
            return self._value

    def invalidate(self) -> None:
        """Re-read on the next `get()` (after a failure: the endpoint may have moved)."""
        with self._lock:
            self._checked_at = 0.0
