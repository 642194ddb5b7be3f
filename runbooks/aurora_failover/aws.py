"""aurora-failover's AWS provider, after Aurora's own operations: FailoverDBCluster (mode
writer: a reader of the cluster becomes its writer), SwitchoverGlobalCluster (mode switchover:
the global database's secondary cluster becomes the primary, nothing lost) and
FailoverGlobalCluster with AllowDataLoss (mode failover: the primary region is lost). The
cutover reuses rds-pitr's strategies (runbooks/rds_pitr/cutover.py).

Regions: the global cluster's calls are made in the region of the cluster they promote (the
secondary's for the move and its wait, the old primary's for the switch back): that region
answers in every case, the lost primary region of a failover never has to. A failover makes
no call in the primary region at all (its alarms are read in the secondary's, see
`cloudwatch`), except the cutover's, which lives with the environment.

Every step and undo is safe to run again: what fail-over changes is noted first, and a
resumed attempt that finds the move requested or made already does not request it twice.
The calls are exactly those runbooks/aurora_failover/aws_plan.py declares (the IAM policy)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import BadInput, OpsError
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.runbook.model import RunContext
from ops.runbook.stops import alarm_prefix, refuse_if_firing
from ops.runbook.waits import WaitHistory
from runbooks.aurora_failover.steps import AuroraFailoverParams
from runbooks.common.cloudwatch import metric_query, read
from runbooks.common.rds_wait import Learning, poll_status
from runbooks.rds_pitr.cutover import AwsCutover

RDS_NAMESPACE = "AWS/RDS"
# A secondary's lag behind the primary, in milliseconds (Aurora PostgreSQL global databases).
RPO_LAG = "AuroraGlobalDBRPOLag"
SWITCHOVER_LOOK_BACK = timedelta(minutes=5)  # a switchover's lag: the worst of the last minutes
FAILOVER_LOOK_BACK = timedelta(hours=3)  # a failover's: the last point before the loss
# A global cluster's FailoverState while a switchover or failover is under way.
MOVING = ("pending", "switching-over", "failing-over", "cancelling")
READY = "ready"  # what a poll's probe says once its condition holds (see `_poll`)
Probe = Callable[[str], dict[str, Any]]


def writer_of(cluster: dict[str, Any]) -> str | None:
    """The cluster's writer instance, from its members."""
    return next(
        (m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")),
        None,
    )


def global_writer(found: dict[str, Any]) -> str | None:
    """The ARN of the global cluster's primary (writer) cluster."""
    return next((m["DBClusterArn"] for m in found.get("GlobalClusterMembers", []) if m.get("IsWriter")), None)


def moving_to(found: dict[str, Any]) -> str | None:
    """The ARN a switchover or failover under way promotes, or None."""
    state = found.get("FailoverState") or {}
    return state.get("ToDbClusterArn") if state.get("Status") in MOVING else None


def settled(found: dict[str, Any]) -> bool:
    """The global cluster is available and no switchover or failover is under way."""
    return found.get("Status") == "available" and moving_to(found) is None


def cluster_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class ProbeRefused(Exception):
    """A poll's probe refused (an OpsError of its own), told apart from the poll's timeout."""

    def __init__(self, error: OpsError) -> None:
        super().__init__(str(error))
        self.error = error


class AwsSteps(AwsCutover):
    """The steps of aurora-failover on AWS, and their undos."""

    # The cutover is rds-pitr's strategies, pointed at the writer endpoint of the cluster that
    # now writes (wait-writer's `endpoint`): the parameter's host and port (its dbname and user
    # kept), the secret's host and port, or the CNAME. In mode writer that is the cluster's
    # own endpoint, which follows its writer; in the global modes, the secondary cluster's.
    endpoint_step = "wait-writer"

    params: AuroraFailoverParams
    # Injected by tests (never patched globally): monotonic time, sleeping, the wall clock.
    clock: Callable[[], float] = staticmethod(time.monotonic)
    sleep: Callable[[float], None] = staticmethod(time.sleep)
    now: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))

    def __init__(self, env: Environment, params: AuroraFailoverParams, component: Rds) -> None:
        self.env = env
        self.params = params
        self.component = component
        self.mode = params.mode
        name = params.component
        if component.engine != "aurora-postgresql":
            raise BadInput(
                f"--param component: {name} is RDS PostgreSQL (engine {component.engine}); aurora-failover "
                f"needs an Aurora cluster (components.{name}.engine: aurora-postgresql)"
            )
        if params.cutover_mode == "route53" and component.dns is None:
            raise BadInput(f"--param cutover_mode: route53 needs components.{name}.dns in the inventory")
        self.aurora = True
        self.cluster_id = env.resource_name(component.identifier)
        self.source_id = self.cluster_id  # the cutover strategies' name for the database
        database = component.global_cluster
        if params.mode != "writer" and database is None:
            raise BadInput(
                f"--param mode: {params.mode} moves the writer to an Aurora global database's secondary, "
                f"and components.{name}.global_cluster is not set (identifier, secondary_region, "
                "secondary_identifier); set it, or use mode writer"
            )
        self.global_id = env.resource_name(database.identifier) if database else ""
        self.secondary_id = env.resource_name(database.secondary_identifier) if database else ""
        self.secondary_region = database.secondary_region if database else env.region

    # --- clients and reads --------------------------------------------------------------
    def _rds(self, ctx: RunContext, region: str | None = None) -> Any:
        return ctx.aws.client("rds", region=region)

    def cloudwatch(self, ctx: RunContext) -> Any:
        """Where the database's alarms are read (the stop condition and check-alarms): the
        environment's region; for a failover the secondary's, where the writer goes. The
        lost primary's alarms fire by nature then, and its region may not answer at all."""
        region = self.secondary_region if self.mode == "failover" else None
        return ctx.aws.client("cloudwatch", region=region)

    def _describe(self, ctx: RunContext, identifier: str, region: str | None = None) -> dict[str, Any] | None:
        try:
            found = self._rds(ctx, region).describe_db_instances(DBInstanceIdentifier=identifier)
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBInstanceNotFound":
                return None
            raise
        return found["DBInstances"][0]  # type: ignore[no-any-return]

    def _describe_cluster(
        self, ctx: RunContext, identifier: str, region: str | None = None
    ) -> dict[str, Any] | None:
        try:
            found = self._rds(ctx, region).describe_db_clusters(DBClusterIdentifier=identifier)
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBClusterNotFoundFault":
                return None
            raise
        return found["DBClusters"][0]  # type: ignore[no-any-return]

    def _available_cluster(
        self, ctx: RunContext, identifier: str, region: str | None = None
    ) -> dict[str, Any]:
        cluster = self._describe_cluster(ctx, identifier, region)
        where = f" in {region}" if region else ""
        if cluster is None:
            raise OpsError(f"the cluster {identifier} does not exist{where}")
        if cluster["Status"] != "available":
            raise OpsError(f"the cluster {identifier} is {cluster['Status']}; it must be available")
        return cluster

    def _first_available(
        self, ctx: RunContext, cluster: str, instances: list[str], region: str | None = None
    ) -> dict[str, Any]:
        """The first of `instances` that is available (one describe each, in order, until
        one is): the instance a move can promote."""
        seen = []
        for identifier in instances:
            instance = self._describe(ctx, identifier, region)
            status = "gone" if instance is None else instance["DBInstanceStatus"]
            if instance is not None and status == "available":
                return instance
            seen.append(f"{identifier} {status}")
        raise OpsError(
            f"no instance of {cluster} that could become the writer is available ({', '.join(seen)}): "
            "wait until one is, then run again"
        )

    def _global(self, ctx: RunContext, region: str) -> dict[str, Any]:
        try:
            answer = self._rds(ctx, region).describe_global_clusters(GlobalClusterIdentifier=self.global_id)
        except ClientError as error:
            if error.response["Error"]["Code"] == "GlobalClusterNotFoundFault":
                raise OpsError(
                    f"the global cluster {self.global_id} does not exist (asked in {region}); see "
                    f"components.{self.params.component}.global_cluster"
                ) from None
            raise
        return answer["GlobalClusters"][0]  # type: ignore[no-any-return]

    def _poll(self, ctx: RunContext, kind: str | None, probe: Probe, failure: Callable[[], str]) -> None:
        """Probe until it says READY, within ready_timeout_seconds, as often as earlier
        waits of `kind` on this size of database say (ops/runbook/waits.py; no `kind`: a
        geometric poll, 1 s, x1.5, at most 10 s). Past the timeout, `failure()` says what
        did not happen (with what was seen last); a refusal of the probe's own goes as it is."""
        ctx.checkpoint("waiting")
        learning = Learning(WaitHistory.of(ctx.state), kind) if kind else None
        timeout = self.params.ready_timeout_seconds

        def guarded(identifier: str) -> dict[str, Any]:
            try:
                return probe(identifier)
            except OpsError as error:  # not the poll's timeout: kept apart from it
                raise ProbeRefused(error) from error

        try:
            poll_status(
                guarded, self.cluster_id, (READY,), timeout, self.clock, self.sleep, learning, ctx.watch
            )
        except ProbeRefused as refused:
            raise refused.error from None
        except OpsError:
            raise OpsError(
                f"{failure()} within {timeout:.0f} s (-p ready_timeout_seconds); see the cluster's events "
                "in the RDS console"
            ) from None

    def _size(self, ctx: RunContext) -> dict[str, Any]:
        """What a learning wait's size is taken from (runbooks/common/rds_wait.size_of)."""
        return {
            "Engine": self.component.engine,
            "DBInstanceClass": ctx.output("check-cluster", "instance_class"),
        }

    # --- checks -------------------------------------------------------------------------
    def check_cluster(self, ctx: RunContext) -> dict[str, Any]:
        if self.mode == "writer":
            return self._check_writer_mode(ctx)
        return self._check_global(ctx)

    def _check_writer_mode(self, ctx: RunContext) -> dict[str, Any]:
        cluster = self._available_cluster(ctx, self.cluster_id)
        writer = writer_of(cluster)
        readers = sorted(
            m["DBInstanceIdentifier"]
            for m in cluster.get("DBClusterMembers", [])
            if not m.get("IsClusterWriter")
        )
        if writer is None:
            raise OpsError(f"the cluster {self.cluster_id} has no writer instance; see it in the RDS console")
        if not readers:
            raise OpsError(
                f"the cluster {self.cluster_id} has no reader to fail over to (its one instance is "
                f"{writer}): add a reader instance (components.{self.params.component}.readers), then "
                "run again"
            )
        target = self.params.target
        if target is not None and target not in readers:
            raise BadInput(
                f"--param target: {target} is not a reader of {self.cluster_id} "
                f"(readers: {', '.join(readers)})"
            )
        instance = self._first_available(ctx, self.cluster_id, [target] if target else readers)
        return {
            "cluster": self.cluster_id,
            "writer": writer,
            "readers": readers,
            "target": target,  # None: Aurora chooses, by promotion tier
            "instance_class": instance["DBInstanceClass"],
        }

    def _check_global(self, ctx: RunContext) -> dict[str, Any]:
        region = self.secondary_region
        found = self._global(ctx, region)
        moving = moving_to(found)
        if moving is not None:
            raise OpsError(
                f"the global cluster {self.global_id} is moving its writer already (to {moving}): wait "
                "until that ends, then run again"
            )
        # A failover goes on whatever the lost region makes of the global cluster's status.
        if self.mode == "switchover" and found.get("Status") != "available":
            raise OpsError(
                f"the global cluster {self.global_id} is {found.get('Status')}; it must be available"
            )
        secondary = self._available_cluster(ctx, self.secondary_id, region)
        target_arn = str(secondary["DBClusterArn"])
        members = [m["DBClusterArn"] for m in found.get("GlobalClusterMembers", [])]
        if target_arn not in members:
            raise OpsError(
                f"the cluster {self.secondary_id} ({region}) is not a member of the global cluster "
                f"{self.global_id}: add it as its secondary, then run again"
            )
        writer_arn = global_writer(found)
        if writer_arn == target_arn:
            raise OpsError(
                f"{self.secondary_id} is the writer of the global cluster {self.global_id} already: "
                "nothing to move"
            )
        if self.mode == "switchover":
            # A planned switchover starts from the inventory's primary, healthy.
            primary = self._available_cluster(ctx, self.cluster_id)
            if writer_arn != primary["DBClusterArn"]:
                raise OpsError(
                    f"the writer of the global cluster {self.global_id} is {writer_arn}, not the inventory's "
                    f"primary {self.cluster_id}: move it with the RDS console, or fix the inventory"
                )
        if not secondary.get("DBClusterMembers"):
            raise OpsError(
                f"the cluster {self.secondary_id} ({region}) has no instance to become the writer: add one, "
                "then run again"
            )
        names = [m["DBInstanceIdentifier"] for m in secondary["DBClusterMembers"]]
        instance = self._first_available(ctx, self.secondary_id, names, region)
        return {
            "global_cluster": self.global_id,
            # The old writer: the primary cluster (a failover may not see one: the region is lost).
            "writer": cluster_name(writer_arn) if writer_arn else self.cluster_id,
            "writer_arn": writer_arn,
            "target": self.secondary_id,
            "target_arn": target_arn,
            "target_region": region,
            "instance_class": instance["DBInstanceClass"],
        }

    def check_lag(self, ctx: RunContext) -> dict[str, Any]:
        """The secondary's AuroraGlobalDBRPOLag: a switchover is refused while its worst of
        the last minutes is over the RPO objective; a failover records its last point as the
        expected RPO (what the secondary had not received) and goes on."""
        end = self.now()
        if self.mode == "switchover":
            objective = self.env.spec.objectives.get(self.params.component)
            if objective is None:
                raise BadInput(
                    f"objectives.{self.params.component}.rpo: not set; a switchover is refused while the "
                    "secondary lags over it: set it in the inventory"
                )
            points = self._lag(ctx, end - SWITCHOVER_LOOK_BACK, end)
            if not points:
                raise OpsError(
                    f"the secondary {self.secondary_id} published no {RPO_LAG} in the last "
                    f"{SWITCHOVER_LOOK_BACK.seconds // 60} min ({self.secondary_region}): its lag is "
                    "unknown; see its replication in the RDS console"
                )
            lag = max(value for _, value in points)
            if lag > objective.rpo:
                raise OpsError(
                    f"the secondary {self.secondary_id} lags by {lag:g} s ({RPO_LAG}, the last "
                    f"{SWITCHOVER_LOOK_BACK.seconds // 60} min), over the RPO objective of "
                    f"{objective.rpo:g} s (objectives.{self.params.component}.rpo): wait until it catches "
                    "up, then run again"
                )
            return {"lag_seconds": lag, "objective_seconds": objective.rpo, "measured_at": iso(points[0][0])}
        points = self._lag(ctx, end - FAILOVER_LOOK_BACK, end)
        if not points:  # the loss cannot be estimated: the report says so (no RPO)
            return {"lag_seconds": None, "measured_at": None}
        at, lag = points[0]
        return {"lag_seconds": lag, "measured_at": iso(at)}

    def _lag(self, ctx: RunContext, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
        """The secondary's RPO lag points (seconds), newest first, from its own region."""
        query = metric_query(
            "lag", RDS_NAMESPACE, RPO_LAG, {"DBClusterIdentifier": self.secondary_id}, "Maximum"
        )
        cloudwatch = ctx.aws.client("cloudwatch", region=self.secondary_region)
        points = read(cloudwatch, [query], start, end)["lag"]
        return [(at, round(value / 1000, 3)) for at, value in points]  # milliseconds to seconds

    def check_alarms(self, ctx: RunContext) -> dict[str, Any]:
        return refuse_if_firing(alarm_prefix(self.env, self.params.component), self.cloudwatch(ctx))

    # --- the move -----------------------------------------------------------------------
    def fail_over(self, ctx: RunContext) -> dict[str, Any]:
        if self.mode == "writer":
            return self._fail_over_writer(ctx)
        return self._fail_over_global(ctx)

    def _fail_over_writer(self, ctx: RunContext) -> dict[str, Any]:
        old, target = ctx.output("check-cluster", "writer"), ctx.output("check-cluster", "target")
        ctx.note(cluster=self.cluster_id, old_writer=old, target=target)
        cluster = self._describe_cluster(ctx, self.cluster_id)
        if cluster is None:
            raise OpsError(f"the cluster {self.cluster_id} does not exist")
        # A resumed attempt finds its failover under way or made: a second one would move
        # the writer again (to another reader), so it is never requested twice.
        requested = writer_of(cluster) == old and cluster["Status"] != "failing-over"
        if requested:
            chosen = {"TargetDBInstanceIdentifier": target} if target else {}
            self._rds(ctx).failover_db_cluster(DBClusterIdentifier=self.cluster_id, **chosen)
        ctx.checkpoint("requested")  # requested, not journaled yet
        return {"cluster": self.cluster_id, "old_writer": old, "target": target, "requested": requested}

    def _fail_over_global(self, ctx: RunContext) -> dict[str, Any]:
        checked = ctx.outputs["check-cluster"]
        target_arn = checked["target_arn"]
        ctx.note(
            global_cluster=self.global_id,
            old_writer=checked["writer"],
            old_writer_arn=checked["writer_arn"],
            target_arn=target_arn,
        )
        found = self._global(ctx, self.secondary_region)
        requested = global_writer(found) != target_arn and moving_to(found) != target_arn
        if requested:
            rds = self._rds(ctx, self.secondary_region)
            if self.mode == "switchover":
                rds.switchover_global_cluster(
                    GlobalClusterIdentifier=self.global_id, TargetDbClusterIdentifier=target_arn
                )
            else:
                rds.failover_global_cluster(
                    GlobalClusterIdentifier=self.global_id,
                    TargetDbClusterIdentifier=target_arn,
                    AllowDataLoss=True,
                )
        ctx.checkpoint("requested")
        return {
            "global_cluster": self.global_id,
            "old_writer": checked["writer"],
            "old_writer_arn": checked["writer_arn"],
            "target_arn": target_arn,
            "requested": requested,
        }

    def wait_writer(self, ctx: RunContext) -> dict[str, Any]:
        """Until the new writer takes writes: `writer` (an instance in mode writer, the
        secondary cluster in the global modes), `writer_at`, and `endpoint`, the writer
        endpoint of the cluster that now writes (what the cutover points at)."""
        if self.mode == "writer":
            return self._wait_writer_instance(ctx)
        return self._wait_global_writer(ctx)

    def _wait_writer_instance(self, ctx: RunContext) -> dict[str, Any]:
        old, target = ctx.output("check-cluster", "writer"), ctx.output("check-cluster", "target")
        rds = self._rds(ctx)
        seen: dict[str, Any] = {}

        def probe(identifier: str) -> dict[str, Any]:
            cluster = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
            writer = writer_of(cluster)
            seen.update(cluster=cluster, writer=writer)
            moved = writer not in (None, old) and target in (None, writer)
            ready = False
            if moved and cluster["Status"] == "available":
                instance = rds.describe_db_instances(DBInstanceIdentifier=writer)["DBInstances"][0]
                ready = instance["DBInstanceStatus"] == "available"
            return {**self._size(ctx), "Status": READY if ready else cluster["Status"]}

        self._poll(
            ctx,
            "aurora-cluster writer failover",
            probe,
            lambda: (
                f"{target or 'no reader'} did not become the writer of {self.cluster_id} available "
                f"(writer: {seen.get('writer')})"
            ),
        )
        cluster = seen["cluster"]
        return {
            "writer": seen["writer"],
            "writer_at": iso(self.now()),
            "endpoint": {"Address": cluster["Endpoint"], "Port": cluster.get("Port", 5432)},
        }

    def _wait_global_writer(self, ctx: RunContext) -> dict[str, Any]:
        target_arn = ctx.output("check-cluster", "target_arn")
        region = self.secondary_region
        rds = self._rds(ctx, region)
        seen: dict[str, Any] = {}

        def probe(_identifier: str) -> dict[str, Any]:
            found = self._global(ctx, region)
            seen.update(writer_arn=global_writer(found))
            if global_writer(found) != target_arn or not settled(found):
                return {**self._size(ctx), "Status": found.get("Status")}
            cluster = rds.describe_db_clusters(DBClusterIdentifier=self.secondary_id)["DBClusters"][0]
            seen.update(cluster=cluster)
            if cluster["Status"] != "available":
                return {**self._size(ctx), "Status": cluster["Status"]}
            # Its writer instance (the first member, if Aurora names none yet) available.
            instance = writer_of(cluster) or cluster["DBClusterMembers"][0]["DBInstanceIdentifier"]
            status = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0][
                "DBInstanceStatus"
            ]
            return {**self._size(ctx), "Status": READY if status == "available" else status}

        self._poll(
            ctx,
            f"aurora-global {self.mode}",
            probe,
            lambda: (
                f"{self.secondary_id} did not become the available writer of the global cluster "
                f"{self.global_id} (writer: {seen.get('writer_arn')})"
            ),
        )
        cluster = seen["cluster"]
        return {
            "writer": self.secondary_id,
            "writer_arn": target_arn,
            "writer_at": iso(self.now()),
            "endpoint": {"Address": cluster["Endpoint"], "Port": cluster.get("Port", 5432)},
        }

    # --- undo of fail-over ----------------------------------------------------------------
    def fail_back(self, ctx: RunContext) -> dict[str, Any] | None:
        """The writer back where it was: to the old writer instance (mode writer), to the old
        primary cluster (switchover). A global failover is not undone: refused, saying how."""
        done = ctx.outputs.get("fail-over", {})
        if self.mode == "failover":
            old, region = done.get("old_writer", self.cluster_id), self.env.region
            raise OpsError(
                f"a global failover cannot be undone automatically ({self.secondary_id} lacks what {old} "
                f"had not replicated): once {region} is back and {old} is a secondary of {self.global_id} "
                "again, switch the writer back to it (aws rds switchover-global-cluster "
                f"--global-cluster-identifier {self.global_id} --target-db-cluster-identifier "
                f"<the ARN of {old}>)"
            )
        if self.mode == "switchover":
            return self._switch_back(ctx, done)
        return self._fail_back_writer(ctx, done)

    def _fail_back_writer(self, ctx: RunContext, done: dict[str, Any]) -> dict[str, Any]:
        old = done.get("old_writer") or ctx.output("check-cluster", "writer")
        rds = self._rds(ctx)
        seen: dict[str, Any] = {}

        def settled_with_old(identifier: str) -> dict[str, Any]:
            """No failover under way, and the old writer available to take the role back
            (after a failover it restarts as a reader)."""
            cluster = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
            seen.update(writer=writer_of(cluster))
            if cluster["Status"] != "available":
                return {"Status": cluster["Status"]}
            instance = rds.describe_db_instances(DBInstanceIdentifier=old)["DBInstances"][0]
            return {
                "Status": READY if instance["DBInstanceStatus"] == "available" else "old writer not available"
            }

        self._poll(
            ctx,
            None,
            settled_with_old,
            lambda: (
                f"the cluster {self.cluster_id} did not settle with {old} available "
                f"(writer: {seen.get('writer')})"
            ),
        )
        if seen["writer"] != old:
            rds.failover_db_cluster(DBClusterIdentifier=self.cluster_id, TargetDBInstanceIdentifier=old)

            def writer_again(identifier: str) -> dict[str, Any]:
                cluster = rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]
                back = writer_of(cluster) == old and cluster["Status"] == "available"
                return {"Status": READY if back else cluster["Status"]}

            self._poll(
                ctx, None, writer_again, lambda: f"{old} did not become the writer of {self.cluster_id} again"
            )
        return {"writer": old}

    def _switch_back(self, ctx: RunContext, done: dict[str, Any]) -> dict[str, Any]:
        old_arn = done.get("old_writer_arn") or ctx.output("check-cluster", "writer_arn")
        region = self.env.region  # the old primary's: the cluster the switch back promotes
        seen: dict[str, Any] = {}

        def quiet(_identifier: str) -> dict[str, Any]:
            found = self._global(ctx, region)
            seen.update(writer_arn=global_writer(found))
            return {"Status": READY if settled(found) else found.get("Status")}

        self._poll(ctx, None, quiet, lambda: f"the global cluster {self.global_id} did not settle")
        if seen["writer_arn"] != old_arn:
            self._rds(ctx, region).switchover_global_cluster(
                GlobalClusterIdentifier=self.global_id, TargetDbClusterIdentifier=old_arn
            )

            def back(_identifier: str) -> dict[str, Any]:
                found = self._global(ctx, region)
                return {
                    "Status": READY
                    if global_writer(found) == old_arn and settled(found)
                    else found.get("Status")
                }

            self._poll(
                ctx,
                None,
                back,
                lambda: f"{cluster_name(old_arn)} did not become the writer of {self.global_id} again",
            )
        return {"writer": cluster_name(old_arn)}

    # --- the cutover ----------------------------------------------------------------------
    def undo_cutover(self, ctx: RunContext) -> None:
        """The endpoint back to what it named before (from the cutover's note), except after
        a global failover: the old primary's region was lost and the failover is not undone,
        so the endpoint keeps naming the secondary, the one cluster that takes writes."""
        if self.mode == "failover":
            raise OpsError(
                f"the cutover of a global failover is not undone: {self.secondary_id} is the only writer "
                f"(the failover is not undone), so the endpoint keeps naming it; fix what failed, then "
                "resume the run"
            )
        super().undo_cutover(ctx)

    def post_check(self, ctx: RunContext) -> dict[str, Any]:
        """The cutover's endpoint names the new writer (read back once)."""
        done = ctx.outputs["cutover"]
        mode = done.get("mode", self.params.cutover_mode)
        if mode == "secret":
            where, value = f"the secret {self._secret}", self._read_secret(ctx).get("host")
        elif mode == "route53":
            where, value = f"the CNAME of {self.params.component}", self._cname(ctx, done["zone_id"])
        else:
            where = f"the endpoint parameter {self._parameter}"
            value = ctx.aws.client("ssm").get_parameter(Name=self._parameter)["Parameter"]["Value"]
        writer = ctx.output("wait-writer", "writer")
        if value != done["endpoint"]:
            raise OpsError(f"{where} does not name the new writer {writer} after the cutover")
        return {"serving": writer, "checked": where}
