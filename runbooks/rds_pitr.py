"""rds-pitr: restore the warehouse database to a point in time, check the data, and move
the ingest path to it.

Providers: `local` (the embedded PostgreSQL: base backup + WAL replay into a new data
directory and port; cutover through the endpoint SSM parameter). The `aws` provider
(RDS/Aurora through boto3) is the next slice of this runbook.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import psycopg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ops.aws.clients import ClientFactory
from ops.contracts import DatabaseEndpoint
from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.local.emulator import emulator_target
from ops.local.pitr import archive_now, restore_to, restore_window, wait_promoted
from ops.local.platform import LocalPlatform, require_running
from ops.local.postgres import SUPERUSER, LocalPostgres
from ops.local.state import LocalState, PlatformRecord
from ops.runbook.engine import FAULT_ENV
from ops.runbook.model import Runbook, RunContext, Step, StepKind, StopCondition
from ops.runbook.stops import alarm_prefix, alarms_firing, refuse_if_firing
from ops.state import StateDir
from ops.util.ports import free_port
from runbooks.data_checks import committed_up_to, verify_restore
from runbooks.rds_pitr_aws import AwsSteps

MARKER = "restored.json"  # written once a restore has been promoted: the restore happened


class PitrParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
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


class RdsPitr(Runbook):
    name = "rds-pitr"
    summary = "Restore the warehouse database to a point in time, validate it, cut over"
    params_model = PitrParams

    def target(self, env: Environment, params: Any) -> str:
        return f"{env.prefix}-{params.component}"

    def steps(self, env: Environment, params: Any) -> list[Step]:
        component = _component(env, params)
        if env.provider == "aws":
            return _aws_steps(AwsSteps(env, params, component), params)
        if params.cutover_mode != "parameter":
            raise BadInput(
                "--param cutover_mode: the local platform cuts over by the endpoint parameter only"
            )
        local = _LocalSteps(env, params)
        steps = [
            Step("check-source", StepKind.CHECK, "the source database is up and restorable",
                 ("ssm:GetParameter", "postgres:pg_stat_archiver"), local.check_source),
            Step("check-target", StepKind.CHECK, "the target time is in the window; the target name is free",
                 ("postgres:backup_label",), local.check_target),
            Step("check-alarms", StepKind.CHECK, "the database's alarms are not firing",
                 ("cloudwatch:DescribeAlarms",), local.check_alarms),
            Step("archive-wal", StepKind.ACTION, "close and archive the current WAL segment",
                 ("postgres:pg_switch_wal",), local.archive_wal),
            Step("restore", StepKind.ACTION, "restore a base backup and replay WAL to the target time",
                 ("postgres:base backup", "postgres:WAL replay"), local.restore, local.drop_restored),
            Step("wait-ready", StepKind.WAIT, "wait until the restored server accepts writes",
                 ("postgres:pg_is_in_recovery",), local.wait_ready),
            Step("validate", StepKind.VERIFY, "rows and checksums equal the source's up to the target time",
                 ("postgres:count, md5, pg_xact_commit_timestamp",), local.validate),
        ]  # fmt: skip
        if params.cutover:
            steps += [
                Step("approve-cutover", StepKind.APPROVAL, "approve the cutover", (), lambda _: {}),
                Step("cutover", StepKind.ACTION, "point the endpoint parameter at the restored database",
                     ("ssm:PutParameter",), local.cutover, local.undo_cutover),
                Step("post-check", StepKind.VERIFY, "the ingest service writes to the restored database",
                     ("http:POST ingest", "postgres:select"), local.post_check),
            ]  # fmt: skip
            steps.append(
                Step("backup-new-primary", StepKind.ACTION, "take a base backup of the new primary",
                     ("postgres:pg_basebackup",), local.backup_new_primary)
            )  # fmt: skip
            if params.old_instance == "stop":
                steps.append(
                    Step(
                        "stop-old",
                        StepKind.ACTION,
                        "stop the old database",
                        ("postgres:pg_ctl stop",),
                        local.stop_old,
                    )
                )
        return steps

    def stop_conditions(self, env: Environment, params: Any) -> list[StopCondition]:
        """Do not restore or cut over while the database's critical alarms fire."""
        prefix = alarm_prefix(env, params.component)

        def cloudwatch(ctx: RunContext) -> Any:
            if ctx.aws is not None:
                return ctx.aws.client("cloudwatch")
            record = require_running(ctx.state)
            return ClientFactory(emulator_target(record.emulator_port, env.region)).client("cloudwatch")

        return [alarms_firing(prefix, cloudwatch)]

    def drill_params(self, env: Environment, component: str, at: datetime, drill_id: str) -> dict[str, Any]:
        return _drill_params(env, component, at, drill_id)

    def drill_component(self, params: Any) -> str:
        return str(params.component)

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


CUTOVER_CALLS = {
    "secret": ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"),
    "rename": ("rds:ModifyDBInstance",),
    "route53": (
        "route53:ListHostedZonesByName",
        "route53:ListResourceRecordSets",
        "route53:ChangeResourceRecordSets",
    ),
    "parameter": ("ssm:GetParameter", "ssm:PutParameter"),
}


def _aws_steps(aws: AwsSteps, params: Any) -> list[Step]:
    secret_calls = ("secretsmanager:GetSecretValue",) if aws.checks_data else ()
    validate_says = "every captured setting is on the restored instance"
    if aws.checks_data:
        validate_says += "; its rows are the source's up to the target time"
    steps = [
        Step("check-source", StepKind.CHECK, "the source is available, keeps backups; its settings",
             ("rds:DescribeDBInstances", *secret_calls), aws.check_source),
        Step("check-target", StepKind.CHECK, "the target time is in the window; the target name is free",
             ("rds:DescribeDBInstances",), aws.check_target),
        Step("check-alarms", StepKind.CHECK, "the database's alarms are not firing",
             ("cloudwatch:DescribeAlarms",), aws.check_alarms),
        Step("restore", StepKind.ACTION, "restore to the target time with the source's settings",
             ("rds:RestoreDBInstanceToPointInTime", "rds:AddTagsToResource"), aws.restore, aws.drop_restored),
        Step("wait-available", StepKind.WAIT, "wait until the restored instance is available",
             ("rds:DescribeDBInstances",), aws.wait_available),
        Step("validate", StepKind.VERIFY, validate_says,
             ("rds:DescribeDBInstances", *secret_calls), aws.validate),
    ]  # fmt: skip
    if params.cutover:
        calls = CUTOVER_CALLS[params.cutover_mode]
        steps += [
            Step("approve-cutover", StepKind.APPROVAL, "approve the cutover", (), lambda _: {}),
            Step("cutover", StepKind.ACTION, f"cut over ({params.cutover_mode})", calls,
                 aws.cutover, aws.undo_cutover),
            Step("post-check", StepKind.VERIFY, "the original name or the parameter serves the restored data",
                 ("rds:DescribeDBInstances", "ssm:GetParameter"), aws.post_check),
        ]  # fmt: skip
        if params.old_instance == "stop":
            steps.append(
                Step("stop-old", StepKind.ACTION, "stop the old database",
                     ("rds:StopDBInstance", "rds:StopDBCluster"), aws.stop_old)
            )  # fmt: skip
    return steps


def _drill_params(env: Environment, component: str, at: datetime, drill_id: str) -> dict[str, Any]:
    rds = env.spec.components.get(component)
    identifier = rds.identifier if isinstance(rds, Rds) else component
    return {
        "target_time": at.isoformat(),
        "component": component,
        "target_identifier": f"{env.resource_name(identifier)}-drill-{drill_id[-12:]}".lower()[:63],
        "cutover": False,
    }


def _component(env: Environment, params: Any) -> Rds:
    component = env.spec.components.get(params.component)
    if not isinstance(component, Rds):
        known = ", ".join(env.components_of(Rds)) or "none"
        raise BadInput(f"--param component: {params.component!r} is not an rds component (known: {known})")
    return component


def restores_dir(state: StateDir) -> Path:
    return LocalState.of(state).restores_dir


def instance_for_port(state: StateDir, record: PlatformRecord, port: int) -> LocalPostgres:
    """The local server listening on `port`: the platform's own, or a restored one."""
    if port == record.postgres_port:
        return LocalPostgres(LocalState.of(state).postgres_dir, port)
    for marker in restores_dir(state).glob(f"*/{MARKER}"):
        if json.loads(marker.read_text())["restored_port"] == port:
            return LocalPostgres(marker.parent, port)
    raise OpsError(f"no local database listens on port {port}; is the endpoint parameter right?")


class _LocalSteps:
    """The steps of rds-pitr on the local platform. Each is safe to run again."""

    def __init__(self, env: Environment, params: PitrParams) -> None:
        self.env = env
        self.params = params
        self.component = _component(env, params)
        # The inventory's data checks: table -> key column.
        self.tables = {check.table: check.key for check in self.component.checks}

    # --- helpers ------------------------------------------------------------------------
    def _record(self, ctx: RunContext) -> PlatformRecord:
        return require_running(ctx.state)

    def _aws(self, record: PlatformRecord) -> ClientFactory:
        return ClientFactory(emulator_target(record.emulator_port, self.env.region))

    def _ssm(self, record: PlatformRecord) -> Any:
        return self._aws(record).client("ssm")

    @property
    def _parameter(self) -> str:
        return self.env.parameter_name(self.params.component, "endpoint")

    def _source(self, ctx: RunContext) -> LocalPostgres:
        out = ctx.outputs["check-source"]
        return LocalPostgres(Path(out["source_root"]), out["source_port"])

    def _restored(self, ctx: RunContext) -> LocalPostgres:
        out = ctx.outputs["restore"]
        return LocalPostgres(Path(out["restored_root"]), out["restored_port"])

    # --- checks -------------------------------------------------------------------------
    def check_source(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        value = self._ssm(record).get_parameter(Name=self._parameter)["Parameter"]["Value"]
        endpoint = DatabaseEndpoint.from_json(value)
        source = instance_for_port(ctx.state, record, endpoint.port)
        if not source.is_running():
            raise OpsError(f"the source database ({endpoint}) is not running; `ops local up` starts it")
        window = restore_window(source)
        found = committed_up_to(endpoint.conninfo, None, self.tables)
        latest = [state.latest_commit for state in found.values() if state.latest_commit]
        return {
            "endpoint": value,
            "dbname": endpoint.dbname,
            "source_root": str(source.paths.root),
            "source_port": source.port,
            "earliest": window.earliest.isoformat(),
            "latest_archived": window.latest.isoformat(),
            "last_commit": max(latest).isoformat() if latest else None,
        }

    def check_target(self, ctx: RunContext) -> dict[str, Any]:
        target = self.params.target_time
        earliest = datetime.fromisoformat(ctx.output("check-source", "earliest"))
        now = datetime.now(UTC)
        if not earliest <= target <= now:
            raise BadInput(
                f"--param target_time: {target.isoformat()} is outside the restorable window "
                f"[{earliest.isoformat()}, now {now.isoformat(timespec='seconds')}]"
            )
        identifier = self.params.target_identifier or (
            f"{self.env.resource_name(self.component.identifier)}-pitr-{target.astimezone(UTC):%Y%m%d%H%M%S}"
        )
        root = restores_dir(ctx.state) / identifier
        if root.exists():
            raise BadInput(
                f"--param target_identifier: {identifier!r} exists already ({root}); choose another"
            )
        return {"target_identifier": identifier, "target_root": str(root)}

    def check_alarms(self, ctx: RunContext) -> dict[str, Any]:
        cloudwatch = self._aws(self._record(ctx)).client("cloudwatch")
        return refuse_if_firing(ctx, alarm_prefix(self.env, self.params.component), cloudwatch)

    # --- actions ------------------------------------------------------------------------
    def archive_wal(self, ctx: RunContext) -> dict[str, Any]:
        archived = archive_now(self._source(ctx))
        if self.params.target_time > archived:
            raise OpsError(f"the target time is after the last archived WAL ({archived.isoformat()})")
        return {"archived_at": archived.isoformat()}

    def restore(self, ctx: RunContext) -> dict[str, Any]:
        root = Path(ctx.output("check-target", "target_root"))
        marker = root / MARKER
        if marker.exists():  # restored before a crash, journaled after it: no second restore
            return json.loads(marker.read_text())  # type: ignore[no-any-return]
        if root.exists():  # a restore cut short: start it over
            LocalPostgres(root, 0).stop()
            shutil.rmtree(root)
        started = time.monotonic()
        restored = restore_to(self._source(ctx), self.params.target_time, root, free_port())
        outputs = {
            "restored_root": str(root),
            "restored_port": restored.port,
            "restore_seconds": round(time.monotonic() - started, 3),
            "promoted_at": datetime.now(UTC).isoformat(),
        }
        marker.write_text(json.dumps(outputs))
        if os.environ.get(FAULT_ENV) == "during:restore":
            os.kill(os.getpid(), signal.SIGKILL)  # crash tests: restored, not yet journaled
        return outputs

    def drop_restored(self, ctx: RunContext) -> None:
        restored = self._restored(ctx)
        restored.stop()
        shutil.rmtree(restored.paths.root, ignore_errors=True)

    def wait_ready(self, ctx: RunContext) -> dict[str, Any]:
        restored = self._restored(ctx)
        if os.environ.get(FAULT_ENV) == "during:wait-ready":
            os.kill(os.getpid(), signal.SIGKILL)  # crash tests: die in the middle of the wait
        if not restored.is_running():
            restored.start()
        wait_promoted(restored, timeout=60)
        return {"ready_at": datetime.now(UTC).isoformat()}

    def validate(self, ctx: RunContext) -> dict[str, Any]:
        dbname = ctx.output("check-source", "dbname")
        verified = verify_restore(
            self._source(ctx).conninfo(dbname),
            self._restored(ctx).conninfo(dbname),
            self.params.target_time,
            self.tables,
        )
        return {**verified, "validated_at": datetime.now(UTC).isoformat()}

    def cutover(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        restored = self._restored(ctx)
        endpoint = DatabaseEndpoint(
            "127.0.0.1", restored.port, ctx.output("check-source", "dbname"), SUPERUSER
        )
        self._ssm(record).put_parameter(
            Name=self._parameter, Value=endpoint.to_json(), Type="String", Overwrite=True
        )
        record.warehouse_endpoint = json.loads(endpoint.to_json())
        LocalState.of(ctx.state).write_record(record)
        LocalPlatform(self.env, ctx.state).wait_ingest_on(record, endpoint, timeout=20)
        return {"endpoint": endpoint.to_json(), "cutover_at": datetime.now(UTC).isoformat()}

    def undo_cutover(self, ctx: RunContext) -> None:
        record = self._record(ctx)
        previous = ctx.output("check-source", "endpoint")
        self._ssm(record).put_parameter(Name=self._parameter, Value=previous, Type="String", Overwrite=True)
        own = DatabaseEndpoint.from_json(previous).port == record.postgres_port
        record.warehouse_endpoint = {} if own else json.loads(previous)
        LocalState.of(ctx.state).write_record(record)

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        record = self._record(ctx)
        probe = {
            "transaction_id": f"PITR-PROBE-{ctx.run_id}",
            "timestamp": datetime.now(UTC).isoformat(),
            "account_id": "ACC-PROBE",
            "amount": "0.01",
            "currency": "USD",
            "transaction_type": "payment",
        }
        response = httpx.post(f"{record.ingest_url}/ingest-financial-transaction/", json=probe, timeout=10)
        if response.status_code != 200:
            raise OpsError(
                f"the ingest service refused a probe record after cutover: HTTP {response.status_code}"
            )
        dbname = ctx.output("check-source", "dbname")
        with psycopg.connect(self._restored(ctx).conninfo(dbname)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM financial_transactions WHERE transaction_id = %s",
                (probe["transaction_id"],),
            ).fetchone()
        if not row or row[0] != 1:
            raise OpsError("the probe record did not reach the restored database")
        return {"probe": probe["transaction_id"]}

    def backup_new_primary(self, ctx: RunContext) -> dict[str, Any]:
        """The restored database is the primary now: make it restorable in its turn."""
        restored = self._restored(ctx)
        if restored.base_backups():
            return {"base_backup": restored.base_backups()[0].name}
        return {"base_backup": restored.take_base_backup().name}

    def stop_old(self, ctx: RunContext) -> dict[str, Any]:
        self._source(ctx).stop()
        return {"stopped": ctx.output("check-source", "source_root")}
