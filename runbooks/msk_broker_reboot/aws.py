"""msk-broker-reboot on AWS: MSK's RebootBroker, one broker at a time, each followed until
its cluster operation ends (DescribeClusterOperationV2) and CloudWatch shows every ISR whole
again (AWS/Kafka UnderReplicatedPartitions per broker, OfflinePartitionsCount,
ActiveControllerCount; the ingest Lambdas' Errors and Invocations for the error rate).

The emulator has none of these Kafka calls (ops/local/gaps.py): this provider is tested with
botocore's Stubber against the service model (tests/unit/test_msk_broker_reboot_aws.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import OpsError
from ops.inventory.components import Lambda, Msk
from ops.inventory.environment import Environment
from ops.runbook.model import RunContext
from runbooks.common.cloudwatch import KAFKA, PERIOD, metric_query, read
from runbooks.msk_broker_reboot.rolling import Health, RollingReboot
from runbooks.msk_broker_reboot.steps import RebootParams

LOOK_BACK = timedelta(minutes=5)


def operation_ended(operation: dict[str, Any]) -> bool:
    """The service model leaves OperationState a free string (REBOOT_IN_PROGRESS,
    UPDATE_COMPLETE, ...): an operation has ended once it has an end time or a state that
    says complete or failed."""
    state = str(operation.get("OperationState", ""))
    return bool(operation.get("EndTime")) or state.endswith(("_COMPLETE", "_FAILED"))


def operation_failed(operation: dict[str, Any]) -> bool:
    return str(operation.get("OperationState", "")).endswith("_FAILED") or bool(
        (operation.get("ErrorInfo") or {}).get("ErrorCode")
    )


class AwsReboot(RollingReboot):
    poll_seconds = 15.0  # CloudWatch has a point a minute; the operation takes minutes

    def __init__(self, env: Environment, params: RebootParams, component: Msk) -> None:
        super().__init__(env, params, component)
        self.cluster_name = env.resource_name(component.cluster_name)
        self.region = component.region or env.region
        self._arn: str | None = None
        self._all: list[int] = []  # the cluster's brokers, once listed
        # The functions that produce to this cluster: their errors are the ingest errors.
        self.functions = [
            env.resource_name(function.function_name)
            for function in env.components_of(Lambda).values()
            if function.produces_to.cluster == params.cluster
        ]

    def _kafka(self, ctx: RunContext) -> Any:
        return ctx.aws.client("kafka", region=self.region)

    def _cloudwatch(self, ctx: RunContext) -> Any:
        return ctx.aws.client("cloudwatch", region=self.region)

    def _cluster_arn(self, ctx: RunContext) -> str:
        if self._arn is None:
            known = ctx.outputs.get("check-cluster", {}).get("cluster_arn")
            self._arn = str(known) if known else self._find(ctx)["ClusterArn"]
        return self._arn

    def _find(self, ctx: RunContext) -> dict[str, Any]:
        """The cluster by its name (the filter is a prefix: the name must match whole)."""
        kafka = self._kafka(ctx)
        request: dict[str, Any] = {"ClusterNameFilter": self.cluster_name}
        while True:
            page = kafka.list_clusters_v2(**request)
            for cluster in page.get("ClusterInfoList", []):
                if cluster.get("ClusterName") == self.cluster_name:
                    return dict(cluster)
            if not page.get("NextToken"):
                raise OpsError(
                    f"no MSK cluster {self.cluster_name} in {self.region}; check the inventory's cluster_name"
                )
            request["NextToken"] = page["NextToken"]

    # --- reading the cluster ------------------------------------------------------------
    def preflight(self, ctx: RunContext) -> dict[str, Any]:
        cluster = self._find(ctx)
        self._refuse_unless_active(cluster.get("State", ""))
        self._arn = cluster["ClusterArn"]
        return {"cluster_arn": self._arn}

    def _refuse_unless_active(self, state: str) -> None:
        if state == "HEALING":
            raise OpsError(
                f"MSK cluster {self.cluster_name} is HEALING: MSK refuses RebootBroker until it is ACTIVE; "
                "wait for it, then run the drill again"
            )
        if state != "ACTIVE":
            raise OpsError(
                f"MSK cluster {self.cluster_name} is {state or 'in no state'}, not ACTIVE: "
                "no broker is rebooted until it is"
            )

    def cluster_brokers(self, ctx: RunContext) -> list[int]:
        kafka = self._kafka(ctx)
        request: dict[str, Any] = {"ClusterArn": self._cluster_arn(ctx)}
        brokers: set[int] = set()
        while True:
            page = kafka.list_nodes(**request)
            for node in page.get("NodeInfoList", []):
                broker = (node.get("BrokerNodeInfo") or {}).get("BrokerId")
                if broker is not None:
                    brokers.add(int(broker))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        if not brokers:
            raise OpsError(f"MSK cluster {self.cluster_name} lists no broker (ListNodes)")
        self._all = sorted(brokers)
        return self._all

    def _brokers(self, ctx: RunContext) -> list[int]:
        known = ctx.outputs.get("check-cluster", {}).get("all_brokers")
        return list(known) if known else (self._all or self.cluster_brokers(ctx))

    def _operation(self, ctx: RunContext, arn: str) -> dict[str, Any]:
        answer = self._kafka(ctx).describe_cluster_operation_v2(ClusterOperationArn=arn)
        return dict(answer.get("ClusterOperationInfo") or {})

    def health(self, ctx: RunContext, rebooting: int | None, reboot: dict[str, Any]) -> Health:
        ended_at: datetime | None = None
        if rebooting is not None:
            operation = self._operation(ctx, reboot["operation"])
            if operation_failed(operation):
                error = operation.get("ErrorInfo") or {}
                detail = ": ".join(str(v) for v in (error.get("ErrorCode"), error.get("ErrorString")) if v)
                raise OpsError(
                    f"the reboot of broker {rebooting} of {self.cluster_name} failed "
                    f"({operation.get('OperationState', 'no state')}{f': {detail}' if detail else ''}); "
                    "see the cluster's operations in the MSK console"
                )
            if operation_ended(operation):
                ended_at = operation.get("EndTime") or datetime.now(UTC)
        metrics = self._metrics(ctx)
        # Under-replicated partitions are the reboot's own until its operation ends; from
        # then on, only points of minutes that started after the end count.
        under = None
        if rebooting is None or ended_at is not None:
            since = (
                ended_at.replace(second=0, microsecond=0) + timedelta(seconds=PERIOD) if ended_at else None
            )
            under = self._latest_urp(metrics, self._brokers(ctx), since)
        offline = self._latest(metrics.get("offline", []))
        controller_count = self._latest(metrics.get("controller", []))
        controller = None if controller_count is None else controller_count >= 1
        waiting = []
        if rebooting is not None and ended_at is None:
            waiting.append(f"broker {rebooting}'s reboot operation has not ended")
        elif under is None:
            waiting.append("no UnderReplicatedPartitions point since the reboot")
        elif any(under.values()):
            waiting.append(f"{sum(under.values()):.0f} partition(s) under-replicated")
        if offline:
            waiting.append(f"{offline:.0f} partition(s) offline")
        if controller is False:
            waiting.append("no active controller")
        return Health(
            back=not waiting,
            under_replicated={f"broker {b}": f"leads {n:.0f}" for b, n in (under or {}).items() if n},
            under_count=round(sum((under or {}).values())),
            offline_count=round(offline or 0),
            controller=controller,
            ingest=self._ingest(ctx, metrics),
            waiting_for="; ".join(waiting),
        )

    def _metrics(self, ctx: RunContext) -> dict[str, list[tuple[datetime, float]]]:
        """One GetMetricData call (and its pages): each query's points, newest first."""
        cluster = {"Cluster Name": self.cluster_name}
        queries = [
            metric_query("offline", KAFKA, "OfflinePartitionsCount", cluster, "Maximum"),
            metric_query("controller", KAFKA, "ActiveControllerCount", cluster, "Maximum"),
        ]
        for broker in self._brokers(ctx):
            dims = {**cluster, "Broker ID": str(broker)}
            queries.append(metric_query(f"urp{broker}", KAFKA, "UnderReplicatedPartitions", dims, "Maximum"))
        for index, function in enumerate(self.functions):
            dims = {"FunctionName": function}
            queries.append(metric_query(f"errors{index}", "AWS/Lambda", "Errors", dims, "Sum"))
            queries.append(metric_query(f"calls{index}", "AWS/Lambda", "Invocations", dims, "Sum"))
        now = datetime.now(UTC)
        started = self._started(ctx)
        return read(self._cloudwatch(ctx), queries, min(started, now - LOOK_BACK), now)

    @staticmethod
    def _started(ctx: RunContext) -> datetime:
        return datetime.fromisoformat(ctx.started_at) if ctx.started_at else datetime.now(UTC)

    @staticmethod
    def _latest(points: list[tuple[datetime, float]]) -> float | None:
        return points[0][1] if points else None

    def _latest_urp(
        self, metrics: dict[str, list[tuple[datetime, float]]], brokers: list[int], since: datetime | None
    ) -> dict[int, float] | None:
        """Each broker's latest UnderReplicatedPartitions point (of a minute that started at
        or after `since`); None while a broker has none yet."""
        latest: dict[int, float] = {}
        for broker in brokers:
            points = [(t, v) for t, v in metrics.get(f"urp{broker}", []) if since is None or t >= since]
            if not points:
                return None
            latest[broker] = points[0][1]
        return latest

    def _ingest(
        self, ctx: RunContext, metrics: dict[str, list[tuple[datetime, float]]]
    ) -> tuple[int, int] | None:
        if not self.functions:
            return None
        started = self._started(ctx).replace(second=0, microsecond=0)
        failed = total = 0.0
        for index in range(len(self.functions)):
            failed += sum(v for t, v in metrics.get(f"errors{index}", []) if t >= started)
            total += sum(v for t, v in metrics.get(f"calls{index}", []) if t >= started)
        return int(failed), int(total)

    # --- the reboot ---------------------------------------------------------------------
    def start_reboot(self, ctx: RunContext, broker: int, reboot: dict[str, Any], resumed: bool) -> None:
        if resumed and reboot.get("operation"):
            return  # the earlier attempt's operation is followed, not a second reboot
        kafka = self._kafka(ctx)
        arn = self._cluster_arn(ctx)
        cluster = kafka.describe_cluster_v2(ClusterArn=arn).get("ClusterInfo") or {}
        state = cluster.get("State", "")
        if resumed and state == "REBOOTING_BROKER" and cluster.get("ActiveOperationArn"):
            reboot["operation"] = cluster["ActiveOperationArn"]  # started just before the process died
            return
        self._refuse_unless_active(state)
        try:
            answer = kafka.reboot_broker(ClusterArn=arn, BrokerIds=[str(broker)])
        except ClientError as error:
            if error.response["Error"]["Code"] in ("BadRequestException", "ConflictException"):
                message = " ".join(str(error.response["Error"].get("Message", "")).split())
                raise OpsError(
                    f"MSK refused to reboot broker {broker} of {self.cluster_name}: {message}; "
                    "wait until the cluster is ACTIVE, then run the drill again"
                ) from None
            raise
        reboot["operation"] = answer["ClusterOperationArn"]

    def restart(self, ctx: RunContext, broker: int, reboot: dict[str, Any]) -> dict[str, Any]:
        """MSK starts a rebooted broker by itself: the undo follows the reboot's operation
        until it ends, so the run ends with the broker back (or says it is not)."""
        arn = reboot.get("operation")
        if not arn:
            return {"operation": None}  # stopped before RebootBroker was called
        deadline = self.clock() + self.params.timeout_seconds
        while True:
            operation = self._operation(ctx, arn)
            if operation_ended(operation):
                state = str(operation.get("OperationState", ""))
                if operation_failed(operation):
                    raise OpsError(f"the reboot of broker {broker} of {self.cluster_name} failed ({state})")
                return {"operation": arn, "state": state}
            if self.clock() > deadline:
                raise OpsError(
                    f"the reboot of broker {broker} of {self.cluster_name} has not ended within "
                    f"{self.params.timeout_seconds:.0f} s"
                )
            self.sleep(self.poll_seconds)
