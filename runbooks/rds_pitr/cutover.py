"""The cutover strategies of rds-pitr on AWS: the endpoint SSM parameter, the database's
Secrets Manager secret, a Route 53 CNAME, or a rename swap; each with its undo and its
post-check."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeGuard

from ops.contracts import DatabaseEndpoint, endpoint_parameter
from ops.errors import OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.runbook.model import RunContext
from runbooks.common.rds_wait import wait_for_instance

RUN_TAG = "platform-ops:run-id"


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

    # --- cutover ------------------------------------------------------------------------
    @property
    def _parameter(self) -> str:
        return endpoint_parameter(self.env, self.params.component)

    def cutover(self, ctx: RunContext) -> dict[str, Any]:
        restored = ctx.output("restore", "restored")
        if self.params.cutover_mode == "rename":
            old = f"{self.source_id}-old-{ctx.run_id[-4:]}"
            self._rename(ctx, self.source_id, old)
            self._rename(ctx, restored, self.source_id)
            return {"mode": "rename", "old_identifier": old, "cutover_at": datetime.now(UTC).isoformat()}
        if self.params.cutover_mode == "route53":
            return self._cutover_dns(ctx)
        if self.params.cutover_mode == "secret":
            return self._cutover_secret(ctx)
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

    def _zone_id(self, ctx: RunContext) -> str:
        assert self.component.dns is not None
        zone = self.component.dns.zone.rstrip(".") + "."
        zones = ctx.aws.client("route53").list_hosted_zones_by_name(DNSName=zone, MaxItems="1")["HostedZones"]
        if not zones or zones[0]["Name"] != zone:
            raise OpsError(f"no Route 53 hosted zone {zone}")
        return str(zones[0]["Id"])

    def _cname(self, ctx: RunContext, zone_id: str) -> str | None:
        assert self.component.dns is not None
        record = self.component.dns.record.rstrip(".") + "."
        found = ctx.aws.client("route53").list_resource_record_sets(
            HostedZoneId=zone_id, StartRecordName=record, StartRecordType="CNAME", MaxItems="1"
        )["ResourceRecordSets"]
        if found and found[0]["Name"] == record and found[0]["Type"] == "CNAME":
            return str(found[0]["ResourceRecords"][0]["Value"])
        return None

    def _set_cname(self, ctx: RunContext, zone_id: str, value: str) -> None:
        assert self.component.dns is not None
        record = {
            "Name": self.component.dns.record,
            "Type": "CNAME",
            "TTL": 30,
            "ResourceRecords": [{"Value": value}],
        }
        ctx.aws.client("route53").change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
        )

    def _cutover_dns(self, ctx: RunContext) -> dict[str, Any]:
        zone_id = self._zone_id(ctx)
        previous = self._cname(ctx, zone_id)
        target = ctx.output("wait-available", "endpoint")["Address"]
        self._set_cname(ctx, zone_id, target)
        return {
            "mode": "route53",
            "zone_id": zone_id,
            "previous": previous,
            "endpoint": target,
            "cutover_at": datetime.now(UTC).isoformat(),
        }

    @property
    def _secret(self) -> str:
        return self.env.parameter_name(self.params.component, "credentials").lstrip("/")

    def _cutover_secret(self, ctx: RunContext) -> dict[str, Any]:
        """Rewrite host and port in the database's secret, keeping every other field (the
        password among them) as it is; neither value is journaled or printed."""
        secrets = ctx.aws.client("secretsmanager")
        current = json.loads(secrets.get_secret_value(SecretId=self._secret)["SecretString"])
        endpoint = ctx.output("wait-available", "endpoint")
        previous = {"host": current.get("host"), "port": current.get("port")}
        updated = {**current, "host": endpoint["Address"], "port": endpoint["Port"]}
        secrets.put_secret_value(SecretId=self._secret, SecretString=json.dumps(updated))
        return {
            "mode": "secret",
            "previous": previous,
            "endpoint": endpoint["Address"],
            "cutover_at": datetime.now(UTC).isoformat(),
        }

    def undo_cutover(self, ctx: RunContext) -> None:
        done = ctx.outputs["cutover"]
        if done["mode"] == "secret":
            secrets = ctx.aws.client("secretsmanager")
            current = json.loads(secrets.get_secret_value(SecretId=self._secret)["SecretString"])
            secrets.put_secret_value(
                SecretId=self._secret, SecretString=json.dumps({**current, **done["previous"]})
            )
            return
        if done["mode"] == "route53":
            if done["previous"]:
                self._set_cname(ctx, done["zone_id"], done["previous"])
            return
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
        wait_for_instance(ctx, new)

    def stop_old(self, ctx: RunContext) -> dict[str, Any]:
        """The cleanup policy `stop`: the old database stops (it can be started again)."""
        old = ctx.outputs["cutover"].get("old_identifier", self.source_id)
        if self.aurora:
            self._rds(ctx).stop_db_cluster(DBClusterIdentifier=old)
        else:
            self._rds(ctx).stop_db_instance(DBInstanceIdentifier=old)
        return {"stopped": old}

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        if self.params.cutover_mode == "secret":
            secret = ctx.aws.client("secretsmanager").get_secret_value(SecretId=self._secret)["SecretString"]
            if json.loads(secret).get("host") != ctx.output("cutover", "endpoint"):
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
