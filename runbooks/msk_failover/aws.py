"""msk-failover and msk-failback on AWS, after the MSK developer guide's planned failover,
unplanned failover and failback: MSK clusters and replicators (aws_kafka.py), the ingest
Lambdas and the consumers' Glue jobs (aws_clients.py), CloudWatch's replicator and consumer
lag metrics (aws_metrics.py), and the clients' endpoint SSM parameter, the switch.

What AWS cannot say here, the local provider proves on real Kafka: topics' partitions and
group offsets read over the Kafka protocol, and records by id (the ingest service's
acknowledgement log). On AWS an unplanned failover's recovery point is MSK's estimate (the
replicator's last MessageLag and ReplicationLatency), not a list of records.

An unplanned run assumes the primary *cluster* is lost while the primary region's Lambda,
Glue and SSM still answer (the clients live there). Every step and undo is safe to run again:
what a step changes is noted first, a reverse replicator names its run, and a step
that finds its change made already does not make it twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ops.errors import BadInput, OpsError
from ops.runbook.model import RunContext
from runbooks.common.cloudwatch import read
from runbooks.msk_failover import aws_clients as clients
from runbooks.msk_failover import aws_kafka as kafka_api
from runbooks.msk_failover import aws_metrics as metrics
from runbooks.msk_failover.aws_clients import ACTIVE_RUN
from runbooks.msk_failover.aws_move import AwsMove, iso
from runbooks.msk_failover.steps import FailoverParams

DEFAULT_RPO_SECONDS = 60.0
LATENCY_LOOK_BACK = timedelta(minutes=5)  # the pre-flight's window of ReplicationLatency
RECOVERY_LOOK_BACK = timedelta(hours=3)  # where the last points before the loss are looked for


class AwsFailover(AwsMove):
    moving_to_dr = True

    def check_clusters(self, ctx: RunContext) -> dict[str, Any]:
        found = self._check_clusters(ctx)
        forward = found.pop("forward")
        if not self._unplanned():
            kafka_api.require_running(forward)
        kafka_api.require_topics(forward, self.topics)
        existing = self._replicator(ctx, self.reverse)
        if existing is not None:
            owner = kafka_api.owner(existing) or "unknown"
            raise OpsError(
                f"reverse replicator {self.reverse} of run {owner} exists: that failover is not failed "
                "back (msk-failback)"
            )
        return {**found, "forward": forward["ReplicatorArn"]}

    def check_replication(self, ctx: RunContext) -> dict[str, Any]:
        objective = self.env.spec.objectives.get(self.primary)
        assert isinstance(self.params, FailoverParams)
        rpo = self.params.replication_objective_seconds or (
            float(objective.rpo) if objective else DEFAULT_RPO_SECONDS
        )
        end = self.now()
        query = metrics.replicator_query("latency", self.forward, "ReplicationLatency", "Maximum")
        points = read(self._cloudwatch(ctx, self.dr), [query], end - LATENCY_LOOK_BACK, end)["latency"]
        if not points:
            raise OpsError(
                f"replicator {self.forward} published no ReplicationLatency in the last "
                f"{LATENCY_LOOK_BACK.seconds // 60} min: is it replicating? see it in the MSK console"
            )
        latency = round(max(value for _, value in points) / 1000, 3)
        if latency > rpo:
            raise OpsError(
                f"DR lags the primary by {latency} s (replicator {self.forward}'s ReplicationLatency), over "
                f"the objective of {rpo:.0f} s: wait until it catches up, "
                "or pass -p replication_objective_seconds"
            )
        return {"latency_seconds": latency, "objective_seconds": rpo}

    def check_groups(self, ctx: RunContext) -> dict[str, Any]:
        forward = self._replicator(ctx, self.forward)
        assert forward is not None  # check-clusters found it
        kafka_api.require_groups(forward, list(self.groups))
        return {"groups": sorted(self.groups), "jobs": self.jobs}

    def detach_replicator(self, ctx: RunContext) -> dict[str, Any]:
        """Exclude every replicated topic: when the primary returns, what it stranded does
        not reach DR unannounced (msk-failback's republish re-attaches it)."""
        forward = self._replicator(ctx, self.forward)
        assert forward is not None
        if ctx.noted("excluded_before") is None:
            ctx.note(excluded_before=kafka_api.excluded(forward))
        before: list[str] = list(ctx.noted("excluded_before"))
        wanted = before + [topic for topic in self.topics if topic not in before]
        if sorted(kafka_api.excluded(forward)) != sorted(wanted):
            self._set_excluded(ctx, forward, wanted)
        return {"detached": self.forward, "excluded": wanted}

    def reattach_replicator(self, ctx: RunContext) -> None:
        before = ctx.outputs.get("detach-replicator", {}).get("excluded_before")
        forward = self._replicator(ctx, self.forward)
        if before is None or forward is None or sorted(kafka_api.excluded(forward)) == sorted(before):
            return
        self._set_excluded(ctx, forward, list(before))

    def record_recovery_point(self, ctx: RunContext) -> dict[str, Any]:
        """MSK's estimate of what never reached DR: the replicator's last MessageLag
        (messages) and ReplicationLatency (seconds) before the primary was lost. The records
        by id are known only where the producers' acknowledgements are (the local platform)."""
        end = self.now()
        queries = [
            metrics.replicator_query("lag", self.forward, "MessageLag", "Sum"),
            metrics.replicator_query("latency", self.forward, "ReplicationLatency", "Maximum"),
        ]
        found = read(self._cloudwatch(ctx, self.dr), queries, end - RECOVERY_LOOK_BACK, end)
        lag, latency = found.get("lag") or [], found.get("latency") or []
        return {
            "stranded": round(lag[0][1]) if lag else None,
            "seconds": round(latency[0][1] / 1000, 3) if latency else None,
            "estimated": True,
            "message_lag_at": iso(lag[0][0]) if lag else None,
            "latency_at": iso(latency[0][0]) if latency else None,
            "file": None,
            "stranded_ids": "not known on AWS: only the producers' acknowledgements list them",
        }

    def forget_recovery_point(self, ctx: RunContext) -> None:
        """Nothing to forget on AWS: the recovery point is only in the run's journal."""

    def create_reverse(self, ctx: RunContext) -> dict[str, Any]:
        return self._create_reverse(ctx)

    def delete_reverse(self, ctx: RunContext) -> dict[str, Any] | None:
        return self._delete_own_reverse(ctx)

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        """What AWS shows of the move: the clients' parameter names DR, the consumers' runs
        are live, the reverse replicator runs (planned). Records through the new cluster,
        duplicates and rows stored twice are proven on the local provider."""
        published = self._published(ctx)
        if published.cluster != self.dr:
            raise OpsError(
                f"the clients' endpoint names {published.cluster}, not {self.dr}, after the switch"
            )
        glue = ctx.aws.client("glue")
        idle = [
            job for job in ctx.output("stop-consumers", "jobs") if not clients.runs(glue, job, ACTIVE_RUN)
        ]
        if idle:
            raise OpsError(
                f"Glue job {idle[0]} has no live run after the start: see its runs in the Glue console"
            )
        found: dict[str, Any] = {"cluster": self.dr, "duplicates_delivered": None, "stored_twice": None}
        if not self._unplanned():  # no reverse replicator until the primary is back
            reverse = self._replicator(ctx, self.reverse)
            if reverse is None:
                raise OpsError(f"the reverse replicator {self.reverse} is gone; the failback needs it")
            kafka_api.require_running(reverse)
            found["reverse"] = self.reverse
        return found


class AwsFailback(AwsMove):
    moving_to_dr = False

    def check_clusters(self, ctx: RunContext) -> dict[str, Any]:
        found = self._check_clusters(ctx)
        forward = found.pop("forward")
        kafka_api.require_running(forward)
        detached = set(self.topics) <= set(kafka_api.excluded(forward))  # by an unplanned failover
        reverse = self._replicator(ctx, self.reverse)
        if reverse is None and not detached:
            raise OpsError(
                f"no reverse replicator {self.reverse}: no failover to fail back "
                "(`ops runbook status` lists runs)"
            )
        if detached and not getattr(self.params, "republish", True):
            raise BadInput(
                "--param republish: an unplanned failover left records stranded on the primary; "
                "the failback re-publishes them (republish=true) before moving back"
            )
        if reverse is not None:
            kafka_api.require_running(reverse)
        return {**found, "forward": forward["ReplicatorArn"], "after": "unplanned" if detached else "planned"}

    def create_reverse(self, ctx: RunContext) -> dict[str, Any]:
        """After an unplanned failover the reverse replicator is made now, the primary back."""
        existing = self._replicator(ctx, self.reverse)
        if existing is not None and kafka_api.owner(existing) != ctx.run_id:
            return {"reverse": self.reverse, "arn": existing["ReplicatorArn"], "created": False}
        return self._create_reverse(ctx)

    def delete_created_reverse(self, ctx: RunContext) -> dict[str, Any] | None:
        return self._delete_own_reverse(ctx)

    def republish(self, ctx: RunContext) -> dict[str, Any]:
        """Re-attach the replicator the unplanned failover detached: it copies from where it
        stopped, that is what the primary kept of the stranded records; then its MessageLag
        is 0 (MSK does not list them: the count is the failover's estimate)."""
        forward = self._replicator(ctx, self.forward)
        assert forward is not None
        now_excluded = kafka_api.excluded(forward)
        wanted = [topic for topic in now_excluded if topic not in self.topics]
        if now_excluded == wanted and ctx.noted("reattached_at") is None:
            return {"republished": 0, "replicator": self.forward}
        if ctx.noted("reattached_at") is None:
            ctx.note(reattached_at=iso(self.now()), excluded_before=now_excluded)
        if now_excluded != wanted:
            self._set_excluded(ctx, forward, wanted)
        ctx.checkpoint("waiting")
        at = self._wait_lag_zero(
            ctx, self.forward, self.dr, datetime.fromisoformat(ctx.noted("reattached_at"))
        )
        return {
            "republished": None,
            "replicator": self.forward,
            "lag_zero_point": iso(at),
            "estimated": True,
        }

    def delete_reverse(self, ctx: RunContext) -> dict[str, Any]:
        existing = self._replicator(ctx, self.reverse)
        if existing is None:
            return {"deleted": ctx.noted("deleted")}
        made_by = kafka_api.owner(existing)
        if made_by is None:
            raise OpsError(
                f"replicator {self.reverse} was not made by msk-failover (its description does not say so): "
                "delete it yourself once the clients are back"
            )
        if ctx.noted("deleted") is None:  # the undo makes it again with these
            ctx.note(deleted=self.reverse, role=existing["ServiceExecutionRoleArn"], owner=made_by)
        kafka = self._kafka(ctx, self.primary)
        if existing.get("ReplicatorState") != "DELETING":
            kafka.delete_replicator(ReplicatorArn=existing["ReplicatorArn"])
            ctx.checkpoint("changed")
        kafka_api.wait_gone(
            kafka,
            self.reverse,
            self.params.replicator_timeout_seconds,
            self.clock,
            self.sleep,
            self.poll_seconds,
        )
        return {"deleted": self.reverse}

    def recreate_reverse(self, ctx: RunContext) -> None:
        """The reverse replicator again (from the earliest offset: MSK drops what came from
        the primary), under the same role, said to be the same run's."""
        done = ctx.outputs.get("delete-reverse", {})
        if not done.get("deleted") or not done.get("role"):
            return
        kafka = self._kafka(ctx, self.primary)
        existing = kafka_api.find_replicator(kafka, self.reverse)
        if existing is None:
            forward = self._replicator(ctx, self.forward)
            assert forward is not None
            request = kafka_api.reverse_request(
                forward,
                self.reverse,
                self._arn(ctx, self.dr),
                self._arn(ctx, self.primary),
                done["role"],
                done["owner"],
                self.topics,
            )
            arn = kafka.create_replicator(**request)["ReplicatorArn"]
        else:
            arn = existing["ReplicatorArn"]
        kafka_api.wait_state(
            kafka, arn, self.params.replicator_timeout_seconds, self.clock, self.sleep, self.poll_seconds
        )

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        """The guide's end: the clients' parameter names the primary, the original replicator
        is RUNNING and copies again (ReplicatorThroughput > 0 since the producers resumed)."""
        published = self._published(ctx)
        if published.cluster != self.primary:
            raise OpsError(
                f"the clients' endpoint names {published.cluster}, not {self.primary}, after the switch"
            )
        forward = self._replicator(ctx, self.forward)
        if forward is None:
            raise OpsError(f"no MSK replicator {self.forward}: nothing copies to DR")
        kafka_api.require_running(forward)
        since = metrics.first_full_minute(
            datetime.fromisoformat(ctx.output("resume-producers", "resumed_at"))
        )
        query = metrics.replicator_query("throughput", self.forward, "ReplicatorThroughput", "Sum")
        cloudwatch = self._cloudwatch(ctx, self.dr)
        deadline = self.clock() + self.params.lag_timeout_seconds
        while True:
            points = metrics.since(read(cloudwatch, [query], since, self.now())["throughput"], since)
            if any(value > 0 for _, value in points):
                break
            if self.clock() > deadline:
                raise OpsError(
                    f"replicator {self.forward} copied nothing within "
                    f"{self.params.lag_timeout_seconds:.0f} s of the producers' resume "
                    "(ReplicatorThroughput 0): are the producers writing?"
                )
            self.sleep(self.poll_seconds)
        return {
            "cluster": self.primary,
            "replicator": self.forward,
            "duplicates_delivered": None,
            "stored_twice": None,
        }
