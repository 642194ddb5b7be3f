"""rds-pitr's AWS provider (RDS PostgreSQL and Aurora PostgreSQL): restore to a point in
time with every captured setting re-applied, wait (safe across renames), check the settings
and the data; the cutover strategies are in cutover.py. Tested against the emulator over
HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.runbook.model import RunContext
from ops.runbook.stops import alarm_prefix, refuse_if_firing
from runbooks.common.data_checks import committed_up_to, verify_restore
from runbooks.common.rds_access import address_for, conninfo, reachable, read_credentials
from runbooks.common.rds_wait import wait_for_instance
from runbooks.rds_pitr.cutover import RUN_TAG, AwsCutover, created_by


def final_snapshot(identifier: str) -> str:
    """The snapshot a restored database leaves when it is deleted after taking writes; a
    `<restored>-*` IAM grant covers it."""
    return f"{identifier}-final"


def capture(instance: dict[str, Any]) -> dict[str, Any]:
    """The source's settings that a restore must carry over (RestoreDBInstanceToPointInTime
    does not copy them all by itself), in its parameter names."""
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


def capture_cluster(cluster: dict[str, Any]) -> dict[str, Any]:
    """An Aurora cluster's settings, in RestoreDBClusterToPointInTime's parameter names."""
    parameter_group = cluster.get("DBClusterParameterGroup", "")
    subnet = cluster.get("DBSubnetGroup", "")
    settings = {
        "VpcSecurityGroupIds": sorted(g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups", [])),
        "DBClusterParameterGroupName": None if parameter_group.startswith("default.") else parameter_group,
        "DBSubnetGroupName": None if subnet == "default" else subnet,
        "DeletionProtection": cluster.get("DeletionProtection", False),
        "Tags": sorted(cluster.get("TagList", []), key=lambda t: t["Key"]),
        "Port": cluster.get("Port"),
    }
    return {k: v for k, v in settings.items() if v not in (None, [], "")}


class AwsSteps(AwsCutover):
    """The steps of rds-pitr on AWS. Each is safe to run again (names derive from the run)."""

    def __init__(self, env: Environment, params: Any, component: Rds) -> None:
        self.env = env
        self.params = params
        self.component = component
        self.aurora = component.engine == "aurora-postgresql"
        self.source_id = env.resource_name(component.identifier)
        self.tables = {check.table: check.key for check in component.checks}
        self.checks_data = bool(self.tables) and params.validate_data
        if self.aurora and params.cutover_mode == "rename":
            raise BadInput(
                "--param cutover_mode: an Aurora cluster cuts over by parameter or route53, not rename"
            )
        if params.cutover_mode == "route53" and component.dns is None:
            raise BadInput(
                f"--param cutover_mode: route53 needs components.{params.component}.dns in the inventory"
            )

    def _rds(self, ctx: RunContext) -> Any:
        return ctx.aws.client("rds")

    def _describe(self, ctx: RunContext, identifier: str) -> dict[str, Any] | None:
        try:
            return self._rds(ctx).describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]  # type: ignore[no-any-return]
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBInstanceNotFound":
                return None
            raise

    def _describe_cluster(self, ctx: RunContext, identifier: str) -> dict[str, Any] | None:
        try:
            return self._rds(ctx).describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]  # type: ignore[no-any-return]
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBClusterNotFoundFault":
                return None
            raise

    @property
    def data_calls(self) -> tuple[str, ...]:
        """The calls the SQL data checks add (reading the check secret)."""
        return ("secretsmanager:GetSecretValue",) if self.checks_data else ()

    def cloudwatch(self, ctx: RunContext) -> Any:
        return ctx.aws.client("cloudwatch")

    def _exists(self, ctx: RunContext, identifier: str) -> dict[str, Any] | None:
        return self._describe_cluster(ctx, identifier) if self.aurora else self._describe(ctx, identifier)

    def target_identifier(self) -> str:
        target: datetime = self.params.target_time
        return self.params.target_identifier or f"{self.source_id}-pitr-{target.astimezone(UTC):%Y%m%d%H%M%S}"

    # --- checks -------------------------------------------------------------------------
    def check_source(self, ctx: RunContext) -> dict[str, Any]:
        if self.aurora:
            return self._check_cluster(ctx)
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
            **self._check_data_access(ctx, source),
        }

    def _check_cluster(self, ctx: RunContext) -> dict[str, Any]:
        cluster = self._describe_cluster(ctx, self.source_id)
        if cluster is None:
            raise OpsError(f"the source cluster {self.source_id} does not exist")
        if cluster["Status"] != "available":
            raise OpsError(f"{self.source_id} is {cluster['Status']}; it must be available")
        writer = next(
            (m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m["IsClusterWriter"]),
            None,
        )
        instance = self._describe(ctx, writer) if writer else None
        return {
            "settings": capture_cluster(cluster),
            "writer_class": instance["DBInstanceClass"] if instance else self.component.instance_class,
            "earliest": cluster["EarliestRestorableTime"].astimezone(UTC).isoformat(),
            "latest_restorable": cluster["LatestRestorableTime"].astimezone(UTC).isoformat(),
            "endpoint": {"Address": cluster["Endpoint"], "Port": cluster.get("Port", 5432)},
            **self._check_data_access(ctx, cluster),
        }

    # --- data checks --------------------------------------------------------------------
    def _data_secret(self, source: dict[str, Any]) -> str:
        """The inventory's check secret (a read-only user is best), else RDS's managed one."""
        if self.component.check_secret:
            return self.env.parameter_name(self.component.check_secret).lstrip("/")
        managed = (source.get("MasterUserSecret") or {}).get("SecretArn")
        if managed:
            return str(managed)
        raise BadInput(
            f"components.{self.params.component}.check_secret: not set and {self.source_id} has no "
            f"RDS-managed master secret; name a Secrets Manager secret with username and password "
            f"(or pass -p validate_data=false)"
        )

    def _conninfo(self, ctx: RunContext, identifier: str, endpoint: dict[str, Any], secret: str) -> str:
        host, port = address_for(identifier, endpoint)
        credentials = read_credentials(ctx.aws.client("secretsmanager"), secret)
        info = conninfo(host, port, self.component.database, credentials)
        reachable(info, identifier, host, port)
        return info

    def _check_data_access(self, ctx: RunContext, source: dict[str, Any]) -> dict[str, Any]:
        """Before anything is restored: the data checks can reach the source and log in."""
        if not self.checks_data:
            return {}
        secret = self._data_secret(source)
        endpoint = (
            source["Endpoint"]
            if not self.aurora
            else {"Address": source["Endpoint"], "Port": source.get("Port")}
        )
        found = committed_up_to(self._conninfo(ctx, self.source_id, endpoint, secret), None, self.tables)
        commits = [state.latest_commit for state in found.values() if state.latest_commit]
        # The source's last commit: what the RPO is measured against (the data a restore loses).
        return {"data_secret": secret, "last_commit": max(commits).isoformat() if commits else None}

    def _validate_data(self, ctx: RunContext) -> dict[str, Any]:
        if not self.checks_data:
            return {
                "data_checks": "skipped (-p validate_data=false)" if self.tables else "none in the inventory"
            }
        secret = ctx.output("check-source", "data_secret")
        source = self._conninfo(ctx, self.source_id, ctx.output("check-source", "endpoint"), secret)
        restored_id = ctx.output("restore", "restored")
        restored = self._conninfo(ctx, restored_id, ctx.output("wait-available", "endpoint"), secret)
        return verify_restore(source, restored, self.params.target_time, self.tables)

    def check_target(self, ctx: RunContext) -> dict[str, Any]:
        target = self.params.target_time
        earliest = datetime.fromisoformat(ctx.output("check-source", "earliest"))
        latest = datetime.fromisoformat(ctx.output("check-source", "latest_restorable"))
        if not earliest <= target <= latest:
            raise BadInput(
                f"--param target_time: {target.isoformat()} is outside the restorable window "
                f"[{earliest.isoformat()}, {latest.isoformat()}]"
            )
        identifier = self.target_identifier()
        if self._exists(ctx, identifier) is not None:
            raise BadInput(f"--param target_identifier: {identifier!r} exists already; choose another")
        return {"target_identifier": identifier}

    def check_alarms(self, ctx: RunContext) -> dict[str, Any]:
        return refuse_if_firing(alarm_prefix(self.env, self.params.component), self.cloudwatch(ctx))

    # --- restore ------------------------------------------------------------------------
    def _tags(self, ctx: RunContext, captured: list[dict[str, str]]) -> list[dict[str, str]]:
        tags = [t for t in captured if t["Key"] != RUN_TAG]
        tags += [{"Key": k, "Value": v} for k, v in self.env.ownership_tags().items()]
        return [*tags, {"Key": RUN_TAG, "Value": ctx.run_id}]

    def _restore_cluster(self, ctx: RunContext, identifier: str) -> dict[str, Any]:
        rds = self._rds(ctx)
        settings = dict(ctx.output("check-source", "settings"))
        tags = self._tags(ctx, settings.pop("Tags", []))
        if self._describe_cluster(ctx, identifier) is None:
            rds.restore_db_cluster_to_point_in_time(
                SourceDBClusterIdentifier=self.source_id,
                DBClusterIdentifier=identifier,
                RestoreToTime=self.params.target_time,
                Tags=tags,
                **settings,
            )
        # A restored Aurora cluster has no instance: create its writer with the source's class.
        if self._describe(ctx, f"{identifier}-1") is None:
            rds.create_db_instance(
                DBInstanceIdentifier=f"{identifier}-1",
                DBClusterIdentifier=identifier,
                Engine=self.component.engine,
                DBInstanceClass=ctx.output("check-source", "writer_class"),
                Tags=tags,
            )
        return {"restored": identifier, "writer": f"{identifier}-1"}

    def restore(self, ctx: RunContext) -> dict[str, Any]:
        identifier = ctx.output("check-target", "target_identifier")
        # Before the first call: a restore that stops midway (an Aurora writer refused after
        # its cluster was made, a SIGTERM before the journal says so) is still rolled back.
        ctx.note(restored=identifier, **({"writer": f"{identifier}-1"} if self.aurora else {}))
        if self.aurora:
            return self._restore_cluster(ctx, identifier)
        existing = self._describe(ctx, identifier)
        if existing is not None:  # restored before a crash: ours if it carries our run id
            if not created_by(existing, ctx.run_id):
                raise OpsError(f"{identifier} exists and was not restored by run {ctx.run_id}")
            return {"restored": identifier}
        settings = dict(ctx.output("check-source", "settings"))
        tags = self._tags(ctx, settings.pop("Tags", []))
        self._rds(ctx).restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=self.source_id,
            TargetDBInstanceIdentifier=identifier,
            RestoreTime=self.params.target_time,
            Tags=tags,
            **settings,
        )
        return {"restored": identifier}

    def drop_restored(self, ctx: RunContext) -> dict[str, Any]:
        identifier = ctx.output("restore", "restored")
        serving = self.still_serving(ctx)
        if serving:  # the application may be writing to it: deleting it would lose that
            raise OpsError(
                f"{serving} still names {identifier}: not deleting it before the cutover is undone"
            )
        # Once the run cut over, the application may have written to the restored database:
        # it goes with a final snapshot, so that nothing it took is lost.
        final = final_snapshot(identifier) if "cutover" in ctx.outputs else None
        kept = {"final_snapshot": final} if final else {}  # journaled with the rollback
        if self.aurora:
            self._drop_cluster(ctx, identifier, final)
            return kept
        instance = self._describe(ctx, identifier)
        if not created_by(instance, ctx.run_id):
            return {}  # never delete what this run did not create
        if instance.get("DeletionProtection"):
            self._rds(ctx).modify_db_instance(
                DBInstanceIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True
            )
        self._rds(ctx).delete_db_instance(
            DBInstanceIdentifier=identifier,
            **({"FinalDBSnapshotIdentifier": final} if final else {"SkipFinalSnapshot": True}),
            DeleteAutomatedBackups=True,
        )
        return kept

    def _drop_cluster(self, ctx: RunContext, identifier: str, final: str | None) -> None:
        cluster = self._describe_cluster(ctx, identifier)
        if not created_by(cluster, ctx.run_id):
            return  # never delete what this run did not create
        rds = self._rds(ctx)
        if self._describe(ctx, f"{identifier}-1") is not None:
            rds.delete_db_instance(DBInstanceIdentifier=f"{identifier}-1", SkipFinalSnapshot=True)
        if cluster.get("DeletionProtection"):
            rds.modify_db_cluster(
                DBClusterIdentifier=identifier, DeletionProtection=False, ApplyImmediately=True
            )
        rds.delete_db_cluster(
            DBClusterIdentifier=identifier,
            **({"FinalDBSnapshotIdentifier": final} if final else {"SkipFinalSnapshot": True}),
        )

    def wait_available(self, ctx: RunContext) -> dict[str, Any]:
        identifier = ctx.output("restore", "restored")
        if self.aurora:
            wait_for_instance(ctx, ctx.output("restore", "writer"), operation="restore")
            cluster = self._describe_cluster(ctx, identifier)
            assert cluster is not None
            endpoint = {"Address": cluster["Endpoint"], "Port": cluster.get("Port", 5432)}
            return {"endpoint": endpoint, "available_at": datetime.now(UTC).isoformat()}
        instance = wait_for_instance(ctx, identifier, operation="restore")
        return {"endpoint": instance["Endpoint"], "available_at": datetime.now(UTC).isoformat()}

    def validate(self, ctx: RunContext) -> dict[str, Any]:
        """Every captured setting is on the restored instance, then the inventory's data
        checks: the restored rows are exactly the source's committed up to the target."""
        expected = dict(ctx.output("check-source", "settings"))
        restored = self._exists(ctx, ctx.output("restore", "restored"))
        assert restored is not None
        found = capture_cluster(restored) if self.aurora else capture(restored)
        # The run tag is this run's own, not a setting carried over from the source.
        expected_tags = {t["Key"]: t["Value"] for t in expected.pop("Tags", []) if t["Key"] != RUN_TAG}
        found_tags = {t["Key"]: t["Value"] for t in found.pop("Tags", [])}
        problems = [
            f"{k}: {found.get(k)!r}, source has {v!r}" for k, v in expected.items() if found.get(k) != v
        ]
        problems += [f"tag {k}: missing" for k, v in expected_tags.items() if found_tags.get(k) != v]
        if problems:
            raise OpsError("the restored instance lacks settings of the source: " + "; ".join(problems))
        data = self._validate_data(ctx)
        return {
            "settings_checked": [*sorted(expected), "Tags"],
            **data,
            # The last restored commit when the data was checked, else the target time.
            "recovery_point": data.get("recovery_point") or self.params.target_time.isoformat(),
            "validated_at": datetime.now(UTC).isoformat(),
        }
