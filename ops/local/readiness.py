"""What `ops dr assess` asks the local platform itself: how recent the newest moment a
point-in-time restore reaches is (the real PostgreSQL's WAL archive), and whether a
replicator (MirrorMaker 2) runs and keeps the DR cluster within the RPO."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ops.errors import OpsError
from ops.inventory.environment import Environment
from ops.local.mirror import catch_up_seconds
from ops.local.pitr import restore_window
from ops.local.platform import LocalPlatform, require_running
from ops.local.readers import reader_server
from ops.local.replica import lag, streaming
from ops.readiness.model import Finding
from ops.state import StateDir

# How long to watch a running replicator catch up: the RPO, at most this (a stuck one says so).
CATCH_UP_WATCH_S = 30.0


class LocalProbes:
    def __init__(self, env: Environment, state: StateDir) -> None:
        self.env, self.state = env, state

    def restore_reaches(self, component: str, described: dict[str, Any] | None, rpo: float) -> Finding:
        platform = LocalPlatform(self.env, self.state)
        server = platform.primary(require_running(self.state))
        try:
            latest = restore_window(server).latest
        except OpsError as error:
            return Finding("point-in-time window", False, str(error))
        age = (datetime.now(UTC) - latest).total_seconds()
        detail = f"the newest restorable moment is {age:.0f} s old (WAL archived; RPO {rpo:g} s)"
        return Finding("point-in-time window", age <= rpo, detail)

    def readers(self, wanted: int, described: dict[str, Any], rpo: float) -> Finding:
        """The primary's streaming replicas, each within the RPO of it (what a writer
        failover would lose now)."""
        platform = LocalPlatform(self.env, self.state)
        record = require_running(self.state)
        primary = platform.primary(record)
        seen = streaming(primary) if primary.ping() else {}
        live = [r for r in record.readers if r.name in seen and seen[r.name].state == "streaming"]
        lags = [lag(primary, reader_server(r)).seconds for r in live]
        worst = max(lags, default=0.0)
        detail = f"{len(live)} of {wanted} streaming from {primary.paths.root.name}"
        if live:
            detail += f", at most {worst:.1f} s behind (RPO {rpo:g} s)"
        return Finding("readers", len(live) >= wanted and worst <= rpo, detail)

    def replication(self, replicator: str, rpo: float) -> Finding:
        record = require_running(self.state)
        if not record.kafka:
            return Finding(f"replicator {replicator}", False, "the local platform runs without Kafka")
        if replicator in record.kafka_detached:
            run = record.kafka_detached[replicator]
            return Finding(f"replicator {replicator}", False, f"detached by run {run} (a failover)")
        mirror = LocalPlatform(self.env, self.state).kafka.mirror(record, replicator)
        if mirror.running() is None:
            return Finding(f"replicator {replicator}", False, "MirrorMaker 2 is not running (`ops local up`)")
        watch = min(rpo, CATCH_UP_WATCH_S)
        try:
            latency = catch_up_seconds(mirror.spec, watch)
        except OpsError as error:
            # Not caught up within the watch: past the RPO when the watch was the whole RPO.
            return Finding(f"replicator {replicator}", None if rpo > watch else False, str(error))
        return Finding(
            f"replicator {replicator}",
            latency <= rpo,
            f"running; DR caught up in {latency:g} s (RPO {rpo:g} s)",
        )
