"""msk-failover's and msk-failback's AWS provider, call by call, run by the real engine
(journal, notes, rollback, resume): the emulator has no MSK replicator API and no Glue
BatchStopJobRun, so botocore's Stubber answers every client (kafka in both regions,
CloudWatch in both, Lambda, Glue, SSM) and checks each call's parameters against its service
model. The data side (no acknowledged record lost, re-reads, stranded records by id) runs on
the real local Kafka (tests/integration/)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from pydantic import BaseModel

from ops.contracts import KafkaEndpoint
from ops.errors import BadInput, OpsError
from ops.inventory import load_inventory
from ops.inventory.components import Msk
from ops.inventory.environment import Environment
from ops.runbook.controls import Control
from ops.runbook.engine import RunbookEngine
from ops.runbook.model import RunContext, Step
from ops.state import StateDir
from runbooks.msk_failover.aws import AwsFailback, AwsFailover
from runbooks.msk_failover.steps import MskFailback, MskFailover
from tests.helpers import INVENTORY

ACCOUNT = "210987654321"
EAST, WEST = "us-east-1", "us-west-2"
PRIMARY, DR = "dataplat-staging-events", "dataplat-staging-events-dr"
PRIMARY_ARN = f"arn:aws:kafka:{EAST}:{ACCOUNT}:cluster/{PRIMARY}/1111-aaaa-2"
DR_ARN = f"arn:aws:kafka:{WEST}:{ACCOUNT}:cluster/{DR}/2222-bbbb-2"
FORWARD = "dataplat-staging-events-to-dr"
FORWARD_ARN = f"arn:aws:kafka:{WEST}:{ACCOUNT}:replicator/{FORWARD}/3333"
REVERSE = f"{FORWARD}-reverse"
REVERSE_ARN = f"arn:aws:kafka:{EAST}:{ACCOUNT}:replicator/{REVERSE}/4444"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/dataplat-staging-msk-replicator"
PARAMETER = "/dataplat/staging/events/endpoint"
TOPICS = ["raw_financial_transactions", "raw_insurance_claims"]
GROUPS = {"glue-financial-etl": "raw_financial_transactions", "glue-insurance-etl": "raw_insurance_claims"}
FUNCTIONS = ("dataplat-staging-ingest-financial", "dataplat-staging-ingest-insurance")
JOBS = ("dataplat-staging-financial-raw-to-processed", "dataplat-staging-insurance-raw-to-processed")
PRIMARY_BROKERS = "b-1.events.example:9098,b-2.events.example:9098"
DR_BROKERS = "b-1.events-dr.example:9098,b-2.events-dr.example:9098"
ON_PRIMARY = KafkaEndpoint("events", PRIMARY_BROKERS).to_json()
ON_DR = KafkaEndpoint("events_dr", DR_BROKERS).to_json()
START = datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC)
VPC = {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}


class FakeClock:
    """Monotonic and wall time that move only when the provider sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.now - 1000.0)


def minute(n: int) -> datetime:
    """The n-th whole minute after START's."""
    return START.replace(second=0) + timedelta(minutes=n)


def _query(ident: str, metric: str, dims: dict[str, str], stat: str) -> dict[str, Any]:
    """Written out from MSK's metric names and dimensions (not from the provider's code)."""
    dimensions = [{"Name": name, "Value": value} for name, value in dims.items()]
    return {
        "Id": ident,
        "MetricStat": {
            "Metric": {"Namespace": "AWS/Kafka", "MetricName": metric, "Dimensions": dimensions},
            "Period": 60,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _replicator(
    name: str,
    arn: str,
    state: str = "RUNNING",
    excluded: list[str] | None = None,
    description: str = "",
    sync: bool = True,
) -> dict[str, Any]:
    return {
        "ReplicatorName": name,
        "ReplicatorArn": arn,
        "ReplicatorState": state,
        "CurrentVersion": "K1",
        "ReplicatorDescription": description,
        "ServiceExecutionRoleArn": ROLE_ARN,
        "StateInfo": {"Code": "ReplicatorFailed", "Message": "cannot reach the target"}
        if state == "FAILED"
        else {},
        "KafkaClusters": [
            {
                "AmazonMskCluster": {"MskClusterArn": PRIMARY_ARN},
                "VpcConfig": VPC,
                "KafkaClusterAlias": "events",
            },
            {
                "AmazonMskCluster": {"MskClusterArn": DR_ARN},
                "VpcConfig": VPC,
                "KafkaClusterAlias": "events-dr",
            },
        ],
        "ReplicationInfoList": [
            {
                "SourceKafkaClusterAlias": "events",
                "TargetKafkaClusterAlias": "events-dr",
                "TargetCompressionType": "LZ4",
                "TopicReplication": {
                    "TopicsToReplicate": list(TOPICS),
                    "TopicsToExclude": list(excluded or []),
                    "CopyTopicConfigurations": True,
                    "CopyAccessControlListsForTopics": True,
                    "DetectAndCopyNewTopics": True,
                    "StartingPosition": {"Type": "LATEST"},
                    "TopicNameConfiguration": {"Type": "IDENTICAL"},
                },
                "ConsumerGroupReplication": {
                    "ConsumerGroupsToReplicate": list(GROUPS),
                    "ConsumerGroupsToExclude": [],
                    "DetectAndCopyNewConsumerGroups": True,
                    "SynchroniseConsumerGroupOffsets": sync,
                },
            }
        ],
    }


class Recorder:
    """Every AWS call in the order made, across the clients: (client, operation)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def hook(self, label: str) -> Any:
        def record(model: Any, **_: Any) -> None:
            self.calls.append((label, model.name))

        return record


class AlarmsApart:
    """A CloudWatch client whose DescribeAlarms (the stop condition, asked before every
    action and wait) goes to a client stubbed apart, so that the other CloudWatch answers
    keep their order. Each call is answered when made, from the alarms a test says fire
    (none unless it says), and still checked against the service model."""

    def __init__(self, client: Any, alarms: Any, stub: Stubber, firing: list[list[str]]) -> None:
        self._client, self._alarms, self._stub, self._firing = client, alarms, stub, firing

    def describe_alarms(self, **request: Any) -> Any:
        names = self._firing.pop(0) if self._firing else []
        found = [{"AlarmName": name, "StateValue": "ALARM"} for name in names]
        self._stub.add_response(
            "describe_alarms", {"MetricAlarms": found}, {"AlarmNames": ANY, "StateValue": "ALARM"}
        )
        return self._alarms.describe_alarms(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@dataclass
class Aws:
    """The stubbed clients (the engine's ClientFactory) and the answers, step by step."""

    clients: dict[tuple[str, str], Any]
    stubs: dict[tuple[str, str], Stubber]
    recorder: Recorder
    run_id: str = "run-1"
    regions: list[str | None] = field(default_factory=list)
    # Per region, the alarms each successive DescribeAlarms finds in ALARM (then none).
    firing: dict[str, list[list[str]]] = field(default_factory=lambda: {EAST: [], WEST: []})

    def client(self, service: str, region: str | None = None) -> Any:
        self.regions.append(region)
        region = region or EAST
        if service == "cloudwatch":
            alarms = self.clients[("alarms", region)]
            return AlarmsApart(
                self.clients[(service, region)], alarms, self.stub("alarms", region), self.firing[region]
            )
        return self.clients[(service, region)]

    def alarm_checks(self, region: str) -> int:
        """How many times the stop condition read the alarms of `region`."""
        return self.recorder.calls.count((f"alarms@{region}", "DescribeAlarms"))

    def stub(self, service: str, region: str = EAST) -> Stubber:
        return self.stubs[(service, region)]

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()

    # --- answers ------------------------------------------------------------------------
    def published(self, value: str) -> None:
        self.stub("ssm").add_response(
            "get_parameter",
            {"Parameter": {"Name": PARAMETER, "Value": value, "Type": "String"}},
            {"Name": PARAMETER},
        )

    def cluster(self, name: str, arn: str, region: str, state: str = "ACTIVE") -> None:
        kafka = self.stub("kafka", region)
        listed = [{"ClusterName": name, "ClusterArn": arn, "State": state}]
        if name == PRIMARY:  # the prefix filter finds events-dr too
            listed.insert(0, {"ClusterName": DR, "ClusterArn": DR_ARN, "State": "ACTIVE"})
        kafka.add_response("list_clusters_v2", {"ClusterInfoList": listed}, {"ClusterNameFilter": name})
        info = {"ClusterArn": arn, "ClusterName": name, "State": state}
        kafka.add_response("describe_cluster_v2", {"ClusterInfo": info}, {"ClusterArn": arn})

    def brokers(self, arn: str, servers: str, region: str) -> None:
        self.stub("kafka", region).add_response(
            "get_bootstrap_brokers", {"BootstrapBrokerStringSaslIam": servers}, {"ClusterArn": arn}
        )

    def found(self, replicator: dict[str, Any], region: str) -> None:
        kafka = self.stub("kafka", region)
        name, arn = replicator["ReplicatorName"], replicator["ReplicatorArn"]
        summary = {
            "ReplicatorName": name,
            "ReplicatorArn": arn,
            "ReplicatorState": replicator["ReplicatorState"],
        }
        kafka.add_response("list_replicators", {"Replicators": [summary]}, {"ReplicatorNameFilter": name})
        kafka.add_response("describe_replicator", replicator, {"ReplicatorArn": arn})

    def missing(self, name: str, region: str) -> None:
        self.stub("kafka", region).add_response(
            "list_replicators", {"Replicators": []}, {"ReplicatorNameFilter": name}
        )

    def described(self, replicator: dict[str, Any], region: str) -> None:
        self.stub("kafka", region).add_response(
            "describe_replicator", replicator, {"ReplicatorArn": replicator["ReplicatorArn"]}
        )

    def reverse(self, state: str = "RUNNING") -> dict[str, Any]:
        made = f"msk-failover run {self.run_id}: the reverse of {FORWARD}, for the failback"
        return _replicator(REVERSE, REVERSE_ARN, state, description=made)

    def metric(
        self, region: str, queries: list[dict[str, Any]], values: dict[str, list[tuple[datetime, float]]]
    ) -> None:
        results = [
            {
                "Id": ident,
                "Timestamps": [at for at, _ in points],
                "Values": [value for _, value in points],
                "StatusCode": "Complete",
            }
            for ident, points in values.items()
        ]
        self.stub("cloudwatch", region).add_response(
            "get_metric_data",
            {"MetricDataResults": results},
            {"MetricDataQueries": queries, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampDescending"},
        )

    def message_lag(self, region: str, replicator: str, points: list[tuple[datetime, float]]) -> None:
        query = _query("lag", "MessageLag", {"ReplicatorName": replicator}, "Sum")
        self.metric(region, [query], {"lag": points})

    def offset_lags(self, destination: tuple[str, str], origin: tuple[str, str], at: datetime) -> None:
        """Each group's SumOffsetLag on the destination, then on the origin (both 0)."""
        for side, (cluster, region) in (("d", destination), ("o", origin)):
            queries = [
                _query(
                    f"{side}{i}",
                    "SumOffsetLag",
                    {"Cluster Name": cluster, "Consumer Group": group, "Topic": topic},
                    "Maximum",
                )
                for i, (group, topic) in enumerate(GROUPS.items())
            ]
            self.metric(region, queries, {q["Id"]: [(at, 0.0)] for q in queries})

    def concurrency_read(self) -> None:
        lambda_ = self.stub("lambda")
        lambda_.add_response(
            "get_function_concurrency", {"ReservedConcurrentExecutions": 50}, {"FunctionName": FUNCTIONS[0]}
        )
        lambda_.add_response("get_function_concurrency", {}, {"FunctionName": FUNCTIONS[1]})

    def held(self) -> None:
        for function in FUNCTIONS:
            self.stub("lambda").add_response(
                "put_function_concurrency",
                {"ReservedConcurrentExecutions": 0},
                {"FunctionName": function, "ReservedConcurrentExecutions": 0},
            )

    def released(self) -> None:
        """What each function had: 50 reserved, and none."""
        lambda_ = self.stub("lambda")
        lambda_.add_response(
            "put_function_concurrency",
            {"ReservedConcurrentExecutions": 50},
            {"FunctionName": FUNCTIONS[0], "ReservedConcurrentExecutions": 50},
        )
        lambda_.add_response("delete_function_concurrency", {}, {"FunctionName": FUNCTIONS[1]})

    def job_runs(self, job: str, state: str, run: str = "jr_1") -> None:
        runs = [{"Id": run, "JobName": job, "JobRunState": state}]
        self.stub("glue").add_response("get_job_runs", {"JobRuns": runs}, {"JobName": job, "MaxResults": 50})

    def stopped(self) -> None:
        """Both jobs run; each run is stopped, then both are seen STOPPED."""
        for job in JOBS:
            self.job_runs(job, "RUNNING")
        for job in JOBS:
            self.job_runs(job, "RUNNING")
            self.stub("glue").add_response(
                "batch_stop_job_run",
                {"SuccessfulSubmissions": [{"JobName": job, "JobRunId": "jr_1"}], "Errors": []},
                {"JobName": job, "JobRunIds": ["jr_1"]},
            )
        for job in JOBS:
            self.job_runs(job, "STOPPED")

    def started(self) -> None:
        for job in JOBS:
            self.job_runs(job, "STOPPED")
            self.stub("glue").add_response("start_job_run", {"JobRunId": "jr_2"}, {"JobName": job})

    def reverse_created(self, forward: dict[str, Any] | None = None, wait: bool = True) -> None:
        """None found; CreateReplicator from the forward one's settings; CREATING, RUNNING."""
        kafka = self.stub("kafka", EAST)
        self.missing(REVERSE, EAST)
        self.found(forward or _replicator(FORWARD, FORWARD_ARN), WEST)
        kafka.add_response(
            "create_replicator",
            {"ReplicatorArn": REVERSE_ARN, "ReplicatorName": REVERSE, "ReplicatorState": "CREATING"},
            reverse_request(self.run_id),
        )
        if wait:
            self.described(self.reverse("CREATING"), EAST)
            self.described(self.reverse(), EAST)

    def reverse_deleted(self, reverse: dict[str, Any]) -> None:
        """The reverse replicator found, DeleteReplicator, then gone."""
        self.found(reverse, EAST)
        self.stub("kafka", EAST).add_response(
            "delete_replicator",
            {"ReplicatorArn": REVERSE_ARN, "ReplicatorState": "DELETING"},
            {"ReplicatorArn": REVERSE_ARN},
        )
        self.missing(REVERSE, EAST)

    def switched(self, to: str, brokers: str, arn: str, region: str, before: str) -> None:
        self.published(before)
        self.brokers(arn, brokers, region)
        cluster = "events_dr" if to == DR else "events"
        value = KafkaEndpoint(cluster, brokers).to_json()
        self.stub("ssm").add_response(
            "put_parameter",
            {"Version": 2},
            {"Name": PARAMETER, "Value": value, "Type": "String", "Overwrite": True},
        )


def reverse_request(run_id: str) -> dict[str, Any]:
    """CreateReplicator's request as the MSK guide's failback page describes the reverse:
    DR -> primary, from EARLIEST, IDENTICAL names, the same topics and groups, offsets synced."""
    return {
        "ReplicatorName": REVERSE,
        "Description": f"msk-failover run {run_id}: the reverse of {FORWARD}, for the failback",
        "KafkaClusters": [
            {"AmazonMskCluster": {"MskClusterArn": PRIMARY_ARN}, "VpcConfig": VPC},
            {"AmazonMskCluster": {"MskClusterArn": DR_ARN}, "VpcConfig": VPC},
        ],
        "ServiceExecutionRoleArn": ROLE_ARN,
        "ReplicationInfoList": [
            {
                "SourceKafkaClusterArn": DR_ARN,
                "TargetKafkaClusterArn": PRIMARY_ARN,
                "TargetCompressionType": "LZ4",
                "TopicReplication": {
                    "TopicsToReplicate": TOPICS,
                    "TopicsToExclude": [],
                    "CopyTopicConfigurations": True,
                    "CopyAccessControlListsForTopics": True,
                    "DetectAndCopyNewTopics": True,
                    "StartingPosition": {"Type": "EARLIEST"},
                    "TopicNameConfiguration": {"Type": "IDENTICAL"},
                },
                "ConsumerGroupReplication": {
                    "ConsumerGroupsToReplicate": list(GROUPS),
                    "ConsumerGroupsToExclude": [],
                    "DetectAndCopyNewConsumerGroups": True,
                    "SynchroniseConsumerGroupOffsets": True,
                },
            }
        ],
    }


@pytest.fixture
def aws() -> Iterator[Aws]:
    recorder = Recorder()
    clients: dict[tuple[str, str], Any] = {}
    stubs: dict[tuple[str, str], Stubber] = {}
    for service, region in [
        ("kafka", EAST),
        ("kafka", WEST),
        ("cloudwatch", EAST),
        ("cloudwatch", WEST),
        ("alarms", EAST),
        ("alarms", WEST),
        ("lambda", EAST),
        ("glue", EAST),
        ("ssm", EAST),
    ]:
        model = "cloudwatch" if service == "alarms" else service
        client = boto3.client(model, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
        client.meta.events.register("before-call.*.*", recorder.hook(f"{service}@{region}"))
        stubs[(service, region)] = Stubber(client)
        stubs[(service, region)].activate()
        clients[(service, region)] = client
    yield Aws(clients, stubs, recorder)


# --- the runbooks with a fake clock injected into their provider ---------------------------
class ClockedFailover(MskFailover):
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def provider(self, env: Environment, params: Any) -> AwsFailover:
        provider = AwsFailover(env, params)
        provider.clock, provider.sleep, provider.now = self.clock, self.clock.sleep, self.clock.wall
        return provider


class ClockedFailback(MskFailback):
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock

    def provider(self, env: Environment, params: Any) -> AwsFailback:
        provider = AwsFailback(env, params)
        provider.clock, provider.sleep, provider.now = self.clock, self.clock.sleep, self.clock.wall
        return provider


def _env() -> Environment:
    return load_inventory(INVENTORY).environment("staging")


def _run(
    tmp_path: Path,
    aws: Aws,
    runbook: MskFailover | MskFailback,
    params: dict[str, Any],
    controls: tuple[Control, ...] = (),
) -> Any:
    engine = RunbookEngine(StateDir(tmp_path), aws=aws, controls=controls)
    model: BaseModel = runbook.params_model.model_validate(params)
    return engine.run(runbook, _env(), model, execute=True, approve=lambda _step: "tester", run_id=aws.run_id)


def _journal(tmp_path: Path, run_id: str) -> list[dict[str, Any]]:
    lines = (tmp_path / "runs" / run_id / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


# --- the planned failover, step by step --------------------------------------------------
def _check_clusters_planned(aws: Aws, forward: dict[str, Any] | None = None) -> None:
    aws.published(ON_PRIMARY)
    aws.cluster(PRIMARY, PRIMARY_ARN, EAST)
    aws.cluster(DR, DR_ARN, WEST)
    aws.found(forward or _replicator(FORWARD, FORWARD_ARN), WEST)
    aws.brokers(PRIMARY_ARN, PRIMARY_BROKERS, EAST)  # which of the answers the clients use
    aws.missing(REVERSE, EAST)


def _through_create_reverse(aws: Aws, wait: bool = True) -> None:
    _check_clusters_planned(aws)
    latency = _query("latency", "ReplicationLatency", {"ReplicatorName": FORWARD}, "Maximum")
    aws.metric(WEST, [latency], {"latency": [(minute(-1), 2500.0)]})  # 2.5 s, under the 60 s RPO
    aws.found(_replicator(FORWARD, FORWARD_ARN), WEST)  # check-groups
    aws.concurrency_read()
    aws.held()
    aws.message_lag(WEST, FORWARD, [(minute(1), 12.0)])  # still copying
    aws.message_lag(WEST, FORWARD, [(minute(2), 0.0), (minute(1), 12.0)])
    aws.stopped()
    aws.offset_lags((DR, WEST), (PRIMARY, EAST), minute(3))
    aws.reverse_created(wait=wait)


def _after_create_reverse(aws: Aws) -> None:
    aws.switched(DR, DR_BROKERS, DR_ARN, WEST, before=ON_PRIMARY)
    aws.started()
    aws.released()
    aws.published(ON_DR)  # post-check
    for job in JOBS:
        aws.job_runs(job, "RUNNING", "jr_2")
    aws.found(aws.reverse(), EAST)


def test_a_planned_failover_runs_the_guides_steps_in_order_and_reports_what_aws_can_say(
    tmp_path: Path, aws: Aws
) -> None:
    _through_create_reverse(aws)
    _after_create_reverse(aws)
    outcome = _run(tmp_path, aws, ClockedFailover(FakeClock()), {})
    aws.done()
    assert outcome.record.status == "completed"
    outputs = next(e for e in _journal(tmp_path, aws.run_id) if e["event"] == "run-completed")["outputs"]
    assert outputs["ActiveCluster"] == "events_dr"
    assert outputs["RecoveryPoint"] == {"messages": 0, "seconds": 0.0}  # planned: everything copied first
    assert outputs["ReplicationLatencySeconds"] == 2.5
    assert outputs["WriteUnavailableSeconds"] > 0 and outputs["ConsumerPauseSeconds"] > 0
    assert outputs["DuplicatesDelivered"] is None and outputs["StoredTwice"] is None  # local only
    # The order of the guide: producers held before the lag is waited for, consumers stopped
    # before their offsets, the reverse replicator before the switch, consumers before producers.
    order = [op for _, op in aws.recorder.calls]
    sequence = [
        "GetFunctionConcurrency",
        "PutFunctionConcurrency",
        "BatchStopJobRun",
        "CreateReplicator",
        "PutParameter",
        "StartJobRun",
        "DeleteFunctionConcurrency",
    ]
    positions = [order.index(op) for op in sequence]
    assert positions == sorted(positions)
    # Replicators and their metrics in the target's region; the clients in the primary's.
    assert ("kafka@us-west-2", "DescribeReplicator") in aws.recorder.calls
    assert ("kafka@us-east-1", "CreateReplicator") in aws.recorder.calls
    assert ("cloudwatch@us-west-2", "GetMetricData") in aws.recorder.calls
    # The stop condition read DR's alarms, in DR's region, before each of the 8 actions and waits.
    assert (aws.alarm_checks(WEST), aws.alarm_checks(EAST)) == (8, 0)


def test_a_critical_alarm_of_dr_stops_the_failover_before_the_switch_and_it_is_undone(
    tmp_path: Path, aws: Aws
) -> None:
    _through_create_reverse(aws)
    # Quiet for the 5 actions and waits up to create-reverse, then a broker of DR below min ISR.
    alarm = "dataplat-staging-events-dr-under-min-isr-broker-2-critical"
    aws.firing[WEST] += [[], [], [], [], [], [alarm]]
    # The rollback, newest first: this run's reverse deleted, the jobs started, the producers released.
    aws.reverse_deleted(aws.reverse())
    aws.started()
    aws.released()
    with pytest.raises(OpsError) as stopped:
        _run(tmp_path, aws, ClockedFailover(FakeClock()), {})
    aws.done()
    assert str(stopped.value) == (
        f"stopped before switch: critical alarms of events_dr: {alarm} in ALARM on {DR}"
    )
    operations = [op for _, op in aws.recorder.calls]
    assert "PutParameter" not in operations  # the clients never moved
    events = _journal(tmp_path, aws.run_id)
    stop = next(e for e in events if e["event"] == "stop-condition")
    assert (stop["step"], stop["condition"]) == ("switch", "critical alarms of events_dr")
    rolled = [e["step"] for e in events if e["event"] == "step-rolled-back"]
    assert rolled == ["approve-failover", "create-reverse", "stop-consumers", "pause-producers"]


def test_the_stop_condition_reads_only_the_destinations_health_alarms_by_name() -> None:
    """Not the primary's (a prefix `events-` would take `events-dr-` too), not the consumers'
    lag (it grows while the move holds them), not the warnings."""
    from runbooks.msk_failover.aws_move import destination_alarm_names

    env = _env()
    names = destination_alarm_names(env, "events", env.components_of(Msk)["events"])
    assert "dataplat-staging-events-offline-partitions-critical" in names
    assert "dataplat-staging-events-under-min-isr-broker-3-critical" in names
    assert not [n for n in names if n.startswith("dataplat-staging-events-dr-")]
    assert not [n for n in names if "lag" in n or not n.endswith("-critical")]


def test_a_failed_replicator_is_refused_in_the_preflight_in_one_line(tmp_path: Path, aws: Aws) -> None:
    _check_clusters_planned(aws, _replicator(FORWARD, FORWARD_ARN, state="FAILED"))
    with pytest.raises(OpsError) as refused:
        _run(tmp_path, aws, ClockedFailover(FakeClock()), {})
    message = str(refused.value)
    assert message == (
        f"MSK replicator {FORWARD} is FAILED (ReplicatorFailed: cannot reach the target), not RUNNING; "
        "see it in the MSK console, fix it, then run again"
    )
    changes = {"PutFunctionConcurrency", "BatchStopJobRun", "CreateReplicator", "PutParameter"}
    assert not changes & {op for _, op in aws.recorder.calls}


def test_a_consumer_group_with_no_job_is_refused_when_the_run_is_planned(tmp_path: Path) -> None:
    text = INVENTORY.read_text().replace(", job: insurance-raw-to-processed", "")
    inventory = tmp_path / "platform.yaml"
    inventory.write_text(text)
    env = load_inventory(inventory).environment("staging")
    with pytest.raises(BadInput) as refused:
        MskFailover().steps(env, MskFailover().params_model.model_validate({}))
    assert str(refused.value) == (
        "components.events.consumer_groups: group glue-insurance-etl names no job; set its `job` to the "
        "Glue job that consumes it (msk-failover stops and starts it on AWS)"
    )


class DieAfterCreate(Control):
    """The process dies (as under SIGKILL: no rollback) once CreateReplicator was called,
    before the journal says the step completed."""

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        if step.id == "create-reverse" and name == "changed":
            raise SystemExit("killed")


def test_a_run_resumed_after_dying_between_create_replicator_and_the_journal_creates_no_second(
    tmp_path: Path, aws: Aws
) -> None:
    _through_create_reverse(aws, wait=False)  # it dies before waiting for RUNNING
    clock = FakeClock()
    with pytest.raises(SystemExit):
        _run(tmp_path, aws, ClockedFailover(clock), {}, controls=(DieAfterCreate(),))
    aws.done()
    events = _journal(tmp_path, aws.run_id)
    assert {"event": "step-noted", "step": "create-reverse"}.items() <= events[-1].items()
    # The resumed run finds this run's reverse replicator (its description names the run) and
    # waits for it: no second CreateReplicator, one switch.
    aws.recorder.calls.clear()
    aws.found(aws.reverse("CREATING"), EAST)
    aws.described(aws.reverse(), EAST)
    _after_create_reverse(aws)
    outcome = _run(tmp_path, aws, ClockedFailover(clock), {})
    aws.done()
    assert outcome.record.status == "completed"
    operations = [op for _, op in aws.recorder.calls]
    assert "CreateReplicator" not in operations
    assert operations.count("PutParameter") == 1
    assert "BatchStopJobRun" not in operations  # steps done before the crash are not done again


# --- unplanned -------------------------------------------------------------------------------
def test_an_unplanned_failover_skips_the_primary_detaches_the_replicator_and_estimates_the_loss(
    tmp_path: Path, aws: Aws
) -> None:
    forward = _replicator(FORWARD, FORWARD_ARN)
    detached = _replicator(FORWARD, FORWARD_ARN, excluded=TOPICS)
    aws.published(ON_PRIMARY)
    aws.cluster(DR, DR_ARN, WEST)  # the primary is not asked
    aws.found(forward, WEST)
    aws.missing(REVERSE, EAST)
    # detach-replicator: every topic excluded, the replicator updated until RUNNING.
    aws.found(forward, WEST)
    aws.stub("kafka", WEST).add_response(
        "update_replication_info",
        {"ReplicatorArn": FORWARD_ARN, "ReplicatorState": "UPDATING"},
        {
            "ReplicatorArn": FORWARD_ARN,
            "CurrentVersion": "K1",
            "SourceKafkaClusterArn": PRIMARY_ARN,
            "TargetKafkaClusterArn": DR_ARN,
            "TopicReplication": {
                "TopicsToReplicate": TOPICS,
                "TopicsToExclude": TOPICS,
                "CopyTopicConfigurations": True,
                "CopyAccessControlListsForTopics": True,
                "DetectAndCopyNewTopics": True,
            },
        },
    )
    aws.described(detached, WEST)
    aws.concurrency_read()
    aws.held()
    aws.stopped()
    # record-recovery-point: the replicator's last points before the primary was lost.
    queries = [
        _query("lag", "MessageLag", {"ReplicatorName": FORWARD}, "Sum"),
        _query("latency", "ReplicationLatency", {"ReplicatorName": FORWARD}, "Maximum"),
    ]
    aws.metric(WEST, queries, {"lag": [(minute(-2), 37.0)], "latency": [(minute(-2), 1840.0)]})
    aws.switched(DR, DR_BROKERS, DR_ARN, WEST, before=ON_PRIMARY)
    aws.started()
    aws.released()
    aws.published(ON_DR)
    for job in JOBS:
        aws.job_runs(job, "RUNNING", "jr_2")
    outcome = _run(tmp_path, aws, ClockedFailover(FakeClock()), {"mode": "unplanned"})
    aws.done()
    assert outcome.record.status == "completed"
    events = _journal(tmp_path, aws.run_id)
    skipped = [e["step"] for e in events if e["event"] == "step-skipped"]
    assert skipped == [
        "check-replication",
        "check-groups",
        "wait-replicated",
        "wait-offsets-synced",
        "create-reverse",
    ]
    noted = [e for e in events if e["event"] == "step-noted" and e["step"] == "detach-replicator"]
    assert noted[0]["fields"] == {"excluded_before": []}  # what the undo and the failback restore
    outputs = events[-1]["outputs"]
    assert outputs["RecoveryPoint"] == {"messages": 37, "seconds": 1.84}
    point = [e for e in events if e.get("step") == "record-recovery-point" and e["event"] == "step-completed"]
    assert point[0]["outputs"]["estimated"] is True
    assert "only the producers' acknowledgements" in point[0]["outputs"]["stranded_ids"]
    assert ("kafka@us-east-1", "DescribeClusterV2") not in aws.recorder.calls


# --- failback --------------------------------------------------------------------------------
def _failback_check(aws: Aws, forward: dict[str, Any], reverse: dict[str, Any] | None) -> None:
    aws.published(ON_DR)
    aws.cluster(PRIMARY, PRIMARY_ARN, EAST)
    aws.cluster(DR, DR_ARN, WEST)
    aws.found(forward, WEST)
    aws.brokers(DR_ARN, DR_BROKERS, WEST)
    if reverse is None:
        aws.missing(REVERSE, EAST)
    else:
        aws.found(reverse, EAST)


def test_a_failback_after_a_planned_failover_follows_the_guide_and_deletes_the_reverse(
    tmp_path: Path, aws: Aws
) -> None:
    failover_run = "msk-failover-run-0"
    made = f"msk-failover run {failover_run}: the reverse of {FORWARD}, for the failback"
    reverse = _replicator(REVERSE, REVERSE_ARN, description=made)
    forward = _replicator(FORWARD, FORWARD_ARN)
    _failback_check(aws, forward, reverse)
    aws.found(reverse, EAST)  # create-reverse: the failover's runs, nothing created
    aws.found(forward, WEST)  # republish: nothing detached, nothing to re-attach
    aws.concurrency_read()
    aws.held()
    aws.message_lag(EAST, REVERSE, [(minute(1), 0.0)])  # the reverse has copied everything back
    aws.stopped()
    aws.offset_lags((PRIMARY, EAST), (DR, WEST), minute(2))
    aws.switched(PRIMARY, PRIMARY_BROKERS, PRIMARY_ARN, EAST, before=ON_DR)
    aws.started()
    aws.released()
    aws.reverse_deleted(reverse)  # delete-reverse
    aws.published(ON_PRIMARY)  # post-check: the original replicator copies again
    aws.found(forward, WEST)
    throughput = _query("throughput", "ReplicatorThroughput", {"ReplicatorName": FORWARD}, "Sum")
    aws.metric(WEST, [throughput], {"throughput": []})
    aws.metric(WEST, [throughput], {"throughput": [(minute(3), 5120.0)]})
    outcome = _run(tmp_path, aws, ClockedFailback(FakeClock()), {})
    aws.done()
    assert outcome.record.status == "completed"
    events = _journal(tmp_path, aws.run_id)
    assert events[-1]["outputs"]["ActiveCluster"] == "events"
    noted = [e["fields"] for e in events if e["event"] == "step-noted" and e["step"] == "delete-reverse"]
    assert noted[0] == {"deleted": REVERSE, "role": ROLE_ARN, "owner": failover_run}  # for its undo
    operations = [op for _, op in aws.recorder.calls]
    assert "CreateReplicator" not in operations and operations.count("DeleteReplicator") == 1
    assert operations.index("DeleteReplicator") > operations.index("DeleteFunctionConcurrency")
    # Failing back, the clients move to the primary: its alarms are the stop condition.
    assert (aws.alarm_checks(EAST), aws.alarm_checks(WEST)) == (10, 0)


def test_message_lag_never_zero_fails_the_wait_and_the_rollback_undoes_in_reverse_order(
    tmp_path: Path, aws: Aws
) -> None:
    """A failback after an unplanned failover: the reverse replicator is made by this run, the
    replicator re-attached, the producers held; the reverse's MessageLag never reaches 0."""
    detached = _replicator(FORWARD, FORWARD_ARN, excluded=TOPICS)
    attached = _replicator(FORWARD, FORWARD_ARN)
    _failback_check(aws, detached, None)
    aws.missing(REVERSE, EAST)  # create-reverse: none, so this run creates it
    aws.reverse_created(forward=detached)  # not with the detach's exclusions
    aws.found(detached, WEST)  # republish
    aws.stub("kafka", WEST).add_response(
        "update_replication_info",
        {"ReplicatorArn": FORWARD_ARN, "ReplicatorState": "UPDATING"},
        {
            "ReplicatorArn": FORWARD_ARN,
            "CurrentVersion": "K1",
            "SourceKafkaClusterArn": PRIMARY_ARN,
            "TargetKafkaClusterArn": DR_ARN,
            "TopicReplication": {
                "TopicsToReplicate": TOPICS,
                "TopicsToExclude": [],
                "CopyTopicConfigurations": True,
                "CopyAccessControlListsForTopics": True,
                "DetectAndCopyNewTopics": True,
            },
        },
    )
    aws.described(attached, WEST)
    aws.message_lag(WEST, FORWARD, [(minute(2), 0.0)])  # what the primary kept reached DR
    aws.concurrency_read()
    aws.held()
    for _ in range(4):  # 0, 15, 30 s, and 45 s is past the 30 s timeout
        aws.message_lag(EAST, REVERSE, [(minute(3), 880.0)])
    # The rollback, newest first: producers released, then this run's reverse deleted.
    aws.released()
    aws.reverse_deleted(aws.reverse())
    with pytest.raises(OpsError) as failed:
        _run(tmp_path, aws, ClockedFailback(FakeClock()), {"lag_timeout_seconds": 30})
    aws.done()
    assert str(failed.value) == (
        f"replicator {REVERSE}'s MessageLag did not reach 0 within 30 s (880 messages behind); raise "
        "-p lag_timeout_seconds (CloudWatch has a point a minute), or see the replicator in the MSK console"
    )
    operations = [op for _, op in aws.recorder.calls]
    failed_at = max(i for i, op in enumerate(operations) if op == "GetMetricData")
    undo = [op for op in operations[failed_at + 1 :] if op not in ("ListReplicators", "DescribeReplicator")]
    assert undo == ["PutFunctionConcurrency", "DeleteFunctionConcurrency", "DeleteReplicator"]
    assert "StartJobRun" not in operations  # the consumers were not stopped yet: nothing to start
    events = _journal(tmp_path, aws.run_id)
    rolled = [e["step"] for e in events if e["event"] == "step-rolled-back"]
    assert rolled == ["pause-producers", "approve-republish", "create-reverse"]
    assert events[-1]["event"] == "run-failed"


def test_consumer_offsets_never_on_dr_fail_the_wait_and_the_rollback_starts_the_jobs_then_the_producers(
    tmp_path: Path, aws: Aws
) -> None:
    _check_clusters_planned(aws)
    latency = _query("latency", "ReplicationLatency", {"ReplicatorName": FORWARD}, "Maximum")
    aws.metric(WEST, [latency], {"latency": [(minute(-1), 2500.0)]})
    aws.found(_replicator(FORWARD, FORWARD_ARN), WEST)
    aws.concurrency_read()
    aws.held()
    aws.message_lag(WEST, FORWARD, [(minute(1), 0.0)])
    aws.stopped()
    for side, cluster, region in (("d", DR, WEST), ("o", PRIMARY, EAST)):  # 0, 15 s; 30 s is past 20 s
        queries = [
            _query(
                f"{side}{i}",
                "SumOffsetLag",
                {"Cluster Name": cluster, "Consumer Group": g, "Topic": t},
                "Maximum",
            )
            for i, (g, t) in enumerate(GROUPS.items())
        ]
        points = {q["Id"]: [] if side == "d" else [(minute(2), 0.0)] for q in queries}
        for _ in range(3):
            aws.metric(region, queries, points)
    for job in JOBS:  # the rollback: the jobs it stopped started again, then the producers released
        aws.stub("glue").add_response(
            "get_job_runs",
            {"JobRuns": [{"Id": "jr_1", "JobName": job, "JobRunState": "STOPPED"}]},
            {"JobName": job, "MaxResults": 50},
        )
        aws.stub("glue").add_response("start_job_run", {"JobRunId": "jr_2"}, {"JobName": job})
    aws.released()
    with pytest.raises(OpsError, match=r"^no offsets of glue-financial-etl \(raw_financial_transactions\), "):
        _run(tmp_path, aws, ClockedFailover(FakeClock()), {"offset_sync_timeout_seconds": 20})
    aws.done()
    operations = [op for _, op in aws.recorder.calls]
    last_wait = max(i for i, op in enumerate(operations) if op == "GetMetricData")
    undo = [op for op in operations[last_wait + 1 :] if op != "GetJobRuns"]
    assert undo == ["StartJobRun", "StartJobRun", "PutFunctionConcurrency", "DeleteFunctionConcurrency"]
