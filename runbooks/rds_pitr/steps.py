"""rds-pitr's parameters and its step table: every step once, in order, with what it says
and the calls it makes on each provider, and the provider method that runs it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ops.errors import BadInput
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant, Runbook, RunContext, Step, StepKind, StopCondition
from ops.runbook.stops import alarm_prefix, alarms_firing
from ops.runbook.table import Says, StepRow, steps_of

if TYPE_CHECKING:
    from runbooks.rds_pitr.aws import AwsSteps
    from runbooks.rds_pitr.local import LocalSteps


class PitrParams(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    target_time: AwareDatetime = Field(description="restore to this moment (ISO 8601 with a zone)")
    component: str = Field(default="warehouse", description="the rds component of the inventory")
    target_identifier: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9-]{0,62}$", description="default: <id>-pitr-<target time>"
    )
    cutover: bool = True
    cutover_mode: Literal["parameter", "secret", "rename", "route53"] = Field(
        default="parameter",
        description="the endpoint SSM parameter; on AWS also a rename swap or the DNS CNAME",
    )
    old_instance: Literal["keep", "stop"] = "keep"
    validate_data: bool = Field(
        default=True, description="on AWS, false skips the SQL data checks (the report says so)"
    )


# The AWS calls of each cutover mode (runbooks/rds_pitr/cutover.py), of its undo, and of
# reading where the endpoint points (the post-check; the restore's undo checks that nothing
# names the restored database any more before deleting it).
CUTOVER_CALLS = {
    "secret": ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"),
    "rename": ("rds:DescribeDBInstances", "rds:ModifyDBInstance"),
    "route53": (
        "route53:ListHostedZonesByName",
        "route53:ListResourceRecordSets",
        "route53:ChangeResourceRecordSets",
    ),
    "parameter": ("ssm:GetParameter", "ssm:PutParameter"),
}
UNDO_CUTOVER_CALLS = {
    "secret": ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"),
    "rename": ("rds:DescribeDBInstances", "rds:ModifyDBInstance"),
    "route53": ("route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"),
    "parameter": ("ssm:PutParameter", "ssm:GetParameter"),
}
ENDPOINT_READ_CALLS = {
    "secret": ("secretsmanager:GetSecretValue",),
    "rename": ("rds:DescribeDBInstances",),
    "route53": ("route53:ListResourceRecordSets",),
    "parameter": ("ssm:GetParameter",),
}


def _describe(aws: AwsSteps) -> tuple[str, ...]:
    """Reading the source or the restored database: a cluster, and its writer instance."""
    if aws.aurora:
        return ("rds:DescribeDBClusters", "rds:DescribeDBInstances")
    return ("rds:DescribeDBInstances",)


def _aws_check_source(aws: AwsSteps) -> Says:
    return Says("the source is available, keeps backups; its settings", (*_describe(aws), *aws.data_calls))


def _aws_check_target(aws: AwsSteps) -> Says:
    return Says(TARGET, ("rds:DescribeDBClusters",) if aws.aurora else ("rds:DescribeDBInstances",))


def _aws_restore(aws: AwsSteps) -> Says:
    title = "restore to the target time with the source's settings"
    # The undo reads the cutover's endpoint first: it never deletes what is still served.
    serving = ENDPOINT_READ_CALLS[aws.params.cutover_mode] if aws.params.cutover else ()
    # After a cutover the restored database goes with a final snapshot (it took writes).
    snapshot_call = "rds:CreateDBClusterSnapshot" if aws.aurora else "rds:CreateDBSnapshot"
    snapshot = (snapshot_call,) if aws.params.cutover else ()
    if aws.aurora:
        return Says(
            title,
            (
                "rds:RestoreDBClusterToPointInTime",
                "rds:CreateDBInstance",
                "rds:AddTagsToResource",
                "rds:DescribeDBClusters",
                "rds:DescribeDBInstances",
            ),
            undo_calls=(
                *serving,
                "rds:DescribeDBClusters",
                "rds:DescribeDBInstances",
                "rds:DeleteDBInstance",
                "rds:ModifyDBCluster",
                "rds:DeleteDBCluster",
                *snapshot,
            ),
        )
    return Says(
        title,
        ("rds:RestoreDBInstanceToPointInTime", "rds:AddTagsToResource", "rds:DescribeDBInstances"),
        undo_calls=(
            *serving,
            "rds:DescribeDBInstances",
            "rds:ModifyDBInstance",
            "rds:DeleteDBInstance",
            *snapshot,
        ),
    )


def _aws_wait(aws: AwsSteps) -> Says:
    return Says("wait until the restored instance is available", _describe(aws))


def _aws_validate(aws: AwsSteps) -> Says:
    title = "every captured setting is on the restored instance"
    if aws.checks_data:
        title += "; its rows are the source's up to the target time"
    read = ("rds:DescribeDBClusters",) if aws.aurora else ("rds:DescribeDBInstances",)
    return Says(title, (*read, *aws.data_calls))


def _aws_cutover(aws: AwsSteps) -> Says:
    mode = aws.params.cutover_mode
    return Says(f"cut over ({mode})", CUTOVER_CALLS[mode], undo_calls=UNDO_CUTOVER_CALLS[mode])


POST_CHECK_TITLES = {
    "secret": "the database secret names the restored database",
    "rename": "the original name serves the restored database",
    "route53": "the CNAME points at the restored database",
    "parameter": "the endpoint parameter names the restored database",
}


def _aws_post_check(aws: AwsSteps) -> Says:
    mode = aws.params.cutover_mode
    return Says(POST_CHECK_TITLES[mode], ENDPOINT_READ_CALLS[mode])


def _aws_stop_old(aws: AwsSteps) -> Says:
    if aws.aurora:
        calls = ("rds:DescribeDBClusters", "rds:StopDBCluster")
        undo = ("rds:DescribeDBClusters", "rds:StartDBCluster")
    else:
        calls = ("rds:DescribeDBInstances", "rds:StopDBInstance")
        undo = ("rds:DescribeDBInstances", "rds:StartDBInstance")
    return Says(STOP_OLD, calls, undo_calls=undo)


def _cutover(params: PitrParams) -> bool:
    return params.cutover


def _stop_old(params: PitrParams) -> bool:
    return params.cutover and params.old_instance == "stop"


CHECK, ACTION, WAIT, VERIFY = StepKind.CHECK, StepKind.ACTION, StepKind.WAIT, StepKind.VERIFY
TARGET = "the target time is in the window; the target name is free"
ALARMS = Says("the database's alarms are not firing", ("cloudwatch:DescribeAlarms",))
APPROVE = Says("approve the cutover")
STOP_OLD = "stop the old database"

# Each step runs the provider's method of its name (check-source: check_source).
STEPS = (
    StepRow(
        "check-source",
        CHECK,
        local=Says(
            "the source database is up and restorable", ("ssm:GetParameter", "postgres:pg_stat_archiver")
        ),
        aws=_aws_check_source,
    ),
    StepRow(
        "check-target",
        CHECK,
        local=Says(TARGET, ("postgres:backup_label",)),
        aws=_aws_check_target,
    ),
    StepRow("check-alarms", CHECK, local=ALARMS, aws=ALARMS),
    StepRow(
        "archive-wal",
        ACTION,
        local=Says("close and archive the current WAL segment", ("postgres:pg_switch_wal",)),
    ),
    StepRow(
        "restore",
        ACTION,
        undo="drop_restored",
        local=Says(
            "restore a base backup and replay WAL to the target time",
            ("postgres:base backup", "postgres:WAL replay"),
            undo_calls=("postgres:pg_ctl stop",),
        ),
        aws=_aws_restore,
    ),
    StepRow(
        "wait-ready",
        WAIT,
        local=Says("wait until the restored server accepts writes", ("postgres:pg_is_in_recovery",)),
    ),
    StepRow(
        "wait-available",
        WAIT,
        aws=_aws_wait,
    ),
    StepRow(
        "validate",
        VERIFY,
        local=Says(
            "rows and checksums equal the source's up to the target time",
            ("postgres:count, md5, pg_xact_commit_timestamp",),
        ),
        aws=_aws_validate,
    ),
    StepRow("approve-cutover", StepKind.APPROVAL, when=_cutover, local=APPROVE, aws=APPROVE),
    StepRow(
        "cutover",
        ACTION,
        undo="undo_cutover",
        when=_cutover,
        local=Says(
            "point the endpoint parameter at the restored database",
            ("ssm:PutParameter", "ssm:GetParameter"),
            undo_calls=("ssm:PutParameter", "postgres:copy back what the restored server took"),
        ),
        aws=_aws_cutover,
    ),
    StepRow(
        "post-check",
        VERIFY,
        when=_cutover,
        local=Says(
            "the ingest service writes to the restored database", ("http:POST ingest", "postgres:select")
        ),
        aws=_aws_post_check,
    ),
    StepRow(
        "backup-new-primary",
        ACTION,
        when=_cutover,
        local=Says(
            "take a base backup of the new primary; its readers made again from it",
            ("postgres:pg_basebackup",),
        ),
    ),
    StepRow(
        "stop-old",
        ACTION,
        undo="start_old",
        when=_stop_old,
        local=Says(STOP_OLD, ("postgres:pg_ctl stop",), undo_calls=("postgres:pg_ctl start",)),
        aws=_aws_stop_old,
    ),
)


class RdsPitr(Runbook):
    name = "rds-pitr"
    drills: ClassVar[frozenset[str]] = frozenset({"rds"})
    summary = "Restore the warehouse database to a point in time, validate it, cut over"
    params_model = PitrParams
    placeholders: ClassVar[dict[str, Any]] = {"target_time": "2000-01-01T00:00:00+00:00"}

    def target(self, env: Environment, params: Any) -> str:
        return f"{env.prefix}-{params.component}"

    def steps(self, env: Environment, params: Any) -> list[Step]:
        return steps_of(STEPS, env.provider, provider_for(env, params), params)

    def stop_conditions(self, env: Environment, params: Any) -> list[StopCondition]:
        """Do not restore or cut over while the database's critical alarms fire."""
        provider = provider_for(env, params)
        return [alarms_firing(alarm_prefix(env, params.component), provider.cloudwatch)]

    def grants(self, env: Environment, params: Any) -> list[IamGrant]:
        from runbooks.rds_pitr.grants import pitr_grants  # only the IAM command needs it

        return pitr_grants(env, params)

    def drill_params(self, env: Environment, component: str, at: datetime, drill_id: str) -> dict[str, Any]:
        rds = env.spec.components.get(component)
        identifier = rds.identifier if isinstance(rds, Rds) else component
        return {
            "target_time": at.isoformat(),
            "component": component,
            "target_identifier": f"{env.resource_name(identifier)}-drill-{drill_id[-12:]}".lower()[:63],
            "cutover": False,
        }

    def outputs(self, ctx: RunContext) -> dict[str, Any]:
        started = datetime.fromisoformat(ctx.started_at)
        recovery_point = ctx.outputs.get("validate", {}).get("recovery_point")
        source = ctx.outputs.get("check-source", {})
        # Locally: the source's last commit; on AWS: its latest restorable time.
        last_commit = source.get("last_commit", source.get("latest_restorable"))
        done_at = ctx.outputs.get("cutover", {}).get("cutover_at") or ctx.outputs["validate"]["validated_at"]
        rpo = 0.0 if last_commit is None else None  # no committed data: nothing to lose
        if recovery_point and last_commit:
            rpo = max(
                0.0,
                (
                    datetime.fromisoformat(last_commit) - datetime.fromisoformat(recovery_point)
                ).total_seconds(),
            )
        return {
            "RecoveryTime": round((datetime.fromisoformat(done_at) - started).total_seconds(), 3),
            "RecoveryPoint": recovery_point,
            "RPOSeconds": rpo,
            "TargetTime": ctx.params.target_time.isoformat(),
            "RestoredIdentifier": ctx.outputs["check-target"]["target_identifier"],
            "RowsVerified": ctx.outputs["validate"].get("rows"),
        }


def rds_component(env: Environment, params: Any) -> Rds:
    component = env.spec.components.get(params.component)
    if not isinstance(component, Rds):
        known = ", ".join(env.components_of(Rds)) or "none"
        raise BadInput(f"--param component: {params.component!r} is not an rds component (known: {known})")
    return component


def provider_for(env: Environment, params: Any) -> LocalSteps | AwsSteps:
    """The provider of the environment, imported when a run needs it (listing runbooks
    imports neither boto3 nor psycopg nor the local platform)."""
    component = rds_component(env, params)
    if env.provider == "aws":
        from runbooks.rds_pitr.aws import AwsSteps

        return AwsSteps(env, params, component)
    from runbooks.rds_pitr.local import LocalSteps

    return LocalSteps(env, params, component)
