"""The cutover strategies of rds-pitr on AWS: the endpoint SSM parameter, the database's
Secrets Manager secret, a Route 53 CNAME, or a rename swap; each with its undo and its
post-check.

Each strategy notes what it will change before changing it (`ctx.note`): if the run stops
inside the cutover, `undo_cutover` works from the note alone, and a resumed cutover takes
the value to go back to from the note, not from a world it may have switched already."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeGuard

from botocore.exceptions import ClientError

from ops.contracts import DatabaseEndpoint, endpoint_parameter
from ops.errors import OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.runbook.model import RunContext
from runbooks.common.rds_wait import wait_for_cluster, wait_for_instance

RUN_TAG = "platform-ops:run-id"
# The CNAME's TTL while it names the restored database: clients follow a move back soon.
CUTOVER_TTL = 30
ENDPOINT_FIELDS = ("host", "port")  # what a secret cutover changes; never the password


def created_by(resource: dict[str, Any] | None, run_id: str) -> TypeGuard[dict[str, Any]]:
    """The resource exists and carries this run's tag: the run may change or delete it."""
    return resource is not None and {"Key": RUN_TAG, "Value": run_id} in resource.get("TagList", [])


class AwsCutover:
    """Mixed into the AWS steps, which provide the source, the clients and describes."""

    env: Environment
    params: Any
    component: Rds
    source_id: str
    aurora: bool

    def _rds(self, ctx: RunContext) -> Any:
        raise NotImplementedError

    def _describe(self, ctx: RunContext, identifier: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def _describe_cluster(self, ctx: RunContext, identifier: str) -> dict[str, Any] | None:
        raise NotImplementedError

    # --- cutover ------------------------------------------------------------------------
    # The step whose output `endpoint` (RDS's Endpoint: Address, Port) the cutover moves to.
    endpoint_step = "wait-available"

    def _new_endpoint(self, ctx: RunContext) -> dict[str, Any]:
        endpoint: dict[str, Any] = ctx.output(self.endpoint_step, "endpoint")
        return endpoint

    @property
    def _parameter(self) -> str:
        return endpoint_parameter(self.env, self.params.component)

    def cutover(self, ctx: RunContext) -> dict[str, Any]:
        mode = self.params.cutover_mode
        if mode == "rename":
            done = self._cutover_rename(ctx)
        elif mode == "route53":
            done = self._cutover_dns(ctx)
        elif mode == "secret":
            done = self._cutover_secret(ctx)
        else:
            done = self._cutover_parameter(ctx)
        ctx.checkpoint("switched")  # switched, not journaled yet
        return {**done, "cutover_at": datetime.now(UTC).isoformat()}

    def _cutover_parameter(self, ctx: RunContext) -> dict[str, Any]:
        ssm = ctx.aws.client("ssm")
        previous = ctx.noted("previous")
        if previous is None:  # the first attempt: the value now is the one to go back to
            previous = ssm.get_parameter(Name=self._parameter)["Parameter"]["Value"]
        endpoint = self._new_endpoint(ctx)
        current = DatabaseEndpoint.from_json(previous)
        value = DatabaseEndpoint(
            endpoint["Address"], endpoint["Port"], current.dbname, current.user
        ).to_json()
        done = {"mode": "parameter", "previous": previous, "endpoint": value}
        ctx.note(**done)
        ssm.put_parameter(Name=self._parameter, Value=value, Type="String", Overwrite=True)
        return done

    def _record(self, ctx: RunContext, zone_id: str) -> dict[str, Any] | None:
        """The CNAME record set of the inventory's DNS name, or None."""
        assert self.component.dns is not None
        record = self.component.dns.record.rstrip(".") + "."
        found = ctx.aws.client("route53").list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=record, StartRecordType="CNAME", MaxItems="1"
        )["ResourceRecordSets"]
        if found and found[0]["Name"] == record and found[0]["Type"] == "CNAME":
            return found[0]  # type: ignore[no-any-return]
        return None

    def _zone_id(self, ctx: RunContext) -> str:
        assert self.component.dns is not None
        zone = self.component.dns.zone.rstrip(".") + "."
        zones = ctx.aws.client("route53").list_hosted_zones_by_name(DNSName=zone, MaxItems="1")["HostedZones"]
        if not zones or zones[0]["Name"] != zone:
            raise OpsError(f"no Route 53 hosted zone {zone}")
        return str(zones[0]["Id"])

    def _cname(self, ctx: RunContext, zone_id: str) -> str | None:
        found = self._record(ctx, zone_id)
        return None if found is None else str(found["ResourceRecords"][0]["Value"])

    def _change_cname(self, ctx: RunContext, zone_id: str, action: str, record: dict[str, Any]) -> None:
        ctx.aws.client("route53").change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": record}]}
        )

    def _set_cname(self, ctx: RunContext, zone_id: str, value: str, ttl: int = CUTOVER_TTL) -> None:
        assert self.component.dns is not None
        record = {
            "Name": self.component.dns.record,
            "Type": "CNAME",
            "TTL": ttl,
            "ResourceRecords": [{"Value": value}],
        }
        self._change_cname(ctx, zone_id, "UPSERT", record)

    def _cutover_dns(self, ctx: RunContext) -> dict[str, Any]:
        if ctx.noted("mode"):  # a resumed attempt: the CNAME may point at the target already
            zone_id, previous, ttl = ctx.noted("zone_id"), ctx.noted("previous"), ctx.noted("ttl")
        else:
            zone_id = self._zone_id(ctx)
            found = self._record(ctx, zone_id)  # None: no record before, the undo deletes it
            previous = None if found is None else str(found["ResourceRecords"][0]["Value"])
            ttl = None if found is None else found.get("TTL")
        target = self._new_endpoint(ctx)["Address"]
        done = {"mode": "route53", "zone_id": zone_id, "previous": previous, "ttl": ttl, "endpoint": target}
        ctx.note(**done)
        self._set_cname(ctx, zone_id, target)
        return done

    @property
    def _secret(self) -> str:
        return self.env.parameter_name(self.params.component, "credentials").lstrip("/")

    def _read_secret(self, ctx: RunContext) -> dict[str, Any]:
        text = ctx.aws.client("secretsmanager").get_secret_value(SecretId=self._secret)["SecretString"]
        return json.loads(text)  # type: ignore[no-any-return]

    def _cutover_secret(self, ctx: RunContext) -> dict[str, Any]:
        """Rewrite host and port in the database's secret, keeping every other field (the
        password among them) as it is; only host and port are journaled."""
        current = self._read_secret(ctx)
        endpoint = self._new_endpoint(ctx)
        previous = ctx.noted("previous") or {key: current.get(key) for key in ENDPOINT_FIELDS}
        done = {"mode": "secret", "previous": previous, "endpoint": endpoint["Address"]}
        ctx.note(**done)
        updated = {**current, "host": endpoint["Address"], "port": endpoint["Port"]}
        ctx.aws.client("secretsmanager").put_secret_value(
            SecretId=self._secret, SecretString=json.dumps(updated)
        )
        return done

    def _cutover_rename(self, ctx: RunContext) -> dict[str, Any]:
        """The source moves aside to `<id>-old-<run>`, the restored instance takes its name.
        Each rename is done only if the world still needs it (a resumed attempt)."""
        restored = ctx.output("restore", "restored")
        old = ctx.noted("old_identifier") or f"{self.source_id}-old-{ctx.run_id[-4:]}"
        done = {"mode": "rename", "old_identifier": old, "restored": restored}
        ctx.note(**done)
        source = self._describe(ctx, self.source_id)
        if source is not None and not created_by(source, ctx.run_id) and self._describe(ctx, old) is None:
            self._rename(ctx, self.source_id, old)
        if self._describe(ctx, restored) is not None:
            self._rename(ctx, restored, self.source_id)
        return done

    # --- undo ---------------------------------------------------------------------------
    def undo_cutover(self, ctx: RunContext) -> None:
        """Put the endpoint back from what the cutover noted (it may have stopped midway);
        safe to run again; reads back that the change is undone."""
        done = ctx.outputs["cutover"]
        mode = done.get("mode", self.params.cutover_mode)
        if mode == "secret":
            self._undo_secret(ctx, done["previous"])
        elif mode == "route53":
            self._undo_dns(ctx, done["zone_id"], done["previous"], done["endpoint"], done.get("ttl"))
        elif mode == "rename":
            restored = done.get("restored") or ctx.output("restore", "restored")
            self._undo_rename(ctx, done["old_identifier"], restored)
        else:
            self._undo_parameter(ctx, done["previous"])

    def _undo_parameter(self, ctx: RunContext, previous: str) -> None:
        ssm = ctx.aws.client("ssm")
        ssm.put_parameter(Name=self._parameter, Value=previous, Type="String", Overwrite=True)
        if ssm.get_parameter(Name=self._parameter)["Parameter"]["Value"] != previous:
            raise OpsError(f"the endpoint parameter {self._parameter} did not take its previous value back")

    def _undo_secret(self, ctx: RunContext, previous: dict[str, Any]) -> None:
        current = self._read_secret(ctx)
        # Only host and port go back; a password rotated meanwhile is kept.
        restored = {k: v for k, v in current.items() if k not in ENDPOINT_FIELDS}
        restored.update({k: v for k, v in previous.items() if v is not None})
        if restored != current:
            ctx.aws.client("secretsmanager").put_secret_value(
                SecretId=self._secret, SecretString=json.dumps(restored)
            )
        back = self._read_secret(ctx)
        if any(back.get(key) != previous.get(key) for key in ENDPOINT_FIELDS):
            raise OpsError(f"the secret {self._secret} did not take its previous host and port back")

    def _undo_dns(
        self, ctx: RunContext, zone_id: str, previous: str | None, target: str, ttl: int | None
    ) -> None:
        if previous:  # back with the TTL it had (a run journaled before TTLs were noted: ours)
            self._set_cname(ctx, zone_id, previous, ttl or CUTOVER_TTL)
        else:  # there was no record: delete the one the cutover made, if it is still ours
            record = self._record(ctx, zone_id)
            if record is not None and record["ResourceRecords"] == [{"Value": target}]:
                self._change_cname(ctx, zone_id, "DELETE", record)
        value = self._cname(ctx, zone_id)
        if value != previous:
            raise OpsError(f"the CNAME points at {value}, not back at {previous}")

    def _undo_rename(self, ctx: RunContext, old: str, restored: str) -> None:
        serving = self._describe(ctx, self.source_id)
        if created_by(serving, ctx.run_id) and self._describe(ctx, restored) is None:
            self._rename(ctx, self.source_id, restored)
        if self._describe(ctx, old) is not None and self._describe(ctx, self.source_id) is None:
            self._rename(ctx, old, self.source_id)
        back = self._describe(ctx, self.source_id)
        if back is None or created_by(back, ctx.run_id) or self._describe(ctx, old) is not None:
            raise OpsError(f"{self.source_id} is not the source database again after undoing the rename swap")

    def _rename(self, ctx: RunContext, old: str, new: str) -> None:
        before = self._describe(ctx, old)
        self._rds(ctx).modify_db_instance(
            DBInstanceIdentifier=old, NewDBInstanceIdentifier=new, ApplyImmediately=True
        )
        # Back to the state it had: a stopped instance (where a rename is allowed) stays stopped.
        stopped = before is not None and before["DBInstanceStatus"] == "stopped"
        wait_for_instance(ctx, new, ("stopped",) if stopped else ("available",), operation="rename")

    def still_serving(self, ctx: RunContext) -> str | None:
        """What of the cutover still names the restored database (the run's cutover was
        noted or done and not undone before), or None: the rollback of the restore must
        not delete the database the application is pointed at."""
        done = ctx.outputs.get("cutover")
        if not done:
            return None
        mode = done.get("mode", self.params.cutover_mode)
        try:
            if mode == "secret":
                named = self._read_secret(ctx).get("host") == done.get("endpoint")
                return f"the secret {self._secret}" if named else None
            if mode == "route53":
                assert self.component.dns is not None  # route53 mode needs it (AwsSteps checks)
                named = self._cname(ctx, done["zone_id"]) == done.get("endpoint")
                return f"the CNAME {self.component.dns.record}" if named else None
            if mode == "rename":
                named = created_by(self._describe(ctx, self.source_id), ctx.run_id)
                return f"the name {self.source_id}" if named else None
            value = ctx.aws.client("ssm").get_parameter(Name=self._parameter)["Parameter"]["Value"]
            return f"the endpoint parameter {self._parameter}" if value == done.get("endpoint") else None
        except ClientError as error:
            raise OpsError(f"cannot tell whether the {mode} cutover is undone: {error}") from None

    # --- the old database ---------------------------------------------------------------
    def stop_old(self, ctx: RunContext) -> dict[str, Any]:
        """The cleanup policy `stop`: the old database stops (it can be started again)."""
        old = ctx.outputs["cutover"].get("old_identifier", self.source_id)
        ctx.note(stopped=old)
        if self.aurora:
            cluster = self._describe_cluster(ctx, old)
            if cluster is None or cluster["Status"] not in ("stopping", "stopped"):
                self._rds(ctx).stop_db_cluster(DBClusterIdentifier=old)
        else:
            instance = self._describe(ctx, old)
            if instance is None or instance["DBInstanceStatus"] not in ("stopping", "stopped"):
                self._rds(ctx).stop_db_instance(DBInstanceIdentifier=old)
        return {"stopped": old}

    def start_old(self, ctx: RunContext) -> None:
        """Undo of stop-old: the old database runs again (started if stopped, waited for
        if stopping), and is available before the cutover's undo renames or points at it."""
        old = ctx.output("stop-old", "stopped")
        rds = self._rds(ctx)
        if self.aurora:
            cluster = self._describe_cluster(ctx, old)
            if cluster is None:
                raise OpsError(f"the old cluster {old} is gone: it cannot be started again")
            if cluster["Status"] == "stopping":
                cluster = wait_for_cluster(ctx, old, ("stopped",), operation="stop")
            if cluster["Status"] == "stopped":
                rds.start_db_cluster(DBClusterIdentifier=old)
            wait_for_cluster(ctx, old, operation="start")
            return
        instance = self._describe(ctx, old)
        if instance is None:
            raise OpsError(f"the old database {old} is gone: it cannot be started again")
        if instance["DBInstanceStatus"] == "stopping":
            instance = wait_for_instance(ctx, old, ("stopped",), operation="stop")
        if instance["DBInstanceStatus"] == "stopped":
            rds.start_db_instance(DBInstanceIdentifier=old)
        wait_for_instance(ctx, old, operation="start")

    # --- post-check ---------------------------------------------------------------------
    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        if self.params.cutover_mode == "secret":
            if self._read_secret(ctx).get("host") != ctx.output("cutover", "endpoint"):
                raise OpsError("the database secret does not name the restored database")
            return {"serving": ctx.output("restore", "restored")}
        if self.params.cutover_mode == "route53":
            value = self._cname(ctx, ctx.output("cutover", "zone_id"))
            if value != ctx.output("cutover", "endpoint"):
                raise OpsError(f"the CNAME points at {value}, not at the restored database")
            return {"serving": ctx.output("restore", "restored")}
        if self.params.cutover_mode == "rename":
            instance = self._describe(ctx, self.source_id)
            if not created_by(instance, ctx.run_id):
                raise OpsError(f"{self.source_id} is not the restored instance after the swap")
            return {"serving": self.source_id}
        value = ctx.aws.client("ssm").get_parameter(Name=self._parameter)["Parameter"]["Value"]
        if value != ctx.output("cutover", "endpoint"):
            raise OpsError("the endpoint parameter does not name the restored instance")
        return {"serving": ctx.output("restore", "restored")}
