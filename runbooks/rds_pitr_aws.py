"""rds-pitr on AWS (RDS PostgreSQL): restore to a point in time with every captured setting
re-applied, wait (safe across renames), check the settings, cut over by the endpoint SSM
parameter or by a rename swap. Tested against the emulator over HTTP."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.local.ingest.store import DatabaseEndpoint
from ops.runbook.model import RunContext

RUN_TAG = "platform-ops:run-id"
WAIT_TIMEOUT_S = 3600.0

# The settings of the source that a restore must carry over (RestoreDBInstanceToPointInTime
# does not copy them all by itself).
CAPTURED = ("DBInstanceClass", "MultiAZ", "DBSubnetGroupName", "VpcSecurityGroupIds", "DBParameterGroupName",
            "OptionGroupName", "DeletionProtection", "StorageType", "Tags", "Port")  # fmt: skip


def capture(instance: dict[str, Any]) -> dict[str, Any]:
    """The source's settings, in RestoreDBInstanceToPointInTime's parameter names."""
    # Default groups are the engine's own: a restore gets them without being told.
    groups = [
        g
        for g in instance.get("DBParameterGroups") or []
        if not g["DBParameterGroupName"].startswith("default.")
    ]
    options = [
        o
        for o in instance.get("OptionGroupMemberships") or []
        if not o["OptionGroupName"].startswith("default:")
    ]
    subnet = instance.get("DBSubnetGroup") or {}
    settings = {
        "DBInstanceClass": instance["DBInstanceClass"],
        "MultiAZ": instance.get("MultiAZ", False),
        "DBSubnetGroupName": subnet.get("DBSubnetGroupName"),
        "VpcSecurityGroupIds": sorted(g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])),
        "DBParameterGroupName": groups[0]["DBParameterGroupName"] if groups else None,
        "OptionGroupName": options[0]["OptionGroupName"] if options else None,
        "DeletionProtection": instance.get("DeletionProtection", False),
        "StorageType": instance.get("StorageType"),
        "Tags": sorted(instance.get("TagList", []), key=lambda t: t["Key"]),
        "Port": (instance.get("Endpoint") or {}).get("Port"),
    }
    return {k: v for k, v in settings.items() if v not in (None, [], "")}


class AwsSteps:
    """The steps of rds-pitr on AWS. Each is safe to run again (names derive from the run)."""

    def __init__(self, env: Environment, params: Any, component: Rds) -> None:
        if component.engine != "postgres":
            raise BadInput(
                f"--param component: rds-pitr on AWS supports engine postgres (not {component.engine}) yet"
            )
        self.env = env
        self.params = params
        self.source_id = env.resource_name(component.identifier)

    def _rds(self, ctx: RunContext) -> Any:
        return ctx.aws.client("rds")

    def _describe(self, ctx: RunContext, identifier: str) -> dict[str, Any] | None:
        try:
            return self._rds(ctx).describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]  # type: ignore[no-any-return]
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBInstanceNotFound":
                return None
            raise

    def target_identifier(self, ctx: RunContext) -> str:
        target: datetime = self.params.target_time
        return self.params.target_identifier or f"{self.source_id}-pitr-{target.astimezone(UTC):%Y%m%d%H%M%S}"

    # --- checks -------------------------------------------------------------------------
    def check_source(self, ctx: RunContext) -> dict[str, Any]:
        source = self._describe(ctx, self.source_id)
        if source is None:
            raise OpsError(f"the source database {self.source_id} does not exist")
        if source["DBInstanceStatus"] != "available":
            raise OpsError(f"{self.source_id} is {source['DBInstanceStatus']}; it must be available")
        if not source.get("BackupRetentionPeriod"):
            raise OpsError(
                f"{self.source_id} keeps no automated backups: point-in-time recovery is impossible"
            )
        earliest = source.get("EarliestRestorableTime") or source["InstanceCreateTime"]
        return {
            "settings": capture(source),
            "earliest": earliest.astimezone(UTC).isoformat(),
            "latest_restorable": source["LatestRestorableTime"].astimezone(UTC).isoformat(),
            "endpoint": source["Endpoint"],
        }

    def check_target(self, ctx: RunContext) -> dict[str, Any]:
        target = self.params.target_time
        earliest = datetime.fromisoformat(ctx.output("check-source", "earliest"))
        latest = datetime.fromisoformat(ctx.output("check-source", "latest_restorable"))
        if not earliest <= target <= latest:
            raise BadInput(
                f"--param target_time: {target.isoformat()} is outside the restorable window "
                f"[{earliest.isoformat()}, {latest.isoformat()}]"
            )
        identifier = self.target_identifier(ctx)
        if self._describe(ctx, identifier) is not None:
            raise BadInput(f"--param target_identifier: {identifier!r} exists already; choose another")
        return {"target_identifier": identifier}

    def check_alarms(self, ctx: RunContext) -> dict[str, Any]:
        prefix = f"{self.env.prefix}-{self.params.component.replace('_', '-')}-"
        cloudwatch = ctx.aws.client("cloudwatch")
        firing = cloudwatch.describe_alarms(AlarmNamePrefix=prefix, StateValue="ALARM").get(
            "MetricAlarms", []
        )
        names = [a["AlarmName"] for a in firing if a.get("StateValue") == "ALARM"]
        if names:
            raise OpsError(
                f"alarms of {self.params.component} are firing: {', '.join(names)}; resolve them first"
            )
        return {"firing": []}

    # --- restore ------------------------------------------------------------------------
    def restore(self, ctx: RunContext) -> dict[str, Any]:
        identifier = ctx.output("check-target", "target_identifier")
        existing = self._describe(ctx, identifier)
        if existing is not None:  # restored before a crash: ours if it carries our run id
            if {"Key": RUN_TAG, "Value": ctx.run_id} not in existing.get("TagList", []):
                raise OpsError(f"{identifier} exists and was not restored by run {ctx.run_id}")
            return {"restored": identifier}
        settings = dict(ctx.output("check-source", "settings"))
        tags = [t for t in settings.pop("Tags", []) if t["Key"] != RUN_TAG]
        tags += [{"Key": k, "Value": v} for k, v in self.env.ownership_tags().items()]
        tags.append({"Key": RUN_TAG, "Value": ctx.run_id})
        self._rds(ctx).restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=self.source_id,
            TargetDBInstanceIdentifier=identifier,
            RestoreTime=self.params.target_time,
            Tags=tags,
            **settings,
        )
        return {"restored": identifier}

    def drop_restored(self, ctx: RunContext) -> None:
        identifier = ctx.output("restore", "restored")
        instance = self._describe(ctx, identifier)
        if instance is None or {"Key": RUN_TAG, "Value": ctx.run_id} not in instance.get("TagList", []):
            return  # never delete what this run did not create
        if instance.get("DeletionProtection"):
            self._rds(ctx).modify_db_instance(
                DBInstanceIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True
            )
        self._rds(ctx).delete_db_instance(
            DBInstanceIdentifier=identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
        )

    def wait_available(self, ctx: RunContext) -> dict[str, Any]:
        identifier = ctx.output("restore", "restored")
        instance = wait_for_instance(ctx, identifier, timeout=WAIT_TIMEOUT_S)
        return {"endpoint": instance["Endpoint"], "available_at": datetime.now(UTC).isoformat()}

    def validate(self, ctx: RunContext) -> dict[str, Any]:
        """Every captured setting is on the restored instance (data checks need a network
        path to the database: the SQL checks of the inventory are the next slice)."""
        expected = dict(ctx.output("check-source", "settings"))
        restored = self._describe(ctx, ctx.output("restore", "restored"))
        assert restored is not None
        found = capture(restored)
        expected_tags = {t["Key"]: t["Value"] for t in expected.pop("Tags", [])}
        found_tags = {t["Key"]: t["Value"] for t in found.pop("Tags", [])}
        problems = [
            f"{k}: {found.get(k)!r}, source has {v!r}" for k, v in expected.items() if found.get(k) != v
        ]
        problems += [f"tag {k}: missing" for k, v in expected_tags.items() if found_tags.get(k) != v]
        if problems:
            raise OpsError("the restored instance lacks settings of the source: " + "; ".join(problems))
        return {
            "settings_checked": [*sorted(expected), "Tags"],
            "recovery_point": self.params.target_time.isoformat(),
            "validated_at": datetime.now(UTC).isoformat(),
        }

    # --- cutover ------------------------------------------------------------------------
    @property
    def _parameter(self) -> str:
        return self.env.parameter_name(self.params.component, "endpoint")

    def cutover(self, ctx: RunContext) -> dict[str, Any]:
        restored = ctx.output("restore", "restored")
        if self.params.cutover_mode == "rename":
            old = f"{self.source_id}-old-{ctx.run_id[-4:]}"
            self._rename(ctx, self.source_id, old)
            self._rename(ctx, restored, self.source_id)
            return {"mode": "rename", "old_identifier": old, "cutover_at": datetime.now(UTC).isoformat()}
        ssm = ctx.aws.client("ssm")
        previous = ssm.get_parameter(Name=self._parameter)["Parameter"]["Value"]
        endpoint = ctx.output("wait-available", "endpoint")
        current = DatabaseEndpoint.from_json(previous)
        value = DatabaseEndpoint(
            endpoint["Address"], endpoint["Port"], current.dbname, current.user
        ).to_json()
        ssm.put_parameter(Name=self._parameter, Value=value, Type="String", Overwrite=True)
        return {
            "mode": "parameter",
            "previous": previous,
            "endpoint": value,
            "cutover_at": datetime.now(UTC).isoformat(),
        }

    def undo_cutover(self, ctx: RunContext) -> None:
        done = ctx.outputs["cutover"]
        if done["mode"] == "rename":
            self._rename(ctx, self.source_id, ctx.output("restore", "restored"))
            self._rename(ctx, done["old_identifier"], self.source_id)
        else:
            ctx.aws.client("ssm").put_parameter(
                Name=self._parameter, Value=done["previous"], Type="String", Overwrite=True
            )

    def _rename(self, ctx: RunContext, old: str, new: str) -> None:
        if self._describe(ctx, new) is not None and self._describe(ctx, old) is None:
            return  # renamed already (a resumed run)
        self._rds(ctx).modify_db_instance(
            DBInstanceIdentifier=old, NewDBInstanceIdentifier=new, ApplyImmediately=True
        )
        wait_for_instance(ctx, new, timeout=WAIT_TIMEOUT_S)

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        if self.params.cutover_mode == "rename":
            instance = self._describe(ctx, self.source_id)
            if instance is None or {"Key": RUN_TAG, "Value": ctx.run_id} not in instance.get("TagList", []):
                raise OpsError(f"{self.source_id} is not the restored instance after the swap")
            return {"serving": self.source_id}
        value = ctx.aws.client("ssm").get_parameter(Name=self._parameter)["Parameter"]["Value"]
        if value != ctx.output("cutover", "endpoint"):
            raise OpsError("the endpoint parameter does not name the restored instance")
        return {"serving": ctx.output("restore", "restored")}


def wait_for_instance(ctx: RunContext, identifier: str, timeout: float) -> dict[str, Any]:
    """Poll with a growing interval (not boto3's fixed 30 s) until `identifier` is
    available. A rename makes the name vanish, then appear: not-found is polled through,
    which boto3's waiter does not do."""
    rds = ctx.aws.client("rds")
    deadline = time.monotonic() + timeout
    interval = 1.0
    while True:
        try:
            instance: dict[str, Any] = rds.describe_db_instances(DBInstanceIdentifier=identifier)[
                "DBInstances"
            ][0]
            if instance["DBInstanceStatus"] == "available":
                return instance
        except ClientError as error:
            if error.response["Error"]["Code"] != "DBInstanceNotFound":
                raise
        if time.monotonic() + interval > deadline:
            raise OpsError(f"{identifier} was not available within {timeout:.0f} s")
        time.sleep(interval)
        interval = min(interval * 1.5, 30.0)
