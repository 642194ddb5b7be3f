"""msk-broker-reboot on the local platform: a "reboot" is the broker process stopped with a
controlled shutdown (SIGTERM) and started again; the cluster read through the Kafka protocol
(metadata: ISR against replicas, leaders; DescribeQuorum: the active controller) and the
ingest service's Prometheus counters. The only module of the package that imports
ops.local."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ops.errors import OpsError
from ops.local.kafka import LocalBroker, LocalCluster, admin_settings, partition_health, quorum_leader
from ops.local.platform import require_running
from ops.local.state import LocalState, PlatformRecord
from ops.local.streaming import LocalKafka
from ops.runbook.model import RunContext
from runbooks.msk_broker_reboot.rolling import Health, RollingReboot

QUORUM_TIMEOUT = 2.0  # a broker forwards DescribeQuorum to the controller: no answer, no quorum
METRICS_TIMEOUT = 3.0


class LocalReboot(RollingReboot):
    poll_seconds = 0.5
    _admin: Any = None

    def _record(self, ctx: RunContext) -> PlatformRecord:
        record = require_running(ctx.state)
        if not record.kafka:
            raise OpsError("the local platform runs without Kafka; `ops local up --kafka` adds it")
        return record

    def _cluster(self, ctx: RunContext) -> LocalCluster:
        return LocalKafka(self.env, LocalState.of(ctx.state)).cluster(self._record(ctx), self.cluster)

    def _broker(self, ctx: RunContext, node: int) -> LocalBroker:
        for broker in self._cluster(ctx).brokers:
            if broker.spec.node_id == node:
                return broker
        raise OpsError(f"Kafka cluster {self.cluster} has no broker {node}")

    # --- reading the cluster ------------------------------------------------------------
    def preflight(self, ctx: RunContext) -> dict[str, Any]:
        counts = self._ingest_counts(self._record(ctx))
        return {"ingest": list(counts) if counts else None}

    def cluster_brokers(self, ctx: RunContext) -> list[int]:
        return [broker.spec.node_id for broker in self._cluster(ctx).brokers]

    def health(self, ctx: RunContext, rebooting: int | None, reboot: dict[str, Any]) -> Health:
        cluster = self._cluster(ctx)
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient(admin_settings(cluster.bootstrap))
        ingest = self._ingest_since(ctx)
        try:
            found = partition_health(cluster.bootstrap, admin=self._admin)
        except OpsError:  # no broker answers: nothing is served
            return Health(
                False, offline=("all: no broker answers",), offline_count=1, controller=False, ingest=ingest
            )
        controller = any(
            quorum_leader(broker.bootstrap, QUORUM_TIMEOUT) is not None
            for broker in cluster.brokers
            if broker.spec.node_id in found.live
        )
        # A partition whose ISR lacks only the broker rebooting waits for it; any other
        # replica missing is a failure of its own.
        unexplained = {
            partition: "lacks broker " + ", ".join(map(str, sorted(missing)))
            for partition, missing in found.under_replicated.items()
            if missing - {rebooting}
        }
        wanted = {broker.spec.node_id for broker in cluster.brokers}
        waiting = []
        if not wanted <= found.live:
            waiting.append(f"broker(s) {', '.join(map(str, sorted(wanted - found.live)))} not in the cluster")
        if found.under_replicated:
            waiting.append(f"{len(found.under_replicated)} partition(s) under-replicated")
        if found.offline:
            waiting.append(f"{len(found.offline)} partition(s) offline")
        if not controller:
            waiting.append("no active controller")
        return Health(
            back=not waiting,
            under_replicated=unexplained,
            under_count=len(unexplained),
            offline=found.offline,
            offline_count=len(found.offline),
            controller=controller,
            ingest=ingest,
            waiting_for="; ".join(waiting),
        )

    def _ingest_counts(self, record: PlatformRecord) -> tuple[int, int] | None:
        """The ingest service's records so far: (failed, all outcomes); None when its
        metrics cannot be read."""
        try:
            text = httpx.get(f"{record.ingest_url}/metrics/", timeout=METRICS_TIMEOUT).text
        except httpx.HTTPError:
            return None
        failed = total = 0.0
        for family in text_string_to_metric_families(text):
            if family.name != "ingest_records":
                continue
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    total += sample.value
                    failed += sample.value if sample.labels.get("outcome") == "failed" else 0
        return int(failed), int(total)

    def _ingest_since(self, ctx: RunContext) -> tuple[int, int] | None:
        before = ctx.outputs.get("check-cluster", {}).get("ingest")
        if not before:
            return None
        now = self._ingest_counts(self._record(ctx))
        if now is None:
            return None
        return max(0, now[0] - before[0]), max(0, now[1] - before[1])

    # --- the reboot ---------------------------------------------------------------------
    def start_reboot(self, ctx: RunContext, broker: int, reboot: dict[str, Any], resumed: bool) -> None:
        process = self._broker(ctx, broker)
        if not resumed:
            reboot["pid_before"] = process.running()
            ctx.note(reboot=reboot)
            process.stop()  # SIGTERM: a controlled shutdown moves its leaderships first
        process.start()  # resumed: started again if an earlier attempt stopped it
        reboot["pid_after"] = process.running()

    def restart(self, ctx: RunContext, broker: int, reboot: dict[str, Any]) -> dict[str, Any]:
        process = self._broker(ctx, broker)
        if process.running() is None:
            process.start()
        pid = process.running()
        if pid is None:
            raise OpsError(f"broker {broker} of {self.cluster} does not start; see {process.log_file}")
        return {"pid": pid}
