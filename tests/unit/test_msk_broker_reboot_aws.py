"""msk-broker-reboot's AWS provider, call by call: the emulator has no RebootBroker, ListNodes
or cluster operations (ops/local/gaps.py), so botocore's Stubber answers each call and checks
its parameters against the kafka and cloudwatch service models. The rolling reboot's data
side runs on the real local Kafka (tests/integration/test_msk_broker_reboot.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ops.errors import OpsError
from ops.inventory import load_inventory
from ops.runbook.model import RunContext
from ops.runbook.waits import WaitHistory
from ops.state import StateDir
from runbooks.msk_broker_reboot.aws import AwsReboot
from runbooks.msk_broker_reboot.rolling import (
    INGEST_ERRORS,
    NO_CONTROLLER,
    OFFLINE,
    UNDER_REPLICATED,
    Stopped,
)
from runbooks.msk_broker_reboot.steps import MskBrokerReboot, RebootParams, msk_component
from tests.helpers import INVENTORY

CLUSTER = "dataplat-staging-events"
ARN = f"arn:aws:kafka:us-east-1:210987654321:cluster/{CLUSTER}/0b7e5e4c-aaaa-bbbb-cccc-1d2e3f4a5b6c-2"
STARTED = datetime(2026, 12, 1, 10, 0, 7, tzinfo=UTC)
FUNCTIONS = ("dataplat-staging-ingest-financial", "dataplat-staging-ingest-insurance")


def _operation(number: int) -> str:
    return ARN.replace(":cluster/", ":cluster-operation/") + f"/op-{number}"


def _query(ident: str, namespace: str, metric: str, dims: dict[str, str], stat: str) -> dict[str, Any]:
    dimensions = [{"Name": name, "Value": value} for name, value in dims.items()]
    metric_stat = {"Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions}}
    return {"Id": ident, "MetricStat": {**metric_stat, "Period": 60, "Stat": stat}, "ReturnData": True}


# What every look at the cluster asks CloudWatch, written out from the MSK and Lambda metric
# names (not from the provider's code).
QUERIES = [
    _query("offline", "AWS/Kafka", "OfflinePartitionsCount", {"Cluster Name": CLUSTER}, "Maximum"),
    _query("controller", "AWS/Kafka", "ActiveControllerCount", {"Cluster Name": CLUSTER}, "Maximum"),
    *(
        _query(
            f"urp{b}",
            "AWS/Kafka",
            "UnderReplicatedPartitions",
            {"Cluster Name": CLUSTER, "Broker ID": str(b)},
            "Maximum",
        )
        for b in (1, 2)
    ),
    *(
        query
        for index, function in enumerate(FUNCTIONS)
        for query in (
            _query(f"errors{index}", "AWS/Lambda", "Errors", {"FunctionName": function}, "Sum"),
            _query(f"calls{index}", "AWS/Lambda", "Invocations", {"FunctionName": function}, "Sum"),
        )
    ),
]


class FakeClock:
    """Monotonic time that moves only when the provider sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Stubbed:
    provider: AwsReboot
    ctx: RunContext
    kafka: Stubber
    cloudwatch: Stubber
    clock: FakeClock

    def step(self, step_id: str) -> None:
        """The step the engine would be running (notes are kept per step)."""
        (self.ctx.step,) = [
            s for s in MskBrokerReboot().steps(self.ctx.env, self.ctx.params) if s.id == step_id
        ]

    # --- the answers ------------------------------------------------------------------
    def cluster_listed(self, state: str = "ACTIVE") -> None:
        clusters = [
            {
                "ClusterName": f"{CLUSTER}-dr",
                "ClusterArn": ARN.replace(CLUSTER, f"{CLUSTER}-dr"),
                "State": "ACTIVE",
            },
            {"ClusterName": CLUSTER, "ClusterArn": ARN, "State": state},
        ]
        self.kafka.add_response(
            "list_clusters_v2", {"ClusterInfoList": clusters}, {"ClusterNameFilter": CLUSTER}
        )

    def nodes_listed(self) -> None:
        nodes = [{"NodeType": "BROKER", "BrokerNodeInfo": {"BrokerId": float(b)}} for b in (2, 1)]
        self.kafka.add_response("list_nodes", {"NodeInfoList": nodes}, {"ClusterArn": ARN})

    def described(self, state: str = "ACTIVE", operation: str | None = None) -> None:
        info: dict[str, Any] = {"ClusterArn": ARN, "ClusterName": CLUSTER, "State": state}
        if operation:
            info["ActiveOperationArn"] = operation
        self.kafka.add_response("describe_cluster_v2", {"ClusterInfo": info}, {"ClusterArn": ARN})

    def rebooted(self, broker: int, number: int) -> None:
        self.kafka.add_response(
            "reboot_broker",
            {"ClusterArn": ARN, "ClusterOperationArn": _operation(number)},
            {"ClusterArn": ARN, "BrokerIds": [str(broker)]},
        )

    def operation(self, number: int, state: str, ended: datetime | None = None, error: str = "") -> None:
        info: dict[str, Any] = {
            "OperationArn": _operation(number),
            "OperationState": state,
            "OperationType": "REBOOT_NODE",
        }
        if ended:
            info["EndTime"] = ended
        if error:
            info["ErrorInfo"] = {"ErrorCode": error, "ErrorString": "the broker did not come back"}
        self.kafka.add_response(
            "describe_cluster_operation_v2",
            {"ClusterOperationInfo": info},
            {"ClusterOperationArn": _operation(number)},
        )

    def metrics(
        self,
        at: datetime,
        urp: float = 0.0,
        offline: float = 0.0,
        controller: float = 1.0,
        errors: float = 0.0,
        calls: float = 40.0,
    ) -> None:
        def series(ident: str, value: float) -> dict[str, Any]:
            return {"Id": ident, "Timestamps": [at], "Values": [value], "StatusCode": "Complete"}

        results = [series("offline", offline), series("controller", controller)]
        results += [series(f"urp{b}", urp) for b in (1, 2)]
        results += [series("errors0", errors), series("calls0", calls)]
        self.cloudwatch.add_response(
            "get_metric_data",
            {"MetricDataResults": results},
            {"MetricDataQueries": QUERIES, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampDescending"},
        )

    def healthy(self) -> None:
        self.metrics(datetime.now(UTC))

    def done(self) -> None:
        self.kafka.assert_no_pending_responses()
        self.cloudwatch.assert_no_pending_responses()


class Clients:
    """The run context's ClientFactory, handing out the stubbed clients."""

    def __init__(self, clients: dict[str, Any]) -> None:
        self.clients = clients
        self.regions: list[str | None] = []

    def client(self, service: str, region: str | None = None) -> Any:
        self.regions.append(region)
        return self.clients[service]


@pytest.fixture
def stubbed(tmp_path: Path) -> Iterator[Stubbed]:
    yield _stubbed(tmp_path, {})


def _stubbed(tmp_path: Path, given: dict[str, Any]) -> Stubbed:
    env = load_inventory(INVENTORY).environment("staging")
    params = RebootParams.model_validate(given)
    made = {
        service: boto3.client(
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        for service in ("kafka", "cloudwatch")
    }
    kafka, cloudwatch = Stubber(made["kafka"]), Stubber(made["cloudwatch"])
    kafka.activate()
    cloudwatch.activate()
    provider = AwsReboot(env, params, msk_component(env, params.cluster))
    clock = FakeClock()
    provider.clock, provider.sleep = clock, clock.sleep
    ctx = RunContext(
        "run-1", env, params, StateDir(tmp_path), True, started_at=STARTED.isoformat(), aws=Clients(made)
    )
    return Stubbed(provider, ctx, kafka, cloudwatch, clock)


def _check(s: Stubbed) -> None:
    s.cluster_listed()
    s.nodes_listed()
    s.healthy()
    s.step("check-cluster")
    s.ctx.outputs["check-cluster"] = s.provider.check_cluster(s.ctx)


def _reboot_and_back(s: Stubbed, broker: int, number: int) -> None:
    """One broker: healthy first, ACTIVE, RebootBroker, its operation in progress then
    complete, then CloudWatch's points after the end show every ISR whole."""
    ended = datetime.now(UTC) - timedelta(minutes=3)
    s.healthy()
    s.described()
    s.rebooted(broker, number)
    s.operation(number, "REBOOT_IN_PROGRESS")
    s.metrics(ended - timedelta(minutes=1), urp=17)  # the reboot's own: not a stop
    s.operation(number, "UPDATE_COMPLETE", ended=ended)
    s.metrics(ended + timedelta(minutes=2))


def test_every_broker_is_rebooted_once_each_after_the_previous_operation_ended_and_isr_is_whole(
    stubbed: Stubbed,
) -> None:
    s = stubbed
    _check(s)
    assert s.ctx.outputs["check-cluster"]["cluster_arn"] == ARN  # the exact name, not the -dr prefix match
    assert s.ctx.outputs["check-cluster"]["brokers"] == [1, 2]
    _reboot_and_back(s, 1, 1)
    _reboot_and_back(s, 2, 2)
    s.step("reboot-brokers")
    outputs = s.provider.reboot_brokers(s.ctx)
    s.ctx.outputs["reboot-brokers"] = outputs
    assert list(outputs["rebooted"]) == ["1", "2"]
    assert [done["operation"] for done in outputs["rebooted"].values()] == [_operation(1), _operation(2)]
    s.healthy()
    s.step("verify-cluster")
    s.provider.verify_cluster(s.ctx)
    s.done()
    assert set(s.ctx.aws.regions) == {"us-east-1"}  # the cluster's region
    # The run's end undoes nothing: every broker it rebooted is back.
    assert s.provider.restart_stopped(s.ctx) is None
    report = MskBrokerReboot().outputs(s.ctx)
    assert report["BrokersRebooted"] == [1, 2] and report["RPOSeconds"] == 0.0
    assert report["RecoveryTime"] == max(report["SecondsPerBroker"].values())


def test_a_failed_reboot_operation_fails_the_step_in_one_line_and_its_undo_says_so(stubbed: Stubbed) -> None:
    s = stubbed
    _check(s)
    s.healthy()
    s.described()
    s.rebooted(1, 1)
    s.operation(1, "UPDATE_FAILED", ended=datetime.now(UTC), error="InternalFailure")
    s.step("reboot-brokers")
    with pytest.raises(OpsError) as failed:
        s.provider.reboot_brokers(s.ctx)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith(f"the reboot of broker 1 of {CLUSTER} failed (UPDATE_FAILED: InternalFailure: ")
    # The engine's rollback, from the step's note: the operation is read again, and a failed
    # one is not called done.
    s.ctx.outputs["reboot-brokers"] = dict(s.ctx.notes["reboot-brokers"])
    s.operation(1, "UPDATE_FAILED", ended=datetime.now(UTC), error="InternalFailure")
    with pytest.raises(OpsError, match="the reboot of broker 1 of dataplat-staging-events failed"):
        s.provider.restart_stopped(s.ctx)
    s.done()


def test_a_healing_cluster_is_refused_before_anything_and_a_refused_reboot_is_one_line(
    stubbed: Stubbed,
) -> None:
    s = stubbed
    s.cluster_listed(state="HEALING")
    s.step("check-cluster")
    with pytest.raises(OpsError) as refused:
        s.provider.check_cluster(s.ctx)
    assert str(refused.value) == (
        f"MSK cluster {CLUSTER} is HEALING: MSK refuses RebootBroker until it is ACTIVE; "
        "wait for it, then run the drill again"
    )
    # ACTIVE at the check, HEALING by the time the broker's turn comes.
    _check(s)
    s.healthy()
    s.described(state="HEALING")
    s.step("reboot-brokers")
    with pytest.raises(OpsError, match=f"^MSK cluster {CLUSTER} is HEALING"):
        s.provider.reboot_brokers(s.ctx)
    # Another run: described ACTIVE, then MSK refuses the call itself (a race): one line.
    s.ctx.notes.clear()
    s.healthy()
    s.described()
    s.kafka.add_client_error(
        "reboot_broker",
        service_error_code="BadRequestException",
        service_message="The cluster is in HEALING state.\nRetry later.",
        http_status_code=400,
        expected_params={"ClusterArn": ARN, "BrokerIds": ["1"]},
    )
    with pytest.raises(OpsError) as race:
        s.provider.reboot_brokers(s.ctx)
    assert str(race.value) == (
        f"MSK refused to reboot broker 1 of {CLUSTER}: The cluster is in HEALING state. Retry later.; "
        "wait until the cluster is ACTIVE, then run the drill again"
    )
    s.done()


@pytest.mark.parametrize(
    ("condition", "after_end", "metrics", "says"),
    [
        (OFFLINE, False, {"offline": 2}, "2 partition(s) with no leader"),
        (NO_CONTROLLER, False, {"controller": 0}, "none for 0 s or more"),
        (
            INGEST_ERRORS,
            False,
            {"errors": 3, "calls": 60},
            "5.0% of ingest records failed since the drill started (3 of 60)",
        ),
        (
            UNDER_REPLICATED,
            True,
            {"urp": 4},
            "8 partition(s) under-replicated for 0 s or more (broker 1 leads 4, broker 2 leads 4)",
        ),
    ],
)
def test_a_stop_condition_while_waiting_stops_the_run_and_the_undo_follows_the_reboot_to_its_end(
    tmp_path: Path, condition: str, after_end: bool, metrics: dict[str, float], says: str
) -> None:
    s = _stubbed(tmp_path, {"grace_seconds": 0})
    _check(s)
    ended = datetime.now(UTC) - timedelta(minutes=3)
    s.healthy()
    s.described()
    s.rebooted(1, 1)
    if after_end:  # under-replicated partitions count only once the operation has ended
        s.operation(1, "REBOOT_IN_PROGRESS")
        s.metrics(ended, urp=9)
        s.operation(1, "UPDATE_COMPLETE", ended=ended)
        s.metrics(ended + timedelta(minutes=2), **metrics)
    else:
        s.operation(1, "REBOOT_IN_PROGRESS")
        s.metrics(ended, **metrics)
    s.step("reboot-brokers")
    with pytest.raises(Stopped) as stopped:
        s.provider.reboot_brokers(s.ctx)
    assert stopped.value.condition == condition
    assert str(stopped.value).startswith(f"stopped at broker 1 of events: {condition}: {says}")
    assert "\n" not in str(stopped.value)
    noted = s.ctx.notes["reboot-brokers"]
    assert noted["stopped_by"]["condition"] == condition  # journaled for the report
    assert noted["stopping"] == 1 and noted["reboot"]["operation"] == _operation(1)
    # The rollback: MSK brings the broker back by itself; the undo follows the operation.
    s.ctx.outputs["reboot-brokers"] = dict(noted)
    if not after_end:
        s.operation(1, "REBOOT_IN_PROGRESS")
    s.operation(1, "UPDATE_COMPLETE", ended=datetime.now(UTC))
    kept = s.provider.restart_stopped(s.ctx)
    assert kept == {"broker": 1, "operation": _operation(1), "state": "UPDATE_COMPLETE"}
    s.done()


def test_a_resumed_run_follows_the_operation_it_started_and_never_reboots_twice(stubbed: Stubbed) -> None:
    s = stubbed
    _check(s)
    # The process died after RebootBroker of broker 1 was noted: the resumed step takes it up.
    s.step("reboot-brokers")
    s.ctx.notes["reboot-brokers"] = {
        "stopping": 1,
        "reboot": {"started": STARTED.timestamp(), "operation": _operation(1)},
    }
    ended = datetime.now(UTC) - timedelta(minutes=3)
    s.operation(1, "UPDATE_COMPLETE", ended=ended)
    s.metrics(ended + timedelta(minutes=2))
    # It died between RebootBroker and its note for broker 2: the cluster's active operation.
    s.healthy()
    s.described()
    s.rebooted(2, 2)
    s.operation(2, "UPDATE_COMPLETE", ended=ended)
    s.metrics(ended + timedelta(minutes=2))
    outputs = s.provider.reboot_brokers(s.ctx)
    assert [done["operation"] for done in outputs["rebooted"].values()] == [_operation(1), _operation(2)]
    s.done()


def test_a_reboot_is_noted_before_the_call_and_a_resume_adopts_the_active_operation(tmp_path: Path) -> None:
    s = _stubbed(tmp_path, {"brokers": "2"})
    _check(s)
    s.step("reboot-brokers")
    s.ctx.notes["reboot-brokers"] = {"stopping": 2, "reboot": {"started": STARTED.timestamp()}}
    ended = datetime.now(UTC) - timedelta(minutes=3)
    s.described(state="REBOOTING_BROKER", operation=_operation(7))
    s.operation(7, "UPDATE_COMPLETE", ended=ended)
    s.metrics(ended + timedelta(minutes=2))
    outputs = s.provider.reboot_brokers(s.ctx)
    assert outputs["rebooted"]["2"]["operation"] == _operation(7)
    s.done()


def test_each_reboot_wait_is_recorded_and_the_next_polls_by_it(stubbed: Stubbed) -> None:
    """The wait for a reboot's operation learns (ops/runbook/waits.py): each ended reboot
    is recorded by broker size, and a later wait sleeps first until the shortest seen."""
    s = stubbed
    _check(s)
    _reboot_and_back(s, 1, 1)
    _reboot_and_back(s, 2, 2)
    s.step("reboot-brokers")
    s.ctx.outputs["reboot-brokers"] = s.provider.reboot_brokers(s.ctx)
    history = WaitHistory.of(s.ctx.state)
    kind, size = s.provider.wait_kind, s.provider.component.instance_type
    first, second = history.durations(kind, size)
    # The first wait knew nothing: a poll in progress, a sleep of the provider's cadence (15 s),
    # the poll that saw it back. The second learned from it: one sleep, to just past 15 s.
    assert first == 15.0
    assert second == pytest.approx(15.0 * 1.01)
