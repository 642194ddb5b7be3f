"""aurora-failover's AWS provider in the global modes, call by call, run by the real engine
(journal, notes, stop conditions, rollback, resume): the emulator serves no
SwitchoverGlobalCluster or FailoverGlobalCluster, so botocore's Stubber answers every client
(RDS and CloudWatch in both regions, SSM) and checks each call's parameters against the
service model. Mode writer runs on the emulator (tests/integration/test_aurora_failover_aws.py).

Every test also checks that each call a step made is one its row declares (aws_plan.py: the
IAM policy is made from them), and those of the stop condition and the rollbacks theirs."""

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
from parliament import analyze_policy_string  # type: ignore[import-untyped]

from ops.contracts import DatabaseEndpoint
from ops.errors import BadInput, OpsError
from ops.inventory import load_inventory
from ops.inventory.environment import Environment
from ops.runbook.controls import Control
from ops.runbook.engine import RunbookEngine, RunOutcome
from ops.runbook.iam import actions_of, aws_calls, policy
from ops.runbook.model import RunContext, Step
from ops.state import StateDir
from runbooks.aurora_failover.aws import AwsSteps
from runbooks.aurora_failover.steps import AuroraFailover
from tests.helpers import INVENTORY
from tests.runbook_controls import FailAt

ACCOUNT = "210987654321"
EAST, WEST = "us-east-1", "us-west-2"
PRIMARY, SECONDARY = "dataplat-staging-warehouse", "dataplat-staging-warehouse-dr"
PRIMARY_ARN = f"arn:aws:rds:{EAST}:{ACCOUNT}:cluster:{PRIMARY}"
SECONDARY_ARN = f"arn:aws:rds:{WEST}:{ACCOUNT}:cluster:{SECONDARY}"
GLOBAL = "dataplat-staging-warehouse-global"
GLOBAL_ARN = f"arn:aws:rds::{ACCOUNT}:global-cluster:{GLOBAL}"
SECONDARY_WRITER = f"{SECONDARY}-1"
SECONDARY_ENDPOINT = f"{SECONDARY}.cluster-abc.{WEST}.rds.amazonaws.com"
PARAMETER = "/dataplat/staging/warehouse/endpoint"
BEFORE = DatabaseEndpoint(f"{PRIMARY}.cluster-xyz.{EAST}.rds.amazonaws.com", 5432, "warehouse", "ingest")
AFTER = DatabaseEndpoint(SECONDARY_ENDPOINT, 5432, "warehouse", "ingest")
ALARMS = "dataplat-staging-warehouse-"
START = datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC)
OBJECTIVE_S = 300.0  # the shipped inventory's warehouse RPO: 5m
# The query as CloudWatch's RDS metrics name it (not from the provider's code).
LAG_QUERY = {
    "Id": "lag",
    "MetricStat": {
        "Metric": {
            "Namespace": "AWS/RDS",
            "MetricName": "AuroraGlobalDBRPOLag",
            "Dimensions": [{"Name": "DBClusterIdentifier", "Value": SECONDARY}],
        },
        "Period": 60,
        "Stat": "Maximum",
    },
    "ReturnData": True,
}


def _inventory(folder: Path, engine: str = "aurora-postgresql", global_cluster: bool = True) -> Path:
    """The shipped inventory with the warehouse an Aurora global database's primary (or
    only an Aurora cluster, or RDS PostgreSQL as shipped)."""
    text = INVENTORY.read_text()
    aurora = f"      engine: {engine}\n"
    if engine == "aurora-postgresql":
        aurora += "      readers: 1\n"
    if global_cluster:
        aurora += (
            "      global_cluster: {identifier: warehouse-global, secondary_region: us-west-2,\n"
            "                       secondary_identifier: warehouse-dr}\n"
        )
    assert "      engine: postgres\n" in text
    path = folder / f"platform-{engine}-{global_cluster}.yaml"
    path.write_text(text.replace("      engine: postgres\n", aurora, 1))
    return path


class FakeClock:
    """Monotonic and wall time that move only when the provider sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def wall(self) -> datetime:
        return START + timedelta(seconds=self.now - 1000.0)


class Recorder(Control):
    """Every AWS call in the order made, with where the run was: inside a step (its id),
    or after one (`after:<id>`: the stop conditions before the next, or the rollbacks)."""

    def __init__(self) -> None:
        self.where = "start"
        self.calls: list[tuple[str, str, str]] = []  # (where, client@region, Operation)

    def hook(self, label: str) -> Any:
        def record(model: Any, **_: Any) -> None:
            self.calls.append((self.where, label, model.name))

        return record

    def before_step(self, ctx: RunContext, step: Step) -> None:
        self.where = step.id

    def after_step(self, ctx: RunContext, step: Step) -> None:
        self.where = f"after:{step.id}"

    def operations(self, label: str | None = None) -> list[str]:
        return [op for _, lab, op in self.calls if label in (None, lab)]

    def sequence(self) -> list[tuple[str, str]]:
        """The calls other than the alarms' (the stop condition reads them between steps)."""
        return [(lab, op) for _, lab, op in self.calls if not lab.startswith("alarms@")]


class AlarmsApart:
    """A CloudWatch client whose DescribeAlarms (check-alarms, and the stop condition before
    every action and wait) goes to a client stubbed apart, answered when called (none firing
    unless a test says) and still checked against the service model; the other CloudWatch
    calls keep their stubbed order."""

    def __init__(self, client: Any, alarms: Any, stub: Stubber, firing: list[list[str]]) -> None:
        self._client, self._alarms, self._stub, self._firing = client, alarms, stub, firing

    def describe_alarms(self, **request: Any) -> Any:
        names = self._firing.pop(0) if self._firing else []
        found = [{"AlarmName": name, "StateValue": "ALARM"} for name in names]
        expected = {"AlarmNamePrefix": ALARMS, "StateValue": "ALARM"}
        self._stub.add_response("describe_alarms", {"MetricAlarms": found}, expected)
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
    firing: dict[str, list[list[str]]] = field(default_factory=lambda: {EAST: [], WEST: []})

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or EAST
        if service == "cloudwatch":
            alarms = self.clients[("alarms", region)]
            return AlarmsApart(
                self.clients[(service, region)], alarms, self.stub("alarms", region), self.firing[region]
            )
        return self.clients[(service, region)]

    def stub(self, service: str, region: str = EAST) -> Stubber:
        return self.stubs[(service, region)]

    def done(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()

    # --- answers ------------------------------------------------------------------------
    def global_cluster(
        self, region: str, writer: str, status: str = "available", moving: str | None = None
    ) -> None:
        members = [
            {"DBClusterArn": arn, "IsWriter": arn == writer, "Readers": []}
            for arn in (PRIMARY_ARN, SECONDARY_ARN)
        ]
        found: dict[str, Any] = {
            "GlobalClusterIdentifier": GLOBAL,
            "GlobalClusterArn": GLOBAL_ARN,
            "Status": status,
            "Engine": "aurora-postgresql",
            "GlobalClusterMembers": members,
        }
        if moving:
            found["FailoverState"] = {
                "Status": "switching-over",
                "FromDbClusterArn": writer,
                "ToDbClusterArn": moving,
            }
        self.stub("rds", region).add_response(
            "describe_global_clusters", {"GlobalClusters": [found]}, {"GlobalClusterIdentifier": GLOBAL}
        )

    def cluster(
        self, name: str, arn: str, region: str, status: str = "available", writer: bool = True
    ) -> None:
        instance = f"{name}-1"
        found = {
            "DBClusterIdentifier": name,
            "DBClusterArn": arn,
            "Status": status,
            "Engine": "aurora-postgresql",
            "Endpoint": f"{name}.cluster-abc.{region}.rds.amazonaws.com"
            if name == SECONDARY
            else BEFORE.host,
            "Port": 5432,
            "DBClusterMembers": [{"DBInstanceIdentifier": instance, "IsClusterWriter": writer}],
        }
        self.stub("rds", region).add_response(
            "describe_db_clusters", {"DBClusters": [found]}, {"DBClusterIdentifier": name}
        )

    def instance(self, name: str, region: str, status: str = "available") -> None:
        found = {
            "DBInstanceIdentifier": name,
            "DBInstanceStatus": status,
            "DBInstanceClass": "db.r6g.large",
            "Engine": "aurora-postgresql",
        }
        self.stub("rds", region).add_response(
            "describe_db_instances", {"DBInstances": [found]}, {"DBInstanceIdentifier": name}
        )

    def lag(self, points: list[tuple[datetime, float]]) -> None:
        """AuroraGlobalDBRPOLag points (milliseconds), newest first, in the secondary's region."""
        result = {
            "Id": "lag",
            "Timestamps": [at for at, _ in points],
            "Values": [value for _, value in points],
            "StatusCode": "Complete",
        }
        self.stub("cloudwatch", WEST).add_response(
            "get_metric_data",
            {"MetricDataResults": [result]},
            {
                "MetricDataQueries": [LAG_QUERY],
                "StartTime": ANY,
                "EndTime": ANY,
                "ScanBy": "TimestampDescending",
            },
        )

    def published(self, endpoint: DatabaseEndpoint) -> None:
        self.stub("ssm").add_response(
            "get_parameter",
            {"Parameter": {"Name": PARAMETER, "Value": endpoint.to_json(), "Type": "String"}},
            {"Name": PARAMETER},
        )

    def put(self, endpoint: DatabaseEndpoint) -> None:
        self.stub("ssm").add_response(
            "put_parameter",
            {"Version": 2},
            {"Name": PARAMETER, "Value": endpoint.to_json(), "Type": "String", "Overwrite": True},
        )

    def moved(self, operation: str, expected: dict[str, Any], region: str = WEST) -> None:
        answer = {"GlobalCluster": {"GlobalClusterIdentifier": GLOBAL, "Status": "switching-over"}}
        self.stub("rds", region).add_response(operation, answer, expected)


@pytest.fixture
def aws() -> Iterator[Aws]:
    recorder = Recorder()
    clients: dict[tuple[str, str], Any] = {}
    stubs: dict[tuple[str, str], Stubber] = {}
    for service in ("rds", "cloudwatch", "alarms", "ssm"):
        for region in (EAST, WEST):
            model = "cloudwatch" if service == "alarms" else service
            client = boto3.client(model, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
            client.meta.events.register("before-call.*.*", recorder.hook(f"{service}@{region}"))
            stubs[(service, region)] = Stubber(client)
            stubs[(service, region)].activate()
            clients[(service, region)] = client
    yield Aws(clients, stubs, recorder)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The provider's clocks (its class attributes, restored after the test)."""
    fake = FakeClock()
    monkeypatch.setattr(AwsSteps, "clock", staticmethod(fake))
    monkeypatch.setattr(AwsSteps, "sleep", staticmethod(fake.sleep))
    monkeypatch.setattr(AwsSteps, "now", staticmethod(fake.wall))
    return fake


@pytest.fixture
def env(tmp_path: Path) -> Environment:
    return load_inventory(_inventory(tmp_path)).environment("staging")


def _params(**given: Any) -> Any:
    return AuroraFailover.params_model.model_validate(given)


def _run(
    tmp_path: Path, aws: Aws, env: Environment, controls: tuple[Control, ...] = (), **given: Any
) -> RunOutcome:
    engine = RunbookEngine(StateDir(tmp_path / "state"), aws=aws, controls=(*controls, aws.recorder))
    return engine.run(
        AuroraFailover(),
        env,
        _params(**given),
        execute=True,
        approve=lambda _step: "tester",
        run_id=aws.run_id,
    )


def _journal(tmp_path: Path, run_id: str) -> list[dict[str, Any]]:
    lines = (tmp_path / "state" / "runs" / run_id / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _iam(label: str, operation: str) -> str:
    service = label.split("@")[0]
    return f"{'cloudwatch' if service == 'alarms' else service}:{operation}"


def _assert_declared(recorder: Recorder, env: Environment, **given: Any) -> None:
    """Each call made inside a step is one of the step's declared calls; each made between
    steps (the stop condition, the rollbacks) one of the stop conditions' or rollbacks'."""
    runbook, params = AuroraFailover(), _params(**given)
    steps = {step.id: step for step in runbook.steps(env, params)}
    between = {call for stop in runbook.stop_conditions(env, params) for call in stop.calls}
    between |= {call for step in steps.values() for call in step.rollback_calls}
    for where, label, operation in recorder.calls:
        allowed = set(steps[where].calls) if where in steps else between
        assert _iam(label, operation) in allowed, (where, label, operation)


# --- a planned switchover ---------------------------------------------------------------
def _checks(aws: Aws, mode: str) -> None:
    """check-cluster: the global cluster and the secondary in its region (a switchover reads
    the primary in its own too), the secondary's instance; check-lag."""
    aws.global_cluster(WEST, writer=PRIMARY_ARN)
    aws.cluster(SECONDARY, SECONDARY_ARN, WEST, writer=False)
    if mode == "switchover":
        aws.cluster(PRIMARY, PRIMARY_ARN, EAST)
    aws.instance(SECONDARY_WRITER, WEST)
    # 1.2 s at worst in the last minutes (milliseconds, newest first), under the 300 s RPO.
    aws.lag([(START - timedelta(minutes=1), 800.0), (START - timedelta(minutes=2), 1200.0)])


def _moved(aws: Aws, operation: str, expected: dict[str, Any]) -> None:
    """fail-over: where the writer is, then the move; wait-writer: under way, then done."""
    aws.global_cluster(WEST, writer=PRIMARY_ARN)
    aws.moved(operation, expected)
    aws.global_cluster(WEST, writer=PRIMARY_ARN, status="switching-over", moving=SECONDARY_ARN)
    aws.global_cluster(WEST, writer=SECONDARY_ARN)
    aws.cluster(SECONDARY, SECONDARY_ARN, WEST)
    aws.instance(SECONDARY_WRITER, WEST)


def _cut_over(aws: Aws) -> None:
    aws.published(BEFORE)
    aws.put(AFTER)


SWITCHOVER = {"GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": SECONDARY_ARN}


def test_a_switchover_moves_the_writer_to_the_secondary_by_its_arn_and_cuts_over(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    _checks(aws, "switchover")
    _moved(aws, "switchover_global_cluster", SWITCHOVER)
    _cut_over(aws)
    aws.published(AFTER)  # post-check
    outcome = _run(tmp_path, aws, env, mode="switchover")
    aws.done()
    assert outcome.record.status == "completed"
    assert aws.recorder.sequence() == [
        ("rds@us-west-2", "DescribeGlobalClusters"),
        ("rds@us-west-2", "DescribeDBClusters"),
        ("rds@us-east-1", "DescribeDBClusters"),
        ("rds@us-west-2", "DescribeDBInstances"),
        ("cloudwatch@us-west-2", "GetMetricData"),
        ("rds@us-west-2", "DescribeGlobalClusters"),
        ("rds@us-west-2", "SwitchoverGlobalCluster"),
        ("rds@us-west-2", "DescribeGlobalClusters"),
        ("rds@us-west-2", "DescribeGlobalClusters"),
        ("rds@us-west-2", "DescribeDBClusters"),
        ("rds@us-west-2", "DescribeDBInstances"),
        ("ssm@us-east-1", "GetParameter"),
        ("ssm@us-east-1", "PutParameter"),
        ("ssm@us-east-1", "GetParameter"),
    ]
    # check-alarms, then the stop condition before fail-over, wait-writer and cutover: east.
    assert aws.recorder.operations("alarms@us-east-1") == ["DescribeAlarms"] * 4
    assert clock.slept  # the wait polled again while the switchover was under way
    outputs = outcome.record.outputs
    assert (outputs["OldWriter"], outputs["NewWriter"], outputs["Mode"]) == (PRIMARY, SECONDARY, "switchover")
    assert outcome.record.completed["check-lag"]["lag_seconds"] == 1.2
    assert outcome.record.completed["wait-writer"]["endpoint"] == {
        "Address": SECONDARY_ENDPOINT,
        "Port": 5432,
    }
    _assert_declared(aws.recorder, env, mode="switchover")


def test_a_switchover_is_refused_while_the_secondary_lags_over_the_objective(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    aws.global_cluster(WEST, writer=PRIMARY_ARN)
    aws.cluster(SECONDARY, SECONDARY_ARN, WEST, writer=False)
    aws.cluster(PRIMARY, PRIMARY_ARN, EAST)
    aws.instance(SECONDARY_WRITER, WEST)
    aws.lag([(START - timedelta(minutes=1), 2_000.0), (START - timedelta(minutes=3), 412_500.0)])
    with pytest.raises(OpsError) as refused:
        _run(tmp_path, aws, env, mode="switchover")
    aws.done()
    assert str(refused.value) == (
        f"the secondary {SECONDARY} lags by 412.5 s (AuroraGlobalDBRPOLag, the last 5 min), over the RPO "
        "objective of 300 s (objectives.warehouse.rpo): wait until it catches up, then run again"
    )
    assert "SwitchoverGlobalCluster" not in aws.recorder.operations()
    assert "PutParameter" not in aws.recorder.operations()
    events = _journal(tmp_path, aws.run_id)
    assert [e["step"] for e in events if e["event"] == "step-completed"] == ["check-cluster"]
    assert not [e for e in events if e["event"] in ("step-noted", "step-rolled-back")]  # nothing to undo
    _assert_declared(aws.recorder, env, mode="switchover")


def test_a_failed_switchover_run_switches_back_to_the_old_primary_in_its_region(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    _checks(aws, "switchover")
    _moved(aws, "switchover_global_cluster", SWITCHOVER)
    _cut_over(aws)
    # The rollback, newest first: the parameter back (read back), then the writer back, the
    # global calls in the region of the cluster they promote (the old primary's).
    aws.put(BEFORE)
    aws.published(BEFORE)
    aws.global_cluster(EAST, writer=SECONDARY_ARN)
    aws.moved("switchover_global_cluster", {**SWITCHOVER, "TargetDbClusterIdentifier": PRIMARY_ARN}, EAST)
    aws.global_cluster(EAST, writer=PRIMARY_ARN)
    with pytest.raises(OpsError, match="injected failure at before:post-check"):
        _run(tmp_path, aws, env, controls=(FailAt("before:post-check"),), mode="switchover")
    aws.done()
    events = _journal(tmp_path, aws.run_id)
    rolled = [e["step"] for e in events if e["event"] == "step-rolled-back"]
    assert rolled == ["cutover", "fail-over", "approve-failover"]
    assert events[-1]["event"] == "run-failed"
    _assert_declared(aws.recorder, env, mode="switchover")


class StillSwitching:
    """The secondary region's RDS client whose DescribeGlobalClusters, past the first
    `after` (answered as queued), finds the switchover under way whenever asked: a
    switchover that never ends, however often the wait polls."""

    def __init__(self, aws: Aws, after: int) -> None:
        self._client, self._stub, self._after = aws.clients[("rds", WEST)], aws.stub("rds", WEST), after

    def describe_global_clusters(self, **request: Any) -> Any:
        if self._after > 0:
            self._after -= 1
        else:
            state = {
                "Status": "switching-over",
                "FromDbClusterArn": PRIMARY_ARN,
                "ToDbClusterArn": SECONDARY_ARN,
            }
            members = [
                {"DBClusterArn": PRIMARY_ARN, "IsWriter": True, "Readers": []},
                {"DBClusterArn": SECONDARY_ARN, "IsWriter": False, "Readers": []},
            ]
            found = {
                "GlobalClusterIdentifier": GLOBAL,
                "Status": "switching-over",
                "GlobalClusterMembers": members,
                "FailoverState": state,
            }
            self._stub.add_response("describe_global_clusters", {"GlobalClusters": [found]}, request)
        return self._client.describe_global_clusters(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_switchover_that_does_not_end_within_the_timeout_stops_and_is_undone(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    _checks(aws, "switchover")
    aws.global_cluster(WEST, writer=PRIMARY_ARN)
    aws.moved("switchover_global_cluster", SWITCHOVER)
    aws.clients[("rds", WEST)] = StillSwitching(aws, after=2)  # check-cluster's and fail-over's
    # The undo: the global cluster settled back with its primary the writer: nothing to switch.
    aws.global_cluster(EAST, writer=PRIMARY_ARN)
    with pytest.raises(OpsError) as stopped:
        _run(tmp_path, aws, env, mode="switchover", ready_timeout_seconds=60)
    aws.done()
    assert str(stopped.value) == (
        f"{SECONDARY} did not become the available writer of the global cluster {GLOBAL} (writer: "
        f"{PRIMARY_ARN}) within 60 s (-p ready_timeout_seconds); see the cluster's events in the RDS console"
    )
    assert aws.recorder.operations().count("SwitchoverGlobalCluster") == 1
    events = _journal(tmp_path, aws.run_id)
    assert [e["step"] for e in events if e["event"] == "step-rolled-back"] == [
        "fail-over",
        "approve-failover",
    ]
    assert events[-1]["event"] == "run-failed"


def test_a_refusal_inside_the_wait_is_said_as_it_is_not_as_a_timeout(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    _checks(aws, "switchover")
    aws.global_cluster(WEST, writer=PRIMARY_ARN)
    aws.moved("switchover_global_cluster", SWITCHOVER)
    aws.stub("rds", WEST).add_client_error(
        "describe_global_clusters",
        "GlobalClusterNotFoundFault",
        expected_params={"GlobalClusterIdentifier": GLOBAL},
    )
    aws.stub("rds", EAST).add_client_error(  # the undo finds it gone too: left to the operator
        "describe_global_clusters",
        "GlobalClusterNotFoundFault",
        expected_params={"GlobalClusterIdentifier": GLOBAL},
    )
    with pytest.raises(OpsError) as stopped:
        _run(tmp_path, aws, env, mode="switchover")
    aws.done()
    gone = f"the global cluster {GLOBAL} does not exist (asked in"
    assert str(stopped.value).startswith(
        f"{gone} {WEST}); see components.warehouse.global_cluster; then could not "
    )
    assert f"fail-over ({gone} {EAST})" in str(stopped.value) and "within" not in str(stopped.value)


class DieAfterTheRequest(Control):
    """The process dies (as under SIGKILL: no rollback) once the move was requested, before
    the journal says fail-over completed."""

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        if step.id == "fail-over" and name == "requested":
            raise SystemExit("killed")


def test_a_switchover_resumed_after_dying_past_its_request_requests_no_second(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    _checks(aws, "switchover")
    aws.global_cluster(WEST, writer=PRIMARY_ARN)
    aws.moved("switchover_global_cluster", SWITCHOVER)
    with pytest.raises(SystemExit):
        _run(tmp_path, aws, env, controls=(DieAfterTheRequest(),), mode="switchover")
    noted = [e for e in _journal(tmp_path, aws.run_id) if e["event"] == "step-noted"]
    assert noted[-1]["fields"]["old_writer_arn"] == PRIMARY_ARN  # what an abort would switch back to
    # Resumed: the switchover is under way, so fail-over only reads; then the wait and the rest.
    aws.global_cluster(WEST, writer=PRIMARY_ARN, status="switching-over", moving=SECONDARY_ARN)
    aws.global_cluster(WEST, writer=SECONDARY_ARN)
    aws.cluster(SECONDARY, SECONDARY_ARN, WEST)
    aws.instance(SECONDARY_WRITER, WEST)
    _cut_over(aws)
    aws.published(AFTER)
    outcome = _run(tmp_path, aws, env, mode="switchover")
    aws.done()
    assert outcome.record.status == "completed"
    assert aws.recorder.operations().count("SwitchoverGlobalCluster") == 1
    assert outcome.record.completed["fail-over"]["requested"] is False


# --- an unplanned failover --------------------------------------------------------------
def test_a_failover_allows_data_loss_never_calls_the_lost_region_and_reports_the_lag_as_rpo(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    _checks(aws, "failover")
    _moved(
        aws,
        "failover_global_cluster",
        {
            "GlobalClusterIdentifier": GLOBAL,
            "TargetDbClusterIdentifier": SECONDARY_ARN,
            "AllowDataLoss": True,
        },
    )
    _cut_over(aws)
    aws.published(AFTER)
    outcome = _run(tmp_path, aws, env, mode="failover", allow_data_loss=True)
    aws.done()
    assert outcome.record.status == "completed"
    assert "SwitchoverGlobalCluster" not in aws.recorder.operations()
    # Nothing of the primary region's database or alarms: the region is lost (the cutover's
    # parameter lives with the environment).
    assert not [lab for _, lab, _op in aws.recorder.calls if lab.endswith(EAST) and not lab.startswith("ssm")]
    assert aws.recorder.operations("alarms@us-west-2") == ["DescribeAlarms"] * 4
    outputs = outcome.record.outputs
    assert outputs["RPOSeconds"] == 0.8  # the newest lag point before the failover: the expected loss
    assert outputs["RPOMeasured"] is False
    assert (outputs["OldWriter"], outputs["NewWriter"]) == (PRIMARY, SECONDARY)
    _assert_declared(aws.recorder, env, mode="failover", allow_data_loss=True)


def test_a_failover_without_allow_data_loss_is_refused_before_any_call(
    tmp_path: Path, aws: Aws, env: Environment
) -> None:
    with pytest.raises(BadInput) as refused:
        _run(tmp_path, aws, env, mode="failover")
    assert "--param allow_data_loss" in str(refused.value) and "\n" not in str(refused.value)
    assert aws.recorder.calls == []
    assert not (tmp_path / "state" / "runs" / aws.run_id).exists()  # no run started


def test_undoing_a_failover_is_refused_in_one_line_saying_how_to_fail_back(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    _checks(aws, "failover")
    _moved(
        aws,
        "failover_global_cluster",
        {
            "GlobalClusterIdentifier": GLOBAL,
            "TargetDbClusterIdentifier": SECONDARY_ARN,
            "AllowDataLoss": True,
        },
    )
    with pytest.raises(OpsError) as stopped:
        _run(tmp_path, aws, env, controls=(FailAt("before:cutover"),), mode="failover", allow_data_loss=True)
    aws.done()
    message = str(stopped.value)
    assert "\n" not in message
    assert message.startswith("injected failure at before:cutover; then could not undo fail-over (")
    assert "a global failover cannot be undone automatically" in message
    assert (
        f"--global-cluster-identifier {GLOBAL} --target-db-cluster-identifier <the ARN of {PRIMARY}>"
        in message
    )
    assert aws.recorder.operations().count("FailoverGlobalCluster") == 1  # and nothing switched it back
    assert _journal(tmp_path, aws.run_id)[-1]["event"] == "run-rollback-failed"


def test_a_failed_failover_run_leaves_the_endpoint_on_the_secondary(
    tmp_path: Path, aws: Aws, env: Environment, clock: FakeClock
) -> None:
    """Undoing its cutover would point the clients at the lost region's cluster: refused too."""
    _checks(aws, "failover")
    _moved(
        aws,
        "failover_global_cluster",
        {
            "GlobalClusterIdentifier": GLOBAL,
            "TargetDbClusterIdentifier": SECONDARY_ARN,
            "AllowDataLoss": True,
        },
    )
    _cut_over(aws)
    with pytest.raises(OpsError) as stopped:
        _run(
            tmp_path,
            aws,
            env,
            controls=(FailAt("before:post-check"),),
            mode="failover",
            allow_data_loss=True,
        )
    aws.done()
    assert "then could not undo cutover (the cutover of a global failover is not undone" in str(stopped.value)
    assert aws.recorder.operations("ssm@us-east-1") == ["GetParameter", "PutParameter"]  # never put back
    assert _journal(tmp_path, aws.run_id)[-1]["left"] == ["cutover", "fail-over"]


# --- refusals from the inventory: before any call ---------------------------------------
@pytest.mark.parametrize(
    ("inventory", "given", "says"),
    [
        (
            {"global_cluster": False},
            {"mode": "switchover"},
            "--param mode: switchover moves the writer to an Aurora global database's secondary, and "
            "components.warehouse.global_cluster is not set",
        ),
        (
            {"engine": "postgres", "global_cluster": False},
            {"mode": "writer"},
            "--param component: warehouse is RDS PostgreSQL (engine postgres); aurora-failover needs an "
            "Aurora cluster (components.warehouse.engine: aurora-postgresql)",
        ),
        ({}, {"cutover_mode": "route53"}, "--param cutover_mode: route53 needs components.warehouse.dns"),
    ],
    ids=["no-global-cluster", "rds-postgresql", "route53-without-dns"],
)
def test_what_the_inventory_cannot_support_is_refused_in_one_line_before_any_call(
    tmp_path: Path, aws: Aws, inventory: dict[str, Any], given: dict[str, Any], says: str
) -> None:
    env = load_inventory(_inventory(tmp_path, **inventory)).environment("staging")
    with pytest.raises(BadInput) as refused:
        _run(tmp_path, aws, env, **given)
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert aws.recorder.calls == []
    assert not (tmp_path / "state" / "runs" / aws.run_id).exists()  # no run started


# --- the IAM policy of the global modes -------------------------------------------------
@pytest.mark.parametrize("name", ["staging", "prod"])
def test_the_global_modes_policy_names_both_clusters_each_in_its_region_and_parliament_accepts_it(
    tmp_path: Path, name: str
) -> None:
    env = load_inventory(_inventory(tmp_path)).environment(name)
    runbook = AuroraFailover()
    document = policy(runbook, env, ACCOUNT, {})
    assert [(f.issue, f.detail) for f in analyze_policy_string(json.dumps(document)).findings] == []
    allowed = set(actions_of(document))
    for _params, steps in runbook.all_steps(env, {}):
        assert aws_calls(steps) <= allowed
    by_action = {a: s["Resource"] for s in document["Statement"] for a in s["Action"]}
    prefix = f"dataplat-{name}-warehouse"
    moved = [
        f"arn:aws:rds::{ACCOUNT}:global-cluster:{prefix}-global",
        f"arn:aws:rds:{EAST}:{ACCOUNT}:cluster:{prefix}",
        f"arn:aws:rds:{WEST}:{ACCOUNT}:cluster:{prefix}-dr",
    ]
    assert sorted(by_action["rds:SwitchoverGlobalCluster"]) == moved
    assert sorted(by_action["rds:FailoverGlobalCluster"]) == moved
    assert by_action["rds:FailoverDBCluster"] == [f"arn:aws:rds:{EAST}:{ACCOUNT}:cluster:{prefix}"]
    assert by_action["cloudwatch:GetMetricData"] == "*"  # it takes no resource, by AWS's definition
    # The alarms in the environment's region, and in the secondary's for a failover.
    assert sorted(by_action["cloudwatch:DescribeAlarms"]) == [
        f"arn:aws:cloudwatch:{EAST}:{ACCOUNT}:alarm:{prefix}-*",
        f"arn:aws:cloudwatch:{WEST}:{ACCOUNT}:alarm:{prefix}-*",
    ]
