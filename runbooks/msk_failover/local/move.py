"""What msk-failover and msk-failback share on the local platform: the clients held, moved
and released, the waits for the replicator and the offsets (with the stop condition), the
switch and its undo, the probe."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from psycopg import sql

from ops.contracts import FINANCIAL_PATH
from ops.errors import BadInput, OpsError
from ops.inventory.components import Msk
from ops.inventory.environment import Environment
from ops.local.kafka_clients import KafkaClients
from ops.local.mirror import (
    LocalMirror,
    MirrorSpec,
    committed_offsets,
    end_offsets,
    partition_counts,
)
from ops.local.platform import LocalPlatform, require_running
from ops.local.provenance import origin_lag
from ops.local.state import PlatformRecord
from ops.runbook.model import RunContext
from ops.util.processes import wait_until
from runbooks.common.probe import probe_transaction
from runbooks.msk_failover.steps import FailbackParams, FailoverParams, replicator_of

PROBE_TIMEOUT = 30.0  # the probe record through the new cluster into the warehouse
SETTLE_TIMEOUT = 15.0  # the consumers reading to the end before duplicates are counted
DEFAULT_RPO_SECONDS = 60.0


class Stopped(OpsError):
    """A stop condition ended a wait: the run stops and is rolled back."""


def _now() -> str:
    return datetime.now(UTC).isoformat()


class LocalMove:
    """The steps both directions share. `origin` is the cluster the clients leave,
    `destination` the one they move to; `spec` replicates origin -> destination."""

    moving_to_dr: bool

    def __init__(self, env: Environment, params: FailoverParams | FailbackParams) -> None:
        self.env = env
        self.params = params
        self.replicator, _, _ = replicator_of(env, params.replicator)
        if self.replicator.topic_names != "identical":
            raise BadInput(
                f"--param replicator: {params.replicator} has topic_names {self.replicator.topic_names}; "
                "a failover with failback needs identical topic names (a reverse replicator copies back)"
            )
        self.primary, self.dr = self.replicator.source, self.replicator.target
        self._kafka_clients: KafkaClients | None = None
        self.origin, self.destination = (
            (self.primary, self.dr) if self.moving_to_dr else (self.dr, self.primary)
        )

    # --- the platform ------------------------------------------------------------------
    def _platform(self, ctx: RunContext) -> LocalPlatform:
        return LocalPlatform(self.env, ctx.state)

    def _record(self, ctx: RunContext) -> PlatformRecord:
        record = require_running(ctx.state)
        if not record.kafka:
            raise OpsError("the local platform runs without Kafka; `ops local up --kafka` adds it")
        return record

    def _clients(self, ctx: RunContext) -> KafkaClients:
        """One for the run (the provider lives as long as the run): its SSM client is kept."""
        if self._kafka_clients is None or self._kafka_clients.platform.state.root != ctx.state.root:
            self._kafka_clients = KafkaClients(self._platform(ctx), self.primary)
        return self._kafka_clients

    def _forward(self, ctx: RunContext) -> LocalMirror:
        return self._platform(ctx).kafka.mirror(self._record(ctx), self.params.replicator)

    def _reverse(self, ctx: RunContext) -> LocalMirror:
        return self._platform(ctx).kafka.reverse_mirror(self._record(ctx), self.params.replicator)

    def _spec(self, ctx: RunContext) -> MirrorSpec:
        """Replication origin -> destination: what must be on the destination first."""
        return (self._forward(ctx) if self.moving_to_dr else self._reverse(ctx)).spec

    def _bootstrap(self, ctx: RunContext, cluster: str) -> str:
        return self._platform(ctx).kafka.cluster(self._record(ctx), cluster).bootstrap

    # --- checks -------------------------------------------------------------------------
    def _check_clusters(self, ctx: RunContext) -> dict[str, Any]:
        platform = self._platform(ctx)
        record = self._record(ctx)
        if not platform.via_kafka(record):
            raise OpsError(f"{platform.env.source}: the ingest path does not go through Kafka here")
        lost = self._unplanned_run()
        for name in (self.dr,) if lost else (self.primary, self.dr):
            cluster = platform.kafka.cluster(record, name)
            missing = {b.spec.node_id for b in cluster.brokers} - cluster.live_nodes()
            if missing:
                nodes = ", ".join(map(str, sorted(missing)))
                raise OpsError(
                    f"Kafka cluster {name}: broker(s) {nodes} not in the cluster; "
                    "`ops local status` shows them, `ops local up` starts them"
                )
        published = self._clients(ctx).published()
        if published.producers_paused or published.consumers_stopped:
            raise OpsError(
                f"the clients of {self.primary} are held by another run ({published.to_json()}); "
                "resume or abort it (`ops runbook status`)"
            )
        if published.cluster != self.origin:
            hint = "msk-failback" if published.cluster == self.dr else "msk-failover"
            raise OpsError(f"the clients use {published.cluster}, not {self.origin}: run {hint} instead")
        return {"primary": self.primary, "dr": self.dr, "endpoint": published.to_json()}

    def _unplanned_run(self) -> bool:
        return getattr(self.params, "mode", "planned") == "unplanned"

    def check_topics(self, ctx: RunContext) -> dict[str, Any]:
        if self._unplanned_run():  # the primary does not answer: its topics as the inventory says
            msk = self.env.components_of(Msk)[self.primary]
            origin = {topic.name: topic.partitions for topic in msk.topics}
        else:
            origin = partition_counts(self.origin, self._bootstrap(ctx, self.origin))
        destination = partition_counts(self.destination, self._bootstrap(ctx, self.destination))
        for topic in self.replicator.topics:
            if topic not in destination:
                raise OpsError(f"topic {topic} is not on {self.destination}; the replicator creates it")
            if origin.get(topic) != destination[topic]:
                raise OpsError(
                    f"topic {topic} has {origin.get(topic)} partitions on {self.origin} and "
                    f"{destination[topic]} on {self.destination}: consumers' offsets cannot move"
                )
        return {"partitions": {topic: destination[topic] for topic in self.replicator.topics}}

    # --- the producers and consumers ----------------------------------------------------
    def pause_producers(self, ctx: RunContext) -> dict[str, Any]:
        if ctx.noted("paused_at") is None:  # a resumed step keeps the first attempt's moment
            ctx.note(paused_at=_now())
        clients = self._clients(ctx)
        endpoint = clients.change(producers_paused=True)
        ctx.checkpoint("changed")  # held, not confirmed nor journaled yet
        clients.wait_producers(endpoint)
        return {"paused_at": ctx.noted("paused_at")}

    def release_producers(self, ctx: RunContext) -> None:
        clients = self._clients(ctx)
        clients.wait_producers(clients.change(producers_paused=False))

    def hold_producers(self, ctx: RunContext) -> None:
        clients = self._clients(ctx)
        clients.wait_producers(clients.change(producers_paused=True))

    def resume_producers(self, ctx: RunContext) -> dict[str, Any]:
        ctx.note(resuming=True)  # stopped midway: the rollback holds them again
        clients = self._clients(ctx)
        endpoint = clients.change(producers_paused=False)
        ctx.checkpoint("changed")
        producers = clients.wait_producers(endpoint)
        return {"resumed_at": _now(), "cluster": producers.get("cluster")}

    def stop_consumers(self, ctx: RunContext) -> dict[str, Any]:
        if ctx.noted("stopped_at") is None:
            ctx.note(stopped_at=_now())
        clients = self._clients(ctx)
        endpoint = clients.change(consumers_stopped=True)
        ctx.checkpoint("changed")
        clients.wait_consumers(endpoint)
        return {"stopped_at": ctx.noted("stopped_at"), "redelivered_before": clients.redelivered()}

    def release_consumers(self, ctx: RunContext) -> None:
        clients = self._clients(ctx)
        clients.wait_consumers(clients.change(consumers_stopped=False))

    def hold_consumers(self, ctx: RunContext) -> None:
        clients = self._clients(ctx)
        clients.wait_consumers(clients.change(consumers_stopped=True))

    def start_consumers(self, ctx: RunContext) -> dict[str, Any]:
        ctx.note(starting=True)  # stopped midway: the rollback stops them again
        clients = self._clients(ctx)
        endpoint = clients.change(consumers_stopped=False)
        ctx.checkpoint("changed")
        # Subscribed is enough to go on: the post-check waits until they read to the end.
        groups = clients.wait_consumers(endpoint, assigned=False)
        return {"started_at": _now(), "groups": sorted(groups)}

    # --- replication --------------------------------------------------------------------
    def wait_replicated(self, ctx: RunContext) -> dict[str, Any]:
        spec = self._spec(ctx)
        ctx.checkpoint("waiting")
        started = time.monotonic()
        self._wait_copied(spec, self.params.lag_timeout_seconds, lambda: self._stop_if_broken(ctx))
        return {"replicated_at": _now(), "waited_seconds": round(time.monotonic() - started, 3)}

    # --- the stop condition -------------------------------------------------------------
    def destination_broken(self, ctx: RunContext) -> str | None:
        """The clients must not move onto a cluster that lost a broker: the reason, or None.
        Checked by the engine before every action and wait, and by the waits as they poll."""
        platform = self._platform(ctx)
        cluster = platform.kafka.cluster(self._record(ctx), self.destination)
        missing = {broker.spec.node_id for broker in cluster.brokers} - cluster.live_nodes()
        if not missing:
            return None
        nodes = ", ".join(map(str, sorted(missing)))
        return f"Kafka cluster {self.destination} lost broker(s) {nodes}"

    def _stop_if_broken(self, ctx: RunContext) -> None:
        reason = self.destination_broken(ctx)
        if reason:
            raise Stopped(f"stopped: {reason}; `ops local status` shows it, `ops local up` restarts it")

    @staticmethod
    def _wait_copied(spec: MirrorSpec, timeout: float, stop: Callable[[], None] = lambda: None) -> None:
        """Until the target holds every record produced on the source (by origin: records
        copied twice or produced on the target do not hide a gap); `stop` raises to end it."""
        lag: dict[str, int] = {}

        def caught_up() -> bool:
            stop()
            try:
                lag.update(origin_lag(spec.source_bootstrap, spec.target_bootstrap, spec.topics, spec.source))
            except Exception:
                stop()  # a cluster lost while it was read: the stop condition says so
                raise
            return not any(lag.values())

        try:
            wait_until(caught_up, timeout, f"replicator {spec.name}'s lag to reach zero")
        except Stopped:
            raise
        except OpsError:
            behind = ", ".join(f"{topic}: {count}" for topic, count in sorted(lag.items()) if count)
            raise OpsError(
                f"replicator {spec.name} did not copy every record to {spec.target} within {timeout:.0f} s "
                f"(records behind: {behind}); `ops local status` shows it"
            ) from None

    def wait_offsets_synced(self, ctx: RunContext) -> dict[str, Any]:
        """Each group's offsets on the destination put it as far from the end as it was on
        the origin when it stopped; what is left over is read again (at least once)."""
        spec = self._spec(ctx)
        origin_bootstrap = self._bootstrap(ctx, self.origin)
        topics = list(spec.topics)
        ctx.checkpoint("waiting")
        deadline = time.monotonic() + self.params.offset_sync_timeout_seconds
        while True:
            self._stop_if_broken(ctx)
            try:
                rereads, unsynced = self._rereads(spec, origin_bootstrap, topics)
            except Exception:
                self._stop_if_broken(ctx)  # a cluster lost while it was read
                raise
            if not unsynced and not any(rereads.values()):
                break
            if time.monotonic() > deadline:
                if unsynced:
                    raise OpsError(
                        f"the offsets of {', '.join(unsynced)} did not reach {self.destination} within "
                        f"{self.params.offset_sync_timeout_seconds:.0f} s; is replicator {spec.name} "
                        "syncing its consumer groups?"
                    )
                break  # translated, a little behind: those records are read twice
            time.sleep(0.2)
        return {
            "synced_at": _now(),
            "expected_rereads": {key: count for key, count in rereads.items() if count},
        }

    def _rereads(
        self, spec: MirrorSpec, origin_bootstrap: str, topics: list[str]
    ) -> tuple[dict[str, int], list[str]]:
        """Per group and partition, how many records the group will read again on the
        destination; and the groups with a partition not translated at all."""
        origin_ends = end_offsets(self.origin, origin_bootstrap, topics)
        destination_ends = end_offsets(self.destination, spec.target_bootstrap, topics)
        rereads: dict[str, int] = {}
        unsynced: list[str] = []
        for group in spec.groups:
            committed = committed_offsets(self.origin, origin_bootstrap, group, topics)
            translated = committed_offsets(self.destination, spec.target_bootstrap, group, topics)
            for key, offset in committed.items():
                if key not in translated:
                    unsynced.append(group)
                    break
                behind_origin = origin_ends.get(key, offset) - offset
                behind_destination = destination_ends.get(key, 0) - translated[key]
                rereads[f"{group}/{key[0]}[{key[1]}]"] = max(0, behind_destination - behind_origin)
        return rereads, sorted(set(unsynced))

    # --- the switch ---------------------------------------------------------------------
    def switch(self, ctx: RunContext) -> dict[str, Any]:
        clients = self._clients(ctx)
        if ctx.noted("from") is None:
            ctx.note(**{"from": clients.published().cluster})
        endpoint = clients.change(active=self.destination)
        ctx.checkpoint("changed")
        return {"cluster": endpoint.cluster, "switched_at": _now()}

    def switch_back(self, ctx: RunContext) -> None:
        """Back to the origin, once what the destination took is replicated back to it (the
        clients are held meanwhile: the later steps' undos ran first)."""
        back = self._back_spec(ctx)
        if back is not None:
            self._wait_copied(back, self.params.lag_timeout_seconds)
        self._clients(ctx).change(active=self.origin)

    def _back_spec(self, ctx: RunContext) -> MirrorSpec | None:
        """Replication destination -> origin (None: there is none to wait for)."""
        if self.moving_to_dr:
            record = self._record(ctx)
            if self.params.replicator not in record.kafka_reverse:
                return None
            reverse = self._reverse(ctx)
            reverse.start()
            return reverse.spec
        return self._forward(ctx).spec

    # --- the end ------------------------------------------------------------------------
    def _probe(self, ctx: RunContext, prefix: str) -> dict[str, Any]:
        """A record through the ingest path, the new cluster and the loader into the
        warehouse; then the consumers settled, duplicates counted."""
        platform = self._platform(ctx)
        record = self._record(ctx)
        probe = probe_transaction(f"{prefix}-{ctx.run_id}")
        answers: list[int] = []
        where: dict[str, Any] = {}

        def accepted() -> bool:
            response = httpx.post(f"{record.ingest_url}{FINANCIAL_PATH}", json=probe, timeout=15)
            answers.append(response.status_code)
            if response.status_code == 200:
                where.update(response.json())
            return response.status_code == 200

        wait_until(
            accepted, PROBE_TIMEOUT, f"the ingest service accepting a probe record (answers {answers[-3:]})"
        )
        conninfo = platform.warehouse_endpoint(record).conninfo

        def stored() -> bool:
            with psycopg.connect(conninfo) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM financial_transactions WHERE transaction_id = %s",
                    (probe["transaction_id"],),
                ).fetchone()
            return bool(row and row[0] == 1)

        wait_until(stored, PROBE_TIMEOUT, "the probe record in the warehouse")
        clients = self._clients(ctx)
        self._settle(ctx, clients)
        before = int(ctx.outputs.get("stop-consumers", {}).get("redelivered_before", 0))
        return {
            "probe": probe["transaction_id"],
            "probe_partition": where.get("partition"),
            "duplicates_delivered": max(0, clients.redelivered() - before),
            "stored_twice": self._stored_twice(platform, record),
        }

    def _settle(self, ctx: RunContext, clients: KafkaClients) -> None:
        """Until every consumer group has committed up to the end offsets its topics had
        when the probe was stored: what it re-read on the new cluster is counted by then."""
        bootstrap = self._bootstrap(ctx, self.destination)
        groups = {name: list(group.get("topics") or []) for name, group in clients.consumers().items()}
        targets = {name: end_offsets(self.destination, bootstrap, topics) for name, topics in groups.items()}

        def settled() -> bool:
            for name, ends in targets.items():
                committed = committed_offsets(self.destination, bootstrap, name, groups[name])
                if any(committed.get(key, 0) < end for key, end in ends.items()):
                    return False
            return True

        wait_until(settled, SETTLE_TIMEOUT, "the consumers at the end of their partitions")

    def _probe_topic(self, ctx: RunContext) -> str:
        """The raw topic the probe (a financial transaction) goes to, as the inventory routes it."""
        routes = self._platform(ctx).kafka.ingest_routes()
        return next(route.topic for route in routes if route.record_type == "financial_transaction")

    def _stored_ids(self, platform: LocalPlatform, record: PlatformRecord, ids: set[str]) -> set[str]:
        """Which of `ids` the warehouse holds, in any of the inventory's checked tables."""
        found: set[str] = set()
        with psycopg.connect(platform.warehouse_endpoint(record).conninfo) as conn:
            for check in platform.warehouse.checks:
                query = sql.SQL("SELECT {} FROM {} WHERE {} = ANY(%s)").format(
                    sql.Identifier(check.key), sql.Identifier(check.table), sql.Identifier(check.key)
                )
                found.update(str(row[0]) for row in conn.execute(query, (list(ids),)).fetchall())
        return found

    def _stored_twice(self, platform: LocalPlatform, record: PlatformRecord) -> int:
        """Rows whose key is in a table more than once (the warehouse's own check: zero
        unless a table lost its key)."""
        total = 0
        with psycopg.connect(platform.warehouse_endpoint(record).conninfo) as conn:
            for check in platform.warehouse.checks:
                query = sql.SQL("SELECT count(*) - count(DISTINCT {}) FROM {}").format(
                    sql.Identifier(check.key), sql.Identifier(check.table)
                )
                row = conn.execute(query).fetchone()
                total += int(row[0]) if row else 0
        return total
