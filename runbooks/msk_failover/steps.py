"""msk-failover and msk-failback: their parameters and step tables (every step once, in
order, with what it says and the calls it makes), after the MSK developer guide's planned
failover and failback, automated.

The order keeps every acknowledged record: the producers are held before the replicator is
waited for, the consumers are stopped before their offsets are waited for, and the clients
move only once both are on the other side. The reverse replicator (the other direction,
identical topic names) is created before the switch, so what is written on DR after it is
copied back for the failback.

On AWS (aws.py) each row's `aws` says what it calls; three local steps have none there:
check-topics (a topic's partitions are read over the Kafka protocol: MSK's API gives them
only with kafka-cluster data-plane permissions on each topic; the replicator's topic list and
naming are checked in check-clusters instead) and, in the failback, check-stranded (the
stranded records are known by id only from the ingest service's acknowledgement log, a
local file; on AWS the failover's recovery point is MSK's estimate)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ops.contracts import kafka_endpoint_parameter
from ops.errors import BadInput
from ops.inventory.components import Msk, MskReplicator
from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant, Runbook, RunContext, Step, StepKind, StopCondition
from ops.runbook.table import Says, StepRow, steps_of

if TYPE_CHECKING:
    from runbooks.msk_failover.aws import AwsFailback, AwsFailover
    from runbooks.msk_failover.local import LocalFailback, LocalFailover


class FailoverParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    replicator: str = Field(
        default="events_replicator", description="the msk_replicator component of the inventory"
    )
    mode: Literal["planned", "unplanned"] = Field(
        default="planned",
        description="planned: nothing lost; unplanned: the primary is lost, what it stranded is listed",
    )
    lag_timeout_seconds: float = Field(
        default=120, gt=0, le=3600, description="how long to wait for a replicator's lag to reach zero"
    )
    replication_objective_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="the pre-flight's bound on DR's replication latency; default the cluster's RPO",
    )
    offset_sync_timeout_seconds: float = Field(
        default=30,
        gt=0,
        le=600,
        description="how long to wait for the consumer groups' offsets to reach the other cluster",
    )
    replicator_role: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$",
        description="AWS only: the IAM role a reverse replicator runs as (default <prefix>-msk-replicator)",
    )
    replicator_timeout_seconds: float = Field(
        default=1800,
        gt=0,
        le=7200,
        description="AWS only: how long a replicator may take to be created, updated or deleted",
    )


class FailbackParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    replicator: str = Field(
        default="events_replicator", description="the msk_replicator component the failover reversed"
    )
    lag_timeout_seconds: float = Field(default=120, gt=0, le=3600)
    offset_sync_timeout_seconds: float = Field(default=30, gt=0, le=600)
    republish: bool = Field(
        default=True,
        description="after an unplanned failover: re-publish the stranded records on DR (approved)",
    )
    replicator_role: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$",
        description="AWS only: the IAM role a reverse replicator runs as (default <prefix>-msk-replicator)",
    )
    replicator_timeout_seconds: float = Field(
        default=1800,
        gt=0,
        le=7200,
        description="AWS only: how long a replicator may take to be created, updated or deleted",
    )


def _unplanned(params: Any) -> bool:
    return getattr(params, "mode", "planned") == "unplanned"


def _republish(params: Any) -> bool:
    return bool(getattr(params, "republish", False))


CHECK, ACTION, WAIT, VERIFY, APPROVAL = (
    StepKind.CHECK,
    StepKind.ACTION,
    StepKind.WAIT,
    StepKind.VERIFY,
    StepKind.APPROVAL,
)
PARAMETER = ("ssm:PutParameter",)
INGEST_HEALTH = ("http:GET ingest /health",)
LOADER_HEALTH = ("http:GET loader /health",)
KAFKA_ADMIN = ("broker:Metadata", "broker:ListOffsets")
GROUP_OFFSETS = ("broker:OffsetFetch",)

# --- on AWS (runbooks/msk_failover/aws.py): MSK, CloudWatch, the ingest Lambdas, the Glue jobs
METRICS = ("cloudwatch:GetMetricData",)
FIND_REPLICATOR = ("kafka:ListReplicators", "kafka:DescribeReplicator")
UPDATE_REPLICATOR = (*FIND_REPLICATOR, "kafka:UpdateReplicationInfo")
# CreateReplicator as MSK's guide grants its caller: the role passed to MSK, MSK's own role
# made on first use, the clusters' networks read and a network interface made in each.
CREATE_REPLICATOR = (
    *FIND_REPLICATOR,
    "kafka:CreateReplicator",
    "iam:PassRole",
    "iam:CreateServiceLinkedRole",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
    "ec2:CreateNetworkInterface",
)
DELETE_REPLICATOR = (*FIND_REPLICATOR, "kafka:DeleteReplicator")
READ_CLUSTERS = (
    "ssm:GetParameter",
    "kafka:ListClustersV2",
    "kafka:DescribeClusterV2",
    "kafka:GetBootstrapBrokers",
    *FIND_REPLICATOR,
)
HOLD = ("lambda:PutFunctionConcurrency",)
RELEASE = ("lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency")
STOP_JOBS = ("glue:GetJobRuns", "glue:BatchStopJobRun")
START_JOBS = ("glue:GetJobRuns", "glue:StartJobRun")
AWS_PAUSE = Says(
    "hold the ingest functions (reserved concurrency 0, what they had noted)",
    ("lambda:GetFunctionConcurrency", *HOLD),
    undo_calls=RELEASE,
)
AWS_STOP = Says(
    "stop the consumer groups' Glue job runs and wait until they have ended",
    STOP_JOBS,
    undo_calls=START_JOBS,
)
AWS_START = Says(
    "start the Glue jobs it stopped (they read the endpoint as they start)", START_JOBS, STOP_JOBS
)
AWS_RESUME = Says("release the ingest functions (the concurrency they had)", RELEASE, undo_calls=HOLD)
AWS_OFFSETS = Says(
    "wait until the groups' SumOffsetLag is on the other cluster (re-reads estimated)", METRICS
)
AWS_SWITCH_CALLS = ("ssm:GetParameter", "kafka:GetBootstrapBrokers", "ssm:PutParameter")
# The undo waits until what the new cluster took is copied back (MessageLag 0), then writes.
AWS_SWITCH_UNDO = ("ssm:PutParameter", *FIND_REPLICATOR, *METRICS)
AWS_CREATE_REVERSE = Says(
    "create the reverse replicator (DR to primary, from earliest, identical names) and wait until RUNNING",
    CREATE_REPLICATOR,
    undo_calls=DELETE_REPLICATOR,
)


# The rows that hold, move and release the clients: the same in both directions but for
# where the clients are (`on`, `to`).
def _pause_producers(on: str) -> StepRow:
    return StepRow(
        "pause-producers",
        ACTION,
        undo="release_producers",
        local=Says(
            f"hold the producers{on} (the ingest service answers 503)",
            (*PARAMETER, *INGEST_HEALTH),
            undo_calls=(*PARAMETER, *INGEST_HEALTH),
        ),
        aws=AWS_PAUSE,
    )


def _stop_consumers(on: str) -> StepRow:
    return StepRow(
        "stop-consumers",
        ACTION,
        undo="release_consumers",
        local=Says(
            f"stop the consumers{on} (offsets committed, groups left)",
            (*PARAMETER, *LOADER_HEALTH),
            undo_calls=(*PARAMETER, *LOADER_HEALTH),
        ),
        aws=AWS_STOP,
    )


def _switch(to: str) -> StepRow:
    return StepRow(
        "switch",
        ACTION,
        undo="switch_back",
        local=Says(
            f"point the clients' endpoint parameter at {to}", PARAMETER, undo_calls=(*KAFKA_ADMIN, *PARAMETER)
        ),
        aws=Says(
            f"point the clients' endpoint parameter at {to}'s bootstrap brokers",
            AWS_SWITCH_CALLS,
            AWS_SWITCH_UNDO,
        ),
    )


def _start_consumers(on: str) -> StepRow:
    return StepRow(
        "start-consumers",
        ACTION,
        undo="hold_consumers",
        local=Says(
            f"start the consumers on {on} from their translated offsets",
            (*PARAMETER, *LOADER_HEALTH),
            undo_calls=(*PARAMETER, *LOADER_HEALTH),
        ),
        aws=AWS_START,
    )


def _resume_producers(on: str) -> StepRow:
    return StepRow(
        "resume-producers",
        ACTION,
        undo="hold_producers",
        local=Says(
            f"resume the producers on {on}",
            (*PARAMETER, *INGEST_HEALTH),
            undo_calls=(*PARAMETER, *INGEST_HEALTH),
        ),
        aws=AWS_RESUME,
    )


# Each step runs the provider's method of its name (pause-producers: pause_producers).
FAILOVER = (
    StepRow(
        "check-clusters",
        CHECK,
        local=Says(
            "both clusters answer with every broker; the clients use the primary; the replicator runs",
            ("ssm:GetParameter", "broker:Metadata", "process:MirrorMaker 2"),
        ),
        aws=Says(
            "both clusters ACTIVE (DR only, unplanned); the clients use the primary; the replicator "
            "RUNNING with every topic under its own name; no reverse replicator",
            READ_CLUSTERS,
        ),
    ),
    StepRow(
        "check-topics",
        CHECK,
        local=Says("every replicated topic is on DR with the same partitions", ("broker:Metadata",)),
    ),
    StepRow(
        "check-replication",
        CHECK,
        needs_source=True,
        local=Says("DR catches up with the primary within the RPO objective", KAFKA_ADMIN),
        aws=Says("DR's ReplicationLatency is within the RPO objective", METRICS),
    ),
    StepRow(
        "check-groups",
        CHECK,
        needs_source=True,
        local=Says("the consumer groups' offsets are synchronised to DR", GROUP_OFFSETS),
        aws=Says("the replicator synchronises every consumer group's offsets", FIND_REPLICATOR),
    ),
    StepRow(
        "detach-replicator",
        ACTION,
        undo="reattach_replicator",
        when=_unplanned,
        local=Says(
            "detach the replicator from the lost primary (nothing stranded arrives unannounced)",
            ("process:stop MirrorMaker 2",),
            undo_calls=("process:MirrorMaker 2",),
        ),
        aws=Says(
            "detach the replicator from the lost primary (every topic excluded, the list before noted)",
            UPDATE_REPLICATOR,
            undo_calls=UPDATE_REPLICATOR,
        ),
    ),
    _pause_producers(""),
    StepRow(
        "wait-replicated",
        WAIT,
        needs_source=True,
        local=Says("wait until the replicator's lag is zero", KAFKA_ADMIN),
        aws=Says("wait until the replicator's MessageLag is 0", METRICS),
    ),
    _stop_consumers(""),
    StepRow(
        "wait-offsets-synced",
        WAIT,
        needs_source=True,
        local=Says("wait until the groups' offsets are translated to DR", (*GROUP_OFFSETS, *KAFKA_ADMIN)),
        aws=AWS_OFFSETS,
    ),
    StepRow(
        "record-recovery-point",
        VERIFY,
        undo="forget_recovery_point",
        when=_unplanned,
        local=Says(
            "the last replicated record per partition; the acknowledged records that never reached DR",
            ("file:ingest acknowledgement log", "broker:Fetch"),
        ),
        aws=Says(
            "MSK's estimate of what never reached DR: the replicator's last MessageLag and "
            "ReplicationLatency (records by id: local only)",
            METRICS,
        ),
    ),
    StepRow(
        "create-reverse",
        ACTION,
        undo="delete_reverse",
        needs_source=True,
        local=Says(
            "create the reverse replicator (DR to primary, from earliest, identical names)",
            ("process:MirrorMaker 2",),
            undo_calls=("process:stop MirrorMaker 2",),
        ),
        aws=AWS_CREATE_REVERSE,
    ),
    StepRow(
        "approve-failover",
        APPROVAL,
        local=Says("approve the failover to DR"),
        aws=Says("approve the failover to DR"),
    ),
    _switch("DR"),
    _start_consumers("DR"),
    _resume_producers("DR"),
    StepRow(
        "post-check",
        VERIFY,
        local=Says(
            "a probe record flows through DR to the warehouse; the reverse replicator runs",
            ("http:POST ingest", "postgres:select", "process:MirrorMaker 2"),
        ),
        aws=Says(
            "the clients' parameter names DR; the Glue jobs run; the reverse replicator is RUNNING",
            ("ssm:GetParameter", "glue:GetJobRuns", *FIND_REPLICATOR),
        ),
    ),
)

FAILBACK = (
    StepRow(
        "check-clusters",
        CHECK,
        local=Says(
            "both clusters answer with every broker; the clients use DR; the reverse replicator runs",
            ("ssm:GetParameter", "broker:Metadata", "process:MirrorMaker 2"),
        ),
        aws=Says(
            "both clusters ACTIVE; the clients use DR; the reverse replicator RUNNING, or the original "
            "one detached by an unplanned failover",
            READ_CLUSTERS,
        ),
    ),
    StepRow(
        "check-topics",
        CHECK,
        local=Says("every replicated topic is on the primary with the same partitions", ("broker:Metadata",)),
    ),
    StepRow(
        "check-stranded",
        CHECK,
        local=Says(
            "the records an unplanned failover stranded are on the primary again",
            ("file:recovery point", "broker:Fetch"),
        ),
    ),
    StepRow(
        "create-reverse",
        ACTION,
        undo="delete_created_reverse",
        local=Says(
            "the reverse replicator runs (an unplanned failover could not create it)",
            ("process:MirrorMaker 2",),
            undo_calls=("process:stop MirrorMaker 2",),
        ),
        aws=Says(
            "the reverse replicator runs (an unplanned failover could not create it)",
            CREATE_REPLICATOR,
            undo_calls=DELETE_REPLICATOR,
        ),
    ),
    StepRow(
        "approve-republish",
        APPROVAL,
        when=_republish,
        local=Says("approve re-publishing the stranded records on DR"),
        aws=Says("approve re-attaching the replicator: what the primary kept reaches DR"),
    ),
    StepRow(
        "republish",
        ACTION,
        when=_republish,
        local=Says(
            "re-attach the replicator: the stranded records reach DR and its consumers",
            ("process:MirrorMaker 2", "broker:Fetch"),
        ),
        aws=Says(
            "re-attach the replicator (the topics it excluded restored) and wait until its MessageLag is 0",
            (*UPDATE_REPLICATOR, *METRICS),
        ),
    ),
    _pause_producers(" on DR"),
    StepRow(
        "wait-replicated",
        WAIT,
        local=Says("wait until the reverse replicator's lag is zero", KAFKA_ADMIN),
        aws=Says("wait until the reverse replicator's MessageLag is 0", METRICS),
    ),
    _stop_consumers(" on DR"),
    StepRow(
        "wait-offsets-synced",
        WAIT,
        local=Says(
            "wait until the groups' offsets are translated to the primary", (*GROUP_OFFSETS, *KAFKA_ADMIN)
        ),
        aws=AWS_OFFSETS,
    ),
    StepRow(
        "approve-failback",
        APPROVAL,
        local=Says("approve the failback to the primary"),
        aws=Says("approve the failback to the primary"),
    ),
    _switch("the primary"),
    _start_consumers("the primary"),
    _resume_producers("the primary"),
    StepRow(
        "delete-reverse",
        ACTION,
        undo="recreate_reverse",
        local=Says(
            "delete the reverse replicator",
            ("process:stop MirrorMaker 2",),
            undo_calls=("process:MirrorMaker 2",),
        ),
        aws=Says(
            "delete the reverse replicator (its role and tags noted)",
            DELETE_REPLICATOR,
            undo_calls=CREATE_REPLICATOR,
        ),
    ),
    StepRow(
        "post-check",
        VERIFY,
        local=Says(
            "a probe record flows through the primary to the warehouse and to DR; the original "
            "replicator runs",
            ("http:POST ingest", "postgres:select", "broker:ListOffsets", "process:MirrorMaker 2"),
        ),
        aws=Says(
            "the clients' parameter names the primary; the original replicator is RUNNING with "
            "ReplicatorThroughput > 0",
            ("ssm:GetParameter", *FIND_REPLICATOR, *METRICS),
        ),
    ),
)


def replicator_of(env: Environment, name: str) -> tuple[MskReplicator, Msk, Msk]:
    """The inventory's replicator `name`, its source (primary) and target (DR) clusters."""
    replicator = env.spec.components.get(name)
    if not isinstance(replicator, MskReplicator):
        known = ", ".join(env.components_of(MskReplicator)) or "none"
        raise BadInput(f"--param replicator: {name!r} is not an msk_replicator component (known: {known})")
    clusters = env.components_of(Msk)
    return replicator, clusters[replicator.source], clusters[replicator.target]


def _seconds_between(ctx: RunContext, start: tuple[str, str], end: tuple[str, str]) -> float | None:
    """Seconds from one step output's timestamp to another's (None: a step did not run)."""
    first = ctx.outputs.get(start[0], {}).get(start[1])
    last = ctx.outputs.get(end[0], {}).get(end[1])
    if not first or not last:
        return None
    return round((datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds(), 3)


def _recovery_point(ctx: RunContext) -> dict[str, Any]:
    """What the move could not bring: nothing when planned (every record replicated first);
    after an unplanned failover the acknowledged records stranded on the lost primary."""
    found = ctx.outputs.get("record-recovery-point")
    if not found:
        return {"messages": 0, "seconds": 0.0}
    return {"messages": found["stranded"], "seconds": found["seconds"]}


class _MskMove(Runbook):
    """What the failover and the failback share: the target, the provider, the outputs."""

    table: tuple[StepRow, ...]

    def target(self, env: Environment, params: Any) -> str:
        replicator, _, _ = replicator_of(env, params.replicator)
        return f"{env.prefix}-{replicator.source}"

    def steps(self, env: Environment, params: Any) -> list[Step]:
        return steps_of(self.table, env.provider, self.provider(env, params), params)

    def objective_component(self, env: Environment, params: Any) -> str | None:
        """The primary cluster: its objectives are the stream's."""
        replicator, _, _ = replicator_of(env, params.replicator)
        return replicator.source

    def provider(
        self, env: Environment, params: Any
    ) -> LocalFailover | LocalFailback | AwsFailover | AwsFailback:
        raise NotImplementedError

    def stop_conditions(self, env: Environment, params: Any) -> list[StopCondition]:
        """The cluster the clients move to must be whole. Locally: every broker is up (the
        waits check it as they poll too); on AWS: none of its critical health alarms fires."""
        provider = self.provider(env, params)
        if env.provider == "aws":
            from runbooks.msk_failover.aws import AwsFailback, AwsFailover

            assert isinstance(provider, AwsFailover | AwsFailback)
            name = f"critical alarms of {provider.destination}"
            return [StopCondition(name, provider.destination_alarming, calls=("cloudwatch:DescribeAlarms",))]
        from runbooks.msk_failover.local import LocalFailback, LocalFailover

        assert isinstance(provider, LocalFailover | LocalFailback)
        return [StopCondition("destination cluster whole", provider.destination_broken)]

    def grants(self, env: Environment, params: Any) -> list[IamGrant]:
        """The clients' endpoint parameter: read, and written by every move and undo; on
        AWS also the clusters, replicators, functions and jobs (grants.py)."""
        replicator, _, _ = replicator_of(env, params.replicator)
        parameter = kafka_endpoint_parameter(env, replicator.source).lstrip("/")
        grants = [IamGrant("ssm:parameter", (parameter,), ("ssm:GetParameter", "ssm:PutParameter"))]
        if env.provider == "aws":
            from runbooks.msk_failover.grants import aws_grants  # only the IAM command needs it

            grants += aws_grants(env, params)
        return grants

    def outputs(self, ctx: RunContext) -> dict[str, Any]:
        unavailable = _seconds_between(
            ctx, ("pause-producers", "paused_at"), ("resume-producers", "resumed_at")
        )
        paused = _seconds_between(ctx, ("stop-consumers", "stopped_at"), ("start-consumers", "started_at"))
        check = ctx.outputs.get("post-check", {})
        return {
            # The producers' write unavailability: the RTO a client of the ingest path sees.
            "RecoveryTime": unavailable,
            "WriteUnavailableSeconds": unavailable,
            "ConsumerPauseSeconds": paused,
            "RecoveryPoint": _recovery_point(ctx),
            "RPOSeconds": _recovery_point(ctx)["seconds"],
            "StrandedRecords": ctx.outputs.get("record-recovery-point", {}).get("file"),
            "ReplicationLatencySeconds": ctx.outputs.get("check-replication", {}).get("latency_seconds"),
            "ExpectedRereads": ctx.outputs.get("wait-offsets-synced", {}).get("expected_rereads"),
            "DuplicatesDelivered": check.get("duplicates_delivered"),
            "StoredTwice": check.get("stored_twice"),
            "ActiveCluster": ctx.outputs.get("switch", {}).get("cluster"),
        }


class MskFailover(_MskMove):
    name = "msk-failover"
    summary = "Move the Kafka producers and consumers to the DR cluster (planned: nothing lost)"
    params_model = FailoverParams
    table = FAILOVER

    def unplanned(self, params: Any) -> bool:
        """Unplanned: the primary is lost, the steps that need it are skipped."""
        return _unplanned(params)

    def provider(
        self, env: Environment, params: Any
    ) -> LocalFailover | LocalFailback | AwsFailover | AwsFailback:
        replicator_of(env, params.replicator)
        if env.provider == "aws":
            from runbooks.msk_failover.aws import AwsFailover

            return AwsFailover(env, params)
        from runbooks.msk_failover.local import LocalFailover

        return LocalFailover(env, params)


class MskFailback(_MskMove):
    name = "msk-failback"
    summary = "Move the Kafka producers and consumers back to the primary after a failover"
    params_model = FailbackParams
    table = FAILBACK

    def provider(
        self, env: Environment, params: Any
    ) -> LocalFailover | LocalFailback | AwsFailover | AwsFailback:
        replicator_of(env, params.replicator)
        if env.provider == "aws":
            from runbooks.msk_failover.aws import AwsFailback

            return AwsFailback(env, params)
        from runbooks.msk_failover.local import LocalFailback

        return LocalFailback(env, params)
