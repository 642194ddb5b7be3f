"""What msk-failover and msk-failback share on AWS (aws.py has the two directions): the
clients' endpoint parameter and the switch, the producers held and released, the consumers
stopped and started, the waits on CloudWatch, the reverse replicator made and deleted."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ops.contracts import KafkaEndpoint, kafka_endpoint_parameter
from ops.errors import BadInput, OpsError
from ops.inventory.components import Lambda, Msk
from ops.inventory.environment import Environment
from ops.kinds.msk import MskKind
from ops.runbook.model import RunContext
from runbooks.common.cloudwatch import read
from runbooks.msk_failover import aws_clients as clients
from runbooks.msk_failover import aws_kafka as kafka_api
from runbooks.msk_failover import aws_metrics as metrics
from runbooks.msk_failover.aws_clients import ACTIVE_RUN, consumer_jobs
from runbooks.msk_failover.steps import FailbackParams, FailoverParams, replicator_of


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def replicator_role(env: Environment, params: FailoverParams | FailbackParams) -> str:
    """The IAM role a reverse replicator runs as (`-p replicator_role`, default
    `<env prefix>-msk-replicator`): it reads DR and writes the primary."""
    return params.replicator_role or f"{env.prefix}-msk-replicator"


_NAMES_PER_CALL = 100  # DescribeAlarms takes at most 100 alarm names
# The consumers' lag grows while a move holds them: their alarms are no reason to stop it.
_NOT_HEALTH = frozenset({"time-lag"})


def destination_alarm_names(env: Environment, component: str, msk: Msk) -> list[str]:
    """The critical alarms of a cluster's health (no leader, no controller, a disk full,
    partitions under-replicated or under min ISR), by their full names."""
    return [
        alarm.name(env.prefix)
        for alarm in MskKind().alarms(env, component, msk)
        if alarm.severity == "critical" and alarm.key not in _NOT_HEALTH
    ]


class AwsMove:
    """What both directions share. `origin` is the cluster the clients leave, `destination`
    the one they move to (inventory component names)."""

    moving_to_dr: bool
    poll_seconds = 15.0  # CloudWatch has a point a minute; a replicator takes minutes
    # Injected by tests (never patched globally): monotonic time, sleeping, the wall clock.
    clock: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    now: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))

    def __init__(self, env: Environment, params: FailoverParams | FailbackParams) -> None:
        self.env = env
        self.params = params
        self.replicator, primary, dr = replicator_of(env, params.replicator)
        if self.replicator.topic_names != "identical":
            raise BadInput(
                f"--param replicator: {params.replicator} has topic_names {self.replicator.topic_names}; "
                "a failover with failback needs identical topic names (a reverse replicator copies back)"
            )
        self.primary, self.dr = self.replicator.source, self.replicator.target
        self.origin, self.destination = (
            (self.primary, self.dr) if self.moving_to_dr else (self.dr, self.primary)
        )
        self.clusters: dict[str, Msk] = {self.primary: primary, self.dr: dr}
        self.names = {key: env.resource_name(msk.cluster_name) for key, msk in self.clusters.items()}
        self.regions = {key: msk.region or env.region for key, msk in self.clusters.items()}
        self.forward = env.resource_name(self.replicator.replicator_name)  # primary -> DR, in DR
        self.reverse = f"{self.forward}-reverse"  # DR -> primary, in the primary's region
        self.topics = list(self.replicator.topics)
        self.functions = [
            env.resource_name(function.function_name)
            for function in env.components_of(Lambda).values()
            if function.produces_to.cluster == self.primary
        ]
        self.jobs = consumer_jobs(env, self.primary)  # refuses a group with no job: at plan time
        self.groups = {g.name: list(g.topics) for g in primary.consumer_groups}
        self.role = replicator_role(env, params)
        destination = self.clusters[self.destination]
        self.destination_alarms = destination_alarm_names(env, self.destination, destination)

    # --- the stop condition ---------------------------------------------------------------
    def destination_alarming(self, ctx: RunContext) -> str | None:
        """The destination cluster's health alarms in ALARM, as a reason to stop (None: none
        fires). The alarms are the ones `ops observe` made, read in the cluster's region by
        exact name (a prefix would take `events-dr` for `events`)."""
        cloudwatch = self._cloudwatch(ctx, self.destination)
        firing: list[str] = []
        for start in range(0, len(self.destination_alarms), _NAMES_PER_CALL):
            names = self.destination_alarms[start : start + _NAMES_PER_CALL]
            answer = cloudwatch.describe_alarms(AlarmNames=names, StateValue="ALARM")
            alarms = answer.get("MetricAlarms", [])
            firing += [a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM"]
        if not firing:
            return None
        return f"{', '.join(sorted(firing))} in ALARM on {self.names[self.destination]}"

    # --- clients --------------------------------------------------------------------------
    def _kafka(self, ctx: RunContext, cluster: str) -> Any:
        """MSK's API in the region of `cluster` (and of the replicators that target it)."""
        return ctx.aws.client("kafka", region=self.regions[cluster])

    def _cloudwatch(self, ctx: RunContext, cluster: str) -> Any:
        return ctx.aws.client("cloudwatch", region=self.regions[cluster])

    def _published(self, ctx: RunContext) -> KafkaEndpoint:
        name = kafka_endpoint_parameter(self.env, self.primary)
        try:
            value = ctx.aws.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as error:
            if error.response["Error"]["Code"] == "ParameterNotFound":
                raise OpsError(
                    f"SSM parameter {name} does not exist: the clients have no Kafka endpoint"
                ) from None
            raise
        return KafkaEndpoint.from_json(value)

    def _put(self, ctx: RunContext, endpoint: KafkaEndpoint) -> None:
        ctx.aws.client("ssm").put_parameter(
            Name=kafka_endpoint_parameter(self.env, self.primary),
            Value=endpoint.to_json(),
            Type="String",
            Overwrite=True,
        )

    def _arn(self, ctx: RunContext, cluster: str) -> str:
        return str(ctx.output("check-clusters", "arns")[cluster])

    def _replicator(self, ctx: RunContext, name: str) -> dict[str, Any] | None:
        """The forward replicator lives in DR's region, the reverse one in the primary's."""
        return kafka_api.find_replicator(
            self._kafka(ctx, self.dr if name == self.forward else self.primary), name
        )

    def _carrier(self) -> tuple[str, str]:
        """The replicator origin -> destination (what must be copied before moving), and the
        cluster whose region it lives in."""
        return (self.forward, self.dr) if self.moving_to_dr else (self.reverse, self.primary)

    def _unplanned(self) -> bool:
        return getattr(self.params, "mode", "planned") == "unplanned"

    # --- checks ---------------------------------------------------------------------------
    def _check_clusters(self, ctx: RunContext) -> dict[str, Any]:
        published = self._published(ctx)
        if published.cluster != self.origin:
            hint = "msk-failback" if published.cluster == self.dr else "msk-failover"
            raise OpsError(f"the clients use {published.cluster}, not {self.origin}: run {hint} instead")
        lost = self._unplanned()
        arns: dict[str, str] = {}
        for cluster in (self.dr,) if lost else (self.primary, self.dr):
            kafka = self._kafka(ctx, cluster)
            arn = kafka_api.find_cluster(kafka, self.names[cluster], self.regions[cluster])["ClusterArn"]
            kafka_api.require_active(kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"])
            arns[cluster] = arn
        forward = self._replicator(ctx, self.forward)
        if forward is None:
            raise OpsError(
                f"no MSK replicator {self.forward} in {self.regions[self.dr]}; "
                "check the inventory's replicator_name"
            )
        if lost:  # the lost primary's ARN, as the replicator knows it
            arns[self.primary] = kafka_api.arn_named(forward, self.names[self.primary])
        field = (
            None
            if lost
            else kafka_api.field_of(
                self._kafka(ctx, self.origin), arns[self.origin], published.bootstrap_servers
            )
        )
        return {
            "primary": self.primary,
            "dr": self.dr,
            "arns": arns,
            "endpoint": published.to_json(),
            "bootstrap_field": field,
            "forward": forward,
        }

    def _role_arn(self, ctx: RunContext) -> str:
        """In the clusters' partition and account (read from the primary's ARN)."""
        parts = self._arn(ctx, self.primary).split(":")
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{self.role}"

    # --- producers ------------------------------------------------------------------------
    def pause_producers(self, ctx: RunContext) -> dict[str, Any]:
        if ctx.noted("paused_at") is None:  # a resumed step keeps the first attempt's moment
            ctx.note(paused_at=iso(self.now()))
        lambda_ = ctx.aws.client("lambda")
        before = ctx.noted("concurrency")
        if before is None:
            before = clients.concurrency(lambda_, self.functions)
            held = [function for function, value in before.items() if value == 0]
            if held:
                raise OpsError(
                    f"function {held[0]} has a reserved concurrency of 0 already (held by another run, or "
                    "switched off): release it, or see `ops runbook status`"
                )
            ctx.note(concurrency=before)  # what the release puts back
        clients.hold(lambda_, self.functions)
        ctx.checkpoint("changed")
        return {"paused_at": ctx.noted("paused_at"), "concurrency": before}

    def release_producers(self, ctx: RunContext) -> None:
        before = ctx.outputs.get("pause-producers", {}).get("concurrency")
        if before is not None:  # None: stopped before anything was held
            clients.release(ctx.aws.client("lambda"), before)

    def resume_producers(self, ctx: RunContext) -> dict[str, Any]:
        ctx.note(resuming=True)  # stopped midway: the rollback holds them again
        clients.release(ctx.aws.client("lambda"), ctx.output("pause-producers", "concurrency"))
        ctx.checkpoint("changed")
        return {"resumed_at": iso(self.now()), "cluster": self.destination}

    def hold_producers(self, ctx: RunContext) -> None:
        clients.hold(ctx.aws.client("lambda"), self.functions)

    # --- consumers ------------------------------------------------------------------------
    def stop_consumers(self, ctx: RunContext) -> dict[str, Any]:
        if ctx.noted("stopped_at") is None:
            ctx.note(stopped_at=iso(self.now()))
        glue = ctx.aws.client("glue")
        jobs = ctx.noted("jobs")
        if jobs is None:  # only the jobs that run now are started again
            jobs = [job for job in self.jobs if clients.runs(glue, job, ACTIVE_RUN)]
            ctx.note(jobs=jobs)
        clients.stop(glue, jobs, self.params.lag_timeout_seconds, self.clock, self.sleep, self.poll_seconds)
        idle = [job for job in self.jobs if job not in jobs]
        return {"stopped_at": ctx.noted("stopped_at"), "jobs": jobs, "not_running": idle}

    def release_consumers(self, ctx: RunContext) -> None:
        jobs = ctx.outputs.get("stop-consumers", {}).get("jobs")
        if jobs:
            clients.start(ctx.aws.client("glue"), list(jobs))

    def start_consumers(self, ctx: RunContext) -> dict[str, Any]:
        ctx.note(starting=True)  # stopped midway: the rollback stops them again
        started = clients.start(ctx.aws.client("glue"), list(ctx.output("stop-consumers", "jobs")))
        ctx.checkpoint("changed")
        return {"started_at": iso(self.now()), "runs": started, "groups": sorted(self.groups)}

    def hold_consumers(self, ctx: RunContext) -> None:
        jobs = list(ctx.outputs.get("stop-consumers", {}).get("jobs") or [])
        glue = ctx.aws.client("glue")
        clients.stop(glue, jobs, self.params.lag_timeout_seconds, self.clock, self.sleep, self.poll_seconds)

    # --- waiting on CloudWatch ------------------------------------------------------------
    def _wait_lag_zero(self, ctx: RunContext, replicator: str, cluster: str, start: datetime) -> datetime:
        """Until the replicator's MessageLag is 0 in a point wholly after `start`: the point's
        time. It lives in `cluster`'s region."""
        cloudwatch = self._cloudwatch(ctx, cluster)
        query = metrics.replicator_query("lag", replicator, "MessageLag", "Sum")
        since = metrics.first_full_minute(start)
        deadline = self.clock() + self.params.lag_timeout_seconds
        last: float | None = None
        while True:
            points = metrics.since(read(cloudwatch, [query], since, self.now())["lag"], since)
            if points:
                at, last = points[0]
                if last == 0:
                    return at
            if self.clock() > deadline:
                seen = "no point yet" if last is None else f"{last:.0f} messages behind"
                raise OpsError(
                    f"replicator {replicator}'s MessageLag did not reach 0 within "
                    f"{self.params.lag_timeout_seconds:.0f} s ({seen}); raise -p lag_timeout_seconds "
                    "(CloudWatch has a point a minute), or see the replicator in the MSK console"
                )
            self.sleep(self.poll_seconds)

    def wait_replicated(self, ctx: RunContext) -> dict[str, Any]:
        replicator, cluster = self._carrier()
        paused = datetime.fromisoformat(ctx.output("pause-producers", "paused_at"))
        ctx.checkpoint("waiting")
        started = self.clock()
        at = self._wait_lag_zero(ctx, replicator, cluster, paused)
        return {
            "replicated_at": iso(self.now()),
            "lag_zero_point": iso(at),
            "waited_seconds": round(self.clock() - started, 3),
        }

    def wait_offsets_synced(self, ctx: RunContext) -> dict[str, Any]:
        """Each group's SumOffsetLag on the destination (the translated offsets) against the
        origin's where it stopped: the difference is re-read there (an estimate: at least once)."""
        keys = [(group, topic) for group, topics in self.groups.items() for topic in topics]
        on = {
            side: [
                metrics.offset_lag_query(f"{side}{i}", self.names[cluster], g, t)
                for i, (g, t) in enumerate(keys)
            ]
            for side, cluster in (("d", self.destination), ("o", self.origin))
        }
        since = metrics.first_full_minute(datetime.fromisoformat(ctx.output("stop-consumers", "stopped_at")))
        deadline = self.clock() + self.params.offset_sync_timeout_seconds
        ctx.checkpoint("waiting")
        while True:
            found = {
                side: read(self._cloudwatch(ctx, cluster), on[side], since, self.now())
                for side, cluster in (("d", self.destination), ("o", self.origin))
            }
            rereads: dict[str, int] = {}
            unsynced: list[str] = []
            for i, (group, topic) in enumerate(keys):
                there = metrics.since(found["d"].get(f"d{i}", []), since)
                if not there:
                    unsynced.append(f"{group} ({topic})")
                    continue
                here = metrics.since(found["o"].get(f"o{i}", []), since)
                rereads[f"{group}/{topic}"] = max(0, round(there[0][1] - (here[0][1] if here else 0)))
            if not unsynced and not any(rereads.values()):
                break
            if self.clock() > deadline:
                if unsynced:
                    raise OpsError(
                        f"no offsets of {', '.join(unsynced)} on {self.names[self.destination]} within "
                        f"{self.params.offset_sync_timeout_seconds:.0f} s (MSK's SumOffsetLag); is the "
                        "replicator synchronising its consumer groups?"
                    )
                break  # translated, a little behind: those records are read twice
            self.sleep(self.poll_seconds)
        return {
            "synced_at": iso(self.now()),
            "expected_rereads": {key: count for key, count in rereads.items() if count},
            "estimated": True,
        }

    # --- the switch -----------------------------------------------------------------------
    def switch(self, ctx: RunContext) -> dict[str, Any]:
        published = self._published(ctx)
        if ctx.noted("from") is None:
            ctx.note(**{"from": published.to_json()})  # what the undo puts back
        servers, field = kafka_api.bootstrap(
            self._kafka(ctx, self.destination),
            self._arn(ctx, self.destination),
            ctx.output("check-clusters", "bootstrap_field"),
        )
        moved = KafkaEndpoint(
            self.destination, servers, "", published.producers_paused, published.consumers_stopped
        )
        if published.location != moved.location:  # a resumed step does not switch twice
            self._put(ctx, moved)
        ctx.checkpoint("changed")
        return {"cluster": self.destination, "switched_at": iso(self.now()), "bootstrap_field": field}

    def switch_back(self, ctx: RunContext) -> None:
        """Back to the origin, once what the destination took is replicated back to it (the
        clients are held meanwhile: the later steps' undos ran first)."""
        previous = ctx.outputs.get("switch", {}).get("from")
        if previous is None:
            return
        back, cluster = (self.reverse, self.primary) if self.moving_to_dr else (self.forward, self.dr)
        if self._replicator(ctx, back) is not None:
            self._wait_lag_zero(ctx, back, cluster, self.now())
        self._put(ctx, KafkaEndpoint.from_json(previous))

    # --- the reverse replicator -----------------------------------------------------------
    def _create_reverse(self, ctx: RunContext) -> dict[str, Any]:
        kafka = self._kafka(ctx, self.primary)
        existing = kafka_api.find_replicator(kafka, self.reverse)
        if existing is not None:
            owner = kafka_api.owner(existing)
            if owner != ctx.run_id:
                raise OpsError(
                    f"a reverse replicator {self.reverse} exists already (run {owner or 'unknown'}): "
                    "that failover is not failed back (msk-failback)"
                )
            arn = existing["ReplicatorArn"]  # created before the process died: not created twice
        else:
            ctx.note(reverse=self.reverse)  # before the call: a run stopped after it still deletes it
            forward = self._replicator(ctx, self.forward)
            if forward is None:
                raise OpsError(f"no MSK replicator {self.forward}: the reverse copies its settings")
            request = kafka_api.reverse_request(
                forward,
                self.reverse,
                self._arn(ctx, self.dr),
                self._arn(ctx, self.primary),
                self._role_arn(ctx),
                ctx.run_id,
                self.topics,
            )
            arn = kafka.create_replicator(**request)["ReplicatorArn"]
            ctx.checkpoint("changed")
        kafka_api.wait_state(
            kafka, arn, self.params.replicator_timeout_seconds, self.clock, self.sleep, self.poll_seconds
        )
        return {"reverse": self.reverse, "arn": arn, "created": True}

    def _delete_own_reverse(self, ctx: RunContext) -> dict[str, Any] | None:
        """Only a reverse replicator this run created (its run tag)."""
        kafka = self._kafka(ctx, self.primary)
        existing = kafka_api.find_replicator(kafka, self.reverse)
        if existing is None or kafka_api.owner(existing) != ctx.run_id:
            return None
        if existing.get("ReplicatorState") != "DELETING":
            kafka.delete_replicator(ReplicatorArn=existing["ReplicatorArn"])
        kafka_api.wait_gone(
            kafka,
            self.reverse,
            self.params.replicator_timeout_seconds,
            self.clock,
            self.sleep,
            self.poll_seconds,
        )
        return {"deleted": self.reverse}

    def _set_excluded(self, ctx: RunContext, forward: dict[str, Any], excluded: list[str]) -> None:
        kafka = self._kafka(ctx, self.dr)
        kafka_api.set_excluded(
            kafka, forward, self._arn(ctx, self.primary), self._arn(ctx, self.dr), excluded
        )
        ctx.checkpoint("changed")
        kafka_api.wait_state(
            kafka,
            forward["ReplicatorArn"],
            self.params.replicator_timeout_seconds,
            self.clock,
            self.sleep,
            self.poll_seconds,
        )
