"""msk-failback's own steps on the local platform: the stranded records looked up on the
primary and re-published (approved), the reverse replicator created if the failover could
not, then deleted, and the original replicator shown to copy again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ops.errors import BadInput, OpsError
from ops.local.provenance import end_offsets_of, keys_at, keys_since
from ops.local.state import PlatformRecord
from ops.runbook.model import RunContext
from ops.util.processes import wait_until
from runbooks.msk_failover.local.move import PROBE_TIMEOUT, LocalMove


class LocalFailback(LocalMove):
    moving_to_dr = False

    def check_clusters(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        detached = self.params.replicator in record.kafka_detached  # an unplanned failover's
        if self.params.replicator not in record.kafka_reverse and not detached:
            raise OpsError(
                f"no reverse replicator of {self.params.replicator}: no failover to fail back "
                "(`ops runbook status` lists runs)"
            )
        if detached and not getattr(self.params, "republish", True):
            raise BadInput(
                "--param republish: an unplanned failover left records stranded on the primary; "
                "the failback re-publishes them (republish=true) before moving back"
            )
        found = self._check_clusters(ctx)
        if self.params.replicator in record.kafka_reverse and self._reverse(ctx).running() is None:
            name = self._reverse(ctx).spec.name
            raise OpsError(f"reverse replicator {name} is not running; `ops local up` starts it")
        return {**found, "after": "unplanned" if detached else "planned"}

    def _stranded(self, ctx: RunContext) -> dict[str, Any] | None:
        """The recovery point an unplanned failover wrote (None: there is none)."""
        remembered = self._record(ctx).kafka_stranded.get(self.primary)
        if not remembered:
            return None
        try:
            found: dict[str, Any] = json.loads(Path(remembered["file"]).read_text())
        except (OSError, ValueError) as error:
            raise OpsError(
                f"the recovery point of run {remembered['run_id']} ({remembered['file']}) "
                f"cannot be read: {error}"
            ) from None
        return found

    def check_stranded(self, ctx: RunContext) -> dict[str, Any]:
        """The stranded records, each looked up where the acknowledgement log says it is on
        the primary: there again (to re-publish), or lost with the primary's disks."""
        point = self._stranded(ctx)
        if point is None:
            return {"stranded": 0}
        wanted: dict[tuple[str, int], list[int]] = {}
        for ack in point["stranded"]:
            wanted.setdefault((ack["topic"], ack["partition"]), []).append(ack["offset"])
        found = keys_at(self._bootstrap(ctx, self.primary), wanted)
        missing = [
            ack["id"]
            for ack in point["stranded"]
            if found.get((ack["topic"], ack["partition"], ack["offset"])) != ack["id"]
        ]
        return {
            "stranded": len(point["stranded"]),
            "on_primary": len(point["stranded"]) - len(missing),
            "missing": missing[:50],
            "failover_run": point["run_id"],
        }

    def create_reverse(self, ctx: RunContext) -> dict[str, Any]:
        """After an unplanned failover the reverse replicator is made now, the primary back."""
        record = self._record(ctx)
        if self.params.replicator in record.kafka_reverse:
            return {"reverse": record.kafka_reverse[self.params.replicator]["name"], "created": False}
        name = f"{self.replicator.replicator_name}-reverse"
        ctx.note(reverse=name)

        def created(changed: PlatformRecord) -> None:
            changed.kafka_reverse.setdefault(self.params.replicator, {"name": name, "run_id": ctx.run_id})

        self._platform(ctx).change_record(created)
        pid = self._reverse(ctx).start()
        ctx.checkpoint("changed")
        return {"reverse": name, "created": True, "pid": pid}

    def delete_created_reverse(self, ctx: RunContext) -> None:
        record = self._record(ctx)
        created = record.kafka_reverse.get(self.params.replicator)
        if created is None or created["run_id"] != ctx.run_id:
            return  # not this run's: the failover's reverse replicator stays
        self._reverse(ctx).stop()

        def deleted(changed: PlatformRecord) -> None:
            changed.kafka_reverse.pop(self.params.replicator, None)

        self._platform(ctx).change_record(deleted)

    def republish(self, ctx: RunContext) -> dict[str, Any]:
        """Re-attach the replicator the unplanned failover detached: it copies from where it
        stopped, that is the stranded records; then each is on DR and in the warehouse."""
        record = self._record(ctx)
        point = self._stranded(ctx)
        if self.params.replicator in record.kafka_detached:
            ctx.note(reattaching=self.params.replicator)

            def attached(changed: PlatformRecord) -> None:
                changed.kafka_detached.pop(self.params.replicator, None)

            record = self._platform(ctx).change_record(attached)
        forward = self._forward(ctx)
        forward.start()
        if point is None:
            return {"republished": 0}
        lost = set(ctx.outputs.get("check-stranded", {}).get("missing", []))
        ids = {ack["id"] for ack in point["stranded"]} - lost
        starts = {(topic, partition): offset for topic, partition, offset in point["dr_end_offsets"]}
        dr_bootstrap = self._bootstrap(ctx, self.dr)
        ctx.checkpoint("waiting")
        wait_until(
            lambda: ids <= keys_since(dr_bootstrap, starts),
            self.params.lag_timeout_seconds,
            f"the {len(ids)} stranded record(s) replicated to {self.dr}",
        )
        platform = self._platform(ctx)
        wait_until(
            lambda: ids <= self._stored_ids(platform, record, ids),
            PROBE_TIMEOUT,
            f"the {len(ids)} stranded record(s) in the warehouse",
        )

        def resolved(changed: PlatformRecord) -> None:
            changed.kafka_stranded.pop(self.primary, None)

        platform.change_record(resolved)
        return {"republished": len(ids), "replicator": forward.spec.name}

    def delete_reverse(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        created = record.kafka_reverse.get(self.params.replicator) or ctx.noted("created")
        if created is None:
            return {"deleted": None}
        ctx.note(created=created)  # the undo makes it again
        if self.params.replicator in record.kafka_reverse:
            self._reverse(ctx).stop()
            ctx.checkpoint("changed")

        def deleted(changed: PlatformRecord) -> None:
            changed.kafka_reverse.pop(self.params.replicator, None)

        self._platform(ctx).change_record(deleted)
        return {"deleted": created["name"]}

    def recreate_reverse(self, ctx: RunContext) -> None:
        created = ctx.outputs.get("delete-reverse", {}).get("deleted") and ctx.notes.get(
            "delete-reverse", {}
        ).get("created")
        if not created:
            return

        def restored(record: PlatformRecord) -> None:
            record.kafka_reverse.setdefault(self.params.replicator, dict(created))

        self._platform(ctx).change_record(restored)
        self._reverse(ctx).start()

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        forward = self._forward(ctx)
        if forward.running() is None:
            raise OpsError(f"replicator {forward.spec.name} is not running; see {forward.log_file}")
        # The original replicator copies again: the probe, produced on the primary, reaches
        # DR (a lag count would not settle while the producers write).
        topic = self._probe_topic(ctx)
        dr_bootstrap = self._bootstrap(ctx, self.dr)
        before = end_offsets_of(dr_bootstrap, [topic])
        probed = self._probe(ctx, "MSK-FAILBACK-PROBE")
        started = time.monotonic()
        position = (topic, int(probed["probe_partition"]))
        wait_until(
            lambda: probed["probe"] in keys_since(dr_bootstrap, {position: before.get(position, 0)}),
            self.params.lag_timeout_seconds,
            f"the probe record replicated to {self.dr} by {forward.spec.name}",
        )
        latency = round(time.monotonic() - started, 3)
        return {**probed, "replicator": forward.spec.name, "replicated_in_seconds": latency}
