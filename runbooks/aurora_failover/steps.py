"""aurora-failover's parameters and its step table (every step once, in order, with what it
says and the calls it makes on each provider).

Three modes, after Aurora's own operations:
- `writer`: the cluster's writer moves to one of its readers (FailoverDBCluster). Aurora's
  storage is shared: nothing committed is lost.
- `switchover`: an Aurora global database's writer moves, planned, to its secondary cluster
  (SwitchoverGlobalCluster); refused while the secondary's RPO lag is over the objective.
- `failover`: the primary region is lost; the secondary becomes the writer with whatever it
  had received (FailoverGlobalCluster with AllowDataLoss): `allow_data_loss` must say so,
  and on a protected environment a colleague approves.

Locally the reader is a real PostgreSQL streaming replica of the primary (asynchronous), and
what a promotion lost is measured: the commits the old writer acknowledged that the new one
lacks, by key, from the rows themselves (`measure-rpo`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from ops.errors import BadInput
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant, Runbook, RunContext, Step, StepKind, StopCondition
from ops.runbook.stops import alarm_prefix, alarms_firing
from ops.runbook.table import Says, StepRow, steps_of
from runbooks.aurora_failover import aws_plan

if TYPE_CHECKING:
    from runbooks.aurora_failover.aws import AwsSteps
    from runbooks.aurora_failover.local import LocalSteps

Mode = Literal["writer", "switchover", "failover"]


class AuroraFailoverParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    component: str = Field(default="warehouse", description="the rds component of the inventory")
    mode: Mode = Field(
        default="writer",
        description="writer: to a reader in the region; switchover: planned, to the global "
        "database's secondary; failover: the primary region is lost (data loss possible)",
    )
    target: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9-]{0,62}$",
        description="writer: the reader instance to promote (default: Aurora's choice, by "
        "promotion tier); ignored by switchover and failover (the inventory's secondary)",
    )
    allow_data_loss: bool = Field(
        default=False, description="required by mode failover: what the secondary lacks is lost"
    )
    cutover: bool = True
    cutover_mode: Literal["parameter", "secret", "route53"] = Field(
        default="parameter", description="how the ingest path is moved to the new writer (as rds-pitr)"
    )
    ready_timeout_seconds: float = Field(
        default=900, gt=0, le=7200, description="how long to wait for the new writer to take writes"
    )


def _local_only(_params: Any) -> bool:
    return True


def _cutover(params: AuroraFailoverParams) -> bool:
    return params.cutover


def _global(params: AuroraFailoverParams) -> bool:
    return params.mode != "writer"


CHECK, ACTION, WAIT, VERIFY = StepKind.CHECK, StepKind.ACTION, StepKind.WAIT, StepKind.VERIFY
ALARMS = Says("the database's alarms are not firing", ("cloudwatch:DescribeAlarms",))
APPROVE = Says("approve moving the writer")
REPLICATION = ("postgres:pg_stat_replication", "postgres:pg_last_wal_replay_lsn")

# Each step runs the provider's method of its name (check-cluster: check_cluster).
STEPS = (
    StepRow(
        "check-cluster",
        CHECK,
        local=Says(
            "the writer serves the endpoint; the reader streams from it; its lag",
            ("ssm:GetParameter", *REPLICATION),
        ),
        aws=aws_plan.check_cluster,
    ),
    StepRow(
        "check-lag",
        CHECK,
        when=_global,
        local=Says("the reader's replay lag (a switchover: under the RPO objective)", REPLICATION),
        aws=aws_plan.check_lag,
    ),
    StepRow("check-alarms", CHECK, local=ALARMS, aws=ALARMS),
    StepRow("approve-failover", StepKind.APPROVAL, local=APPROVE, aws=APPROVE),
    StepRow(
        "isolate-writer",
        ACTION,
        undo="restore_writer",
        local=Says(
            "fence the writer (read-only), let the reader catch up, stop it; a failover stops it at once",
            ("postgres:ALTER SYSTEM default_transaction_read_only", "postgres:pg_ctl stop"),
            undo_calls=("postgres:pg_ctl start", "postgres:ALTER SYSTEM RESET"),
        ),
    ),
    StepRow(
        "fail-over",
        ACTION,
        undo="fail_back",
        local=Says(
            "promote the reader to writer",
            ("postgres:pg_promote",),
            undo_calls=("postgres:pg_ctl stop", "postgres:pg_basebackup"),
        ),
        aws=aws_plan.fail_over,
    ),
    StepRow(
        "wait-writer",
        WAIT,
        local=Says("wait until the new writer takes writes", ("postgres:pg_is_in_recovery",)),
        aws=aws_plan.wait_writer,
    ),
    StepRow(
        "cutover",
        ACTION,
        undo="undo_cutover",
        when=_cutover,
        local=Says(
            "point the endpoint parameter at the new writer",
            ("ssm:PutParameter", "ssm:GetParameter"),
            undo_calls=("ssm:PutParameter", "postgres:copy back what the new writer took"),
        ),
        aws=aws_plan.cutover,
    ),
    StepRow(
        "post-check",
        VERIFY,
        when=_cutover,
        local=Says("the ingest service writes to the new writer", ("http:POST ingest", "postgres:select")),
        aws=aws_plan.post_check,
    ),
    StepRow(
        "measure-rpo",
        VERIFY,
        when=_local_only,
        local=Says(
            "the commits the old writer acknowledged that the new one lacks, by key (kept in a file)",
            ("postgres:select keys", "postgres:COPY"),
        ),
    ),
    StepRow(
        "backup-new-writer",
        ACTION,
        local=Says("take a base backup of the new writer", ("postgres:pg_basebackup",)),
    ),
    StepRow(
        "rejoin-reader",
        ACTION,
        undo="drop_reader",
        local=Says(
            "a new reader streams from the new writer",
            ("postgres:pg_basebackup -R",),
            undo_calls=("postgres:pg_ctl stop",),
        ),
    ),
)


class AuroraFailover(Runbook):
    name = "aurora-failover"
    drills: ClassVar[frozenset[str]] = frozenset({"rds"})
    summary = "Move the database's writer to a reader or to the global database's secondary, cut over"
    params_model = AuroraFailoverParams

    def target(self, env: Environment, params: Any) -> str:
        return f"{env.prefix}-{params.component}"

    def steps(self, env: Environment, params: Any) -> list[Step]:
        if params.mode == "failover" and not params.allow_data_loss:
            raise BadInput(
                "--param allow_data_loss: a failover (mode failover) loses what the secondary has not "
                "received; pass --param allow_data_loss=true to accept it, or use mode switchover"
            )
        return steps_of(STEPS, env.provider, provider_for(env, params), params)

    def stop_conditions(self, env: Environment, params: Any) -> list[StopCondition]:
        """Do not move the writer while the database's critical alarms fire."""
        provider = provider_for(env, params)
        return [alarms_firing(alarm_prefix(env, params.component), provider.cloudwatch)]

    def grants(self, env: Environment, params: Any) -> list[IamGrant]:
        from runbooks.aurora_failover.grants import failover_grants  # only the IAM command needs it

        return failover_grants(env, params)

    def drill_params(self, env: Environment, component: str, at: datetime, drill_id: str) -> dict[str, Any]:
        # A drill moves the writer in the region and back is the next drill's job: the
        # cluster keeps its shape (a reader rejoins), and nothing committed may be lost.
        return {"component": component, "mode": "writer", "cutover": True}

    def outputs(self, ctx: RunContext) -> dict[str, Any]:
        started = datetime.fromisoformat(ctx.started_at)
        done_at = ctx.outputs.get("cutover", {}).get("cutover_at") or ctx.output("wait-writer", "writer_at")
        measured = ctx.outputs.get("measure-rpo", {})
        # Locally the loss is measured. On AWS a writer failover loses nothing (shared
        # storage), nor does a switchover (Aurora syncs the secondary first); a failover
        # loses up to the lag read before it (check-lag; None when AWS had no point).
        rpo = measured.get("rpo_seconds")
        if rpo is None:
            rpo = (
                ctx.outputs.get("check-lag", {}).get("lag_seconds") if ctx.params.mode == "failover" else 0.0
            )
        return {
            "RecoveryTime": round((datetime.fromisoformat(done_at) - started).total_seconds(), 3),
            "RPOSeconds": rpo,
            "RPOMeasured": measured.get("rpo_seconds") is not None,
            "LostCommits": measured.get("lost"),
            "LostRowsFile": measured.get("lost_file"),
            "OldWriter": ctx.output("check-cluster", "writer"),
            "NewWriter": ctx.output("wait-writer", "writer"),
            "Mode": ctx.params.mode,
        }


def rds_component(env: Environment, params: Any) -> Rds:
    component = env.spec.components.get(params.component)
    if not isinstance(component, Rds):
        known = ", ".join(env.components_of(Rds)) or "none"
        raise BadInput(f"--param component: {params.component!r} is not an rds component (known: {known})")
    return component


def provider_for(env: Environment, params: Any) -> LocalSteps | AwsSteps:
    """The provider of the environment, imported when a run needs it."""
    component = rds_component(env, params)
    if env.provider == "aws":
        from runbooks.aurora_failover.aws import AwsSteps

        return AwsSteps(env, params, component)
    from runbooks.aurora_failover.local import LocalSteps

    return LocalSteps(env, params, component)
