"""msk-failover and msk-failback: their parameters and step tables (every step once, in
order, with what it says and the calls it makes), after the MSK developer guide's planned
failover and failback, automated.

The order keeps every acknowledged record: the producers are held before the replicator is
waited for, the consumers are stopped before their offsets are waited for, and the clients
move only once both are on the other side. The reverse replicator (the other direction,
identical topic names) is created before the switch, so what is written on DR after it is
copied back for the failback."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ops.contracts import kafka_endpoint_parameter
from ops.errors import BadInput
from ops.inventory.components import Msk, MskReplicator
from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant, Runbook, RunContext, Step, StepKind
from ops.runbook.table import Says, StepRow, steps_of

if TYPE_CHECKING:
    from runbooks.msk_failover.local import LocalFailback, LocalFailover


class FailoverParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replicator: str = Field(
        default="events_replicator", description="the msk_replicator component of the inventory"
    )
    mode: Literal["planned"] = Field(default="planned", description="planned: no acknowledged record lost")
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


class FailbackParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    replicator: str = Field(
        default="events_replicator", description="the msk_replicator component the failover reversed"
    )
    lag_timeout_seconds: float = Field(default=120, gt=0, le=3600)
    offset_sync_timeout_seconds: float = Field(default=30, gt=0, le=600)


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

# Each step runs the provider's method of its name (pause-producers: pause_producers).
FAILOVER = (
    StepRow(
        "check-clusters",
        CHECK,
        local=Says(
            "both clusters answer with every broker; the clients use the primary; the replicator runs",
            ("ssm:GetParameter", "broker:Metadata", "process:MirrorMaker 2"),
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
    ),
    StepRow(
        "check-groups",
        CHECK,
        needs_source=True,
        local=Says("the consumer groups' offsets are synchronised to DR", GROUP_OFFSETS),
    ),
    StepRow(
        "pause-producers",
        ACTION,
        undo="release_producers",
        local=Says(
            "hold the producers (the ingest service answers 503)",
            (*PARAMETER, *INGEST_HEALTH),
            undo_calls=(*PARAMETER, *INGEST_HEALTH),
        ),
    ),
    StepRow(
        "wait-replicated",
        WAIT,
        needs_source=True,
        local=Says("wait until the replicator's lag is zero", KAFKA_ADMIN),
    ),
    StepRow(
        "stop-consumers",
        ACTION,
        undo="release_consumers",
        local=Says(
            "stop the consumers (offsets committed, groups left)",
            (*PARAMETER, *LOADER_HEALTH),
            undo_calls=(*PARAMETER, *LOADER_HEALTH),
        ),
    ),
    StepRow(
        "wait-offsets-synced",
        WAIT,
        needs_source=True,
        local=Says("wait until the groups' offsets are translated to DR", (*GROUP_OFFSETS, *KAFKA_ADMIN)),
    ),
    StepRow(
        "create-reverse",
        ACTION,
        undo="delete_reverse",
        local=Says(
            "create the reverse replicator (DR to primary, from earliest, identical names)",
            ("process:MirrorMaker 2",),
            undo_calls=("process:stop MirrorMaker 2",),
        ),
    ),
    StepRow("approve-failover", APPROVAL, local=Says("approve the failover to DR")),
    StepRow(
        "switch",
        ACTION,
        undo="switch_back",
        local=Says(
            "point the clients' endpoint parameter at DR",
            PARAMETER,
            undo_calls=(*KAFKA_ADMIN, *PARAMETER),
        ),
    ),
    StepRow(
        "start-consumers",
        ACTION,
        undo="hold_consumers",
        local=Says(
            "start the consumers on DR from their translated offsets",
            (*PARAMETER, *LOADER_HEALTH),
            undo_calls=(*PARAMETER, *LOADER_HEALTH),
        ),
    ),
    StepRow(
        "resume-producers",
        ACTION,
        undo="hold_producers",
        local=Says(
            "resume the producers on DR",
            (*PARAMETER, *INGEST_HEALTH),
            undo_calls=(*PARAMETER, *INGEST_HEALTH),
        ),
    ),
    StepRow(
        "post-check",
        VERIFY,
        local=Says(
            "a probe record flows through DR to the warehouse; the reverse replicator runs",
            ("http:POST ingest", "postgres:select", "process:MirrorMaker 2"),
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
    ),
    StepRow(
        "check-topics",
        CHECK,
        local=Says("every replicated topic is on the primary with the same partitions", ("broker:Metadata",)),
    ),
    StepRow(
        "pause-producers",
        ACTION,
        undo="release_producers",
        local=Says(
            "hold the producers on DR (the ingest service answers 503)",
            (*PARAMETER, *INGEST_HEALTH),
            undo_calls=(*PARAMETER, *INGEST_HEALTH),
        ),
    ),
    StepRow(
        "wait-replicated",
        WAIT,
        local=Says("wait until the reverse replicator's lag is zero", KAFKA_ADMIN),
    ),
    StepRow(
        "stop-consumers",
        ACTION,
        undo="release_consumers",
        local=Says(
            "stop the consumers on DR (offsets committed, groups left)",
            (*PARAMETER, *LOADER_HEALTH),
            undo_calls=(*PARAMETER, *LOADER_HEALTH),
        ),
    ),
    StepRow(
        "wait-offsets-synced",
        WAIT,
        local=Says(
            "wait until the groups' offsets are translated to the primary", (*GROUP_OFFSETS, *KAFKA_ADMIN)
        ),
    ),
    StepRow("approve-failback", APPROVAL, local=Says("approve the failback to the primary")),
    StepRow(
        "switch",
        ACTION,
        undo="switch_back",
        local=Says(
            "point the clients' endpoint parameter at the primary",
            PARAMETER,
            undo_calls=(*KAFKA_ADMIN, *PARAMETER),
        ),
    ),
    StepRow(
        "start-consumers",
        ACTION,
        undo="hold_consumers",
        local=Says(
            "start the consumers on the primary from their translated offsets",
            (*PARAMETER, *LOADER_HEALTH),
            undo_calls=(*PARAMETER, *LOADER_HEALTH),
        ),
    ),
    StepRow(
        "resume-producers",
        ACTION,
        undo="hold_producers",
        local=Says(
            "resume the producers on the primary",
            (*PARAMETER, *INGEST_HEALTH),
            undo_calls=(*PARAMETER, *INGEST_HEALTH),
        ),
    ),
    StepRow(
        "delete-reverse",
        ACTION,
        undo="recreate_reverse",
        local=Says(
            "delete the reverse replicator",
            ("process:stop MirrorMaker 2",),
            undo_calls=("process:MirrorMaker 2",),
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


class _MskMove(Runbook):
    """What the failover and the failback share: the target, the provider, the outputs."""

    table: tuple[StepRow, ...]

    def target(self, env: Environment, params: Any) -> str:
        replicator, _, _ = replicator_of(env, params.replicator)
        return f"{env.prefix}-{replicator.source}"

    def steps(self, env: Environment, params: Any) -> list[Step]:
        return steps_of(self.table, env.provider, self.provider(env, params), params)

    def provider(self, env: Environment, params: Any) -> LocalFailover | LocalFailback:
        raise NotImplementedError

    def grants(self, env: Environment, params: Any) -> list[IamGrant]:
        """The clients' endpoint parameter: read, and written by every move and undo."""
        replicator, _, _ = replicator_of(env, params.replicator)
        parameter = kafka_endpoint_parameter(env, replicator.source).lstrip("/")
        return [IamGrant("ssm:parameter", (parameter,), ("ssm:GetParameter", "ssm:PutParameter"))]

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
            "RecoveryPoint": {"messages": 0, "seconds": 0.0},  # planned: every record replicated first
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

    def provider(self, env: Environment, params: Any) -> LocalFailover | LocalFailback:
        replicator_of(env, params.replicator)
        if env.provider == "aws":
            raise BadInput(
                "msk-failover: the AWS provider is not built yet (issue 14); run it on --env local"
            )
        from runbooks.msk_failover.local import LocalFailover

        return LocalFailover(env, params)


class MskFailback(_MskMove):
    name = "msk-failback"
    summary = "Move the Kafka producers and consumers back to the primary after a failover"
    params_model = FailbackParams
    table = FAILBACK

    def provider(self, env: Environment, params: Any) -> LocalFailover | LocalFailback:
        replicator_of(env, params.replicator)
        if env.provider == "aws":
            raise BadInput(
                "msk-failback: the AWS provider is not built yet (issue 14); run it on --env local"
            )
        from runbooks.msk_failover.local import LocalFailback

        return LocalFailback(env, params)
