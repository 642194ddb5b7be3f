"""msk-failover's own steps on the local platform: the pre-flight that needs the primary,
the reverse replicator, and in an unplanned run the detached replicator and the recovery
point (the stranded records, from the ingest service's acknowledgement log)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from ops.errors import OpsError
from ops.local.ingest.acks import read_acks
from ops.local.mirror import (
    catch_up_seconds,
)
from ops.local.provenance import end_offsets_of, last_replicated
from ops.local.state import PlatformRecord
from ops.runbook.engine import runs_dir
from ops.runbook.model import RunContext
from ops.util.processes import wait_until
from runbooks.msk_failover.local.move import DEFAULT_RPO_SECONDS, LocalMove
from runbooks.msk_failover.steps import FailoverParams


class LocalFailover(LocalMove):
    moving_to_dr = True

    def check_clusters(self, ctx: RunContext) -> dict[str, Any]:
        found = self._check_clusters(ctx)
        forward = self._forward(ctx)
        if forward.running() is None:
            raise OpsError(f"replicator {forward.spec.name} is not running; `ops local up` starts it")
        record = self._record(ctx)
        if self.params.replicator in record.kafka_reverse:
            created = record.kafka_reverse[self.params.replicator]
            raise OpsError(
                f"reverse replicator {created['name']} of run {created['run_id']} exists: "
                "that failover is not failed back (msk-failback)"
            )
        return found

    def check_replication(self, ctx: RunContext) -> dict[str, Any]:
        objective = self.env.spec.objectives.get(self.primary)
        rpo = float(objective.rpo) if objective else DEFAULT_RPO_SECONDS
        assert isinstance(self.params, FailoverParams)
        rpo = self.params.replication_objective_seconds or rpo
        latency = catch_up_seconds(self._forward(ctx).spec, rpo)
        return {"latency_seconds": latency, "objective_seconds": rpo}

    def check_groups(self, ctx: RunContext) -> dict[str, Any]:
        spec = self._forward(ctx).spec
        bootstrap = self._bootstrap(ctx, self.primary)
        unsynced: list[str] = []

        def synced() -> bool:
            _, missing = self._rereads(spec, bootstrap, list(spec.topics))
            unsynced[:] = missing
            return not missing

        try:
            wait_until(synced, self.params.offset_sync_timeout_seconds, "the groups' offsets on DR")
        except OpsError:
            raise OpsError(
                f"the offsets of {', '.join(unsynced)} are not on {self.dr}: is replicator {spec.name} "
                "syncing its consumer groups (its consumer_groups)?"
            ) from None
        return {"groups": list(spec.groups)}

    def create_reverse(self, ctx: RunContext) -> dict[str, Any]:
        name = f"{self.replicator.replicator_name}-reverse"
        ctx.note(reverse=name)

        def created(record: PlatformRecord) -> None:
            record.kafka_reverse.setdefault(self.params.replicator, {"name": name, "run_id": ctx.run_id})

        self._platform(ctx).change_record(created)
        reverse = self._reverse(ctx)
        if reverse.spec.name != name:
            raise OpsError(f"a reverse replicator {reverse.spec.name} exists already (not this run's)")
        pid = reverse.start()
        ctx.checkpoint("changed")
        return {"reverse": name, "pid": pid}

    def delete_reverse(self, ctx: RunContext) -> None:
        """Undo: only this run's reverse replicator (its Connect offsets stay on the primary:
        a later one resumes where it stopped instead of copying everything again)."""
        record = self._record(ctx)
        created = record.kafka_reverse.get(self.params.replicator)
        if created is None or created["run_id"] != ctx.run_id:
            return
        self._reverse(ctx).stop()

        def deleted(changed: PlatformRecord) -> None:
            changed.kafka_reverse.pop(self.params.replicator, None)

        self._platform(ctx).change_record(deleted)

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        if self._unplanned_run():  # no reverse replicator until the primary is back
            return self._probe(ctx, "MSK-FAILOVER-PROBE")
        reverse = self._reverse(ctx)
        if reverse.running() is None:
            raise OpsError(
                f"the reverse replicator {reverse.spec.name} is not running; see {reverse.log_file}"
            )
        return {**self._probe(ctx, "MSK-FAILOVER-PROBE"), "reverse": reverse.spec.name}

    # --- unplanned: the primary is lost -------------------------------------------------
    def detach_replicator(self, ctx: RunContext) -> dict[str, Any]:
        ctx.note(detaching=self.params.replicator)

        def detached(record: PlatformRecord) -> None:
            record.kafka_detached.setdefault(self.params.replicator, ctx.run_id)

        self._platform(ctx).change_record(detached)
        ctx.checkpoint("changed")  # recorded, not stopped yet
        forward = self._forward(ctx)
        forward.stop()
        return {"detached": forward.spec.name}

    def reattach_replicator(self, ctx: RunContext) -> None:
        record = self._record(ctx)
        if record.kafka_detached.get(self.params.replicator) != ctx.run_id:
            return

        def attached(changed: PlatformRecord) -> None:
            changed.kafka_detached.pop(self.params.replicator, None)

        self._platform(ctx).change_record(attached)
        self._forward(ctx).start()

    def record_recovery_point(self, ctx: RunContext) -> dict[str, Any]:
        """The acknowledged records that never reached DR: per partition, those the primary
        acknowledged after the last record DR holds from it (the acknowledgement log says
        where each is). Kept in the run's folder for the failback to re-publish."""
        platform = self._platform(ctx)
        dr_bootstrap = self._bootstrap(ctx, self.dr)
        topics = list(self.replicator.topics)
        acks = [ack for ack in read_acks(platform.state.ack_log) if ack.cluster == self.primary]
        by_sequence = {(ack.producer, ack.sequence): ack for ack in acks}
        replicated_up_to: dict[tuple[str, int], int] = {}
        unknown: list[str] = []
        for position, last in last_replicated(dr_bootstrap, topics, self.primary).items():
            if last is None:
                replicated_up_to[position] = -1  # nothing of the primary's reached DR here
                continue
            ack = by_sequence.get((last.producer, last.sequence))
            if ack is None:  # replicated, but not in the log (another producer, a rotated log)
                unknown.append(f"{position[0]}[{position[1]}]")
                continue
            replicated_up_to[position] = ack.offset
        stranded = sorted(
            (
                ack
                for ack in acks
                if (ack.topic, ack.partition) in replicated_up_to
                and ack.offset > replicated_up_to[(ack.topic, ack.partition)]
            ),
            key=lambda ack: ack.at,
        )
        seconds = 0.0
        if stranded:
            newest = max(ack.at for ack in acks)
            seconds = (
                datetime.fromisoformat(newest) - datetime.fromisoformat(stranded[0].at)
            ).total_seconds()
        path = runs_dir(ctx.state) / ctx.run_id / "recovery-point.json"
        ends = end_offsets_of(dr_bootstrap, topics)
        document = {
            "run_id": ctx.run_id,
            "primary": self.primary,
            "dr_end_offsets": [
                [topic, partition, offset] for (topic, partition), offset in sorted(ends.items())
            ],
            "unknown_partitions": unknown,
            "stranded": [asdict(ack) for ack in stranded],
        }
        path.write_text(json.dumps(document, indent=1))
        ctx.checkpoint("written")

        def remembered(record: PlatformRecord) -> None:
            record.kafka_stranded[self.primary] = {"run_id": ctx.run_id, "file": str(path)}

        platform.change_record(remembered)
        return {
            "stranded": len(stranded),
            "seconds": round(seconds, 3),
            "file": str(path),
            "first_ids": [ack.id for ack in stranded[:20]],
            "unknown_partitions": unknown,
        }

    def forget_recovery_point(self, ctx: RunContext) -> None:
        def forgotten(record: PlatformRecord) -> None:
            if record.kafka_stranded.get(self.primary, {}).get("run_id") == ctx.run_id:
                record.kafka_stranded.pop(self.primary, None)

        self._platform(ctx).change_record(forgotten)
