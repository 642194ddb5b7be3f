"""The readiness verdicts (ops/readiness/model.py) and the checks only AWS answers: an MSK
replicator's state and latency, a bucket's replication rules (botocore's Stubber against
the service models: the emulator has no replicator API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from ops.inventory import load_inventory
from ops.readiness.assess import _replication
from ops.readiness.aws_probes import AwsProbes
from ops.readiness.model import ComponentReadiness, Finding, Verdict
from tests.helpers import INVENTORY

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _component(findings: list[Finding], drill: dict[str, Any] | None) -> ComponentReadiness:
    readiness = ComponentReadiness(
        "warehouse", "rds", 300, 1800, findings, drill, drill_period_seconds=7 * 86400
    )
    readiness.judge(NOW)
    return readiness


def _drill(days_ago: float, met: bool) -> dict[str, Any]:
    ended = (NOW - timedelta(days=days_ago)).isoformat()
    return {"drill_id": "d1", "ended_at": ended, "objectives_met": met, "outcome": "missed an objective"}


@pytest.mark.parametrize(
    ("findings", "drill", "verdict"),
    [
        ([Finding("backups", True, "7 days")], _drill(2, met=True), Verdict.measured),
        ([Finding("backups", True, "7 days")], _drill(9, met=True), Verdict.configured),  # older than weekly
        ([Finding("backups", True, "7 days")], None, Verdict.configured),
        ([Finding("backups", True, "7 days")], _drill(1, met=False), Verdict.unprotected),
        ([Finding("backups", False, "off")], _drill(1, met=True), Verdict.unprotected),
        (
            [Finding("latency", None, "no figure")],
            _drill(1, met=True),
            Verdict.unprotected,
        ),  # unknown is not ok
    ],
)
def test_the_verdict(findings: list[Finding], drill: dict[str, Any] | None, verdict: Verdict) -> None:
    judged = _component(findings, drill)
    assert judged.verdict is verdict
    assert bool(judged.reasons) == (verdict is not Verdict.measured)


def _stubbed(service: str, region: str = "us-east-1") -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.activate()
    return client, stub


def _rule(timed: bool, status: str = "Enabled") -> dict[str, Any]:
    destination: dict[str, Any] = {"Bucket": "arn:aws:s3:::copy"}
    if timed:
        destination["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
    return {"ID": "dr", "Status": status, "Destination": destination}


@pytest.mark.parametrize(
    ("rules", "rpo", "ok", "says"),
    [
        ([_rule(timed=True)], 900, True, "with Replication Time Control"),
        ([_rule(timed=False)], 900, False, "needs its 15-minute guarantee"),
        ([_rule(timed=False)], 3600, True, "enabled"),  # an hour's RPO: replication alone
        ([_rule(timed=True, status="Disabled")], 900, False, "all disabled"),
    ],
)
def test_bucket_replication_and_time_control_against_the_rpo(
    rules: list[dict[str, Any]], rpo: float, ok: bool, says: str
) -> None:
    s3, stub = _stubbed("s3")
    stub.add_response(
        "get_bucket_replication",
        {"ReplicationConfiguration": {"Role": "arn:aws:iam::1:role/r", "Rules": rules}},
        {"Bucket": "lake-raw"},
    )
    finding = _replication(s3, "lake-raw", rpo)
    assert finding.ok is ok and says in finding.detail


class Factory:
    def __init__(self, clients: dict[tuple[str, str], Any]) -> None:
        self.clients = clients

    def client(self, service: str, region: str | None = None) -> Any:
        return self.clients[(service, region or "us-east-1")]


def test_a_replicator_is_judged_by_its_state_and_its_latency_in_the_targets_region() -> None:
    env = load_inventory(INVENTORY).environment("staging")
    kafka, kafka_stub = _stubbed("kafka", "us-west-2")
    cloudwatch, cloudwatch_stub = _stubbed("cloudwatch", "us-west-2")
    name = "dataplat-staging-events-to-dr"
    arn = f"arn:aws:kafka:us-west-2:1:replicator/{name}/1"
    listed = {"Replicators": [{"ReplicatorName": name, "ReplicatorArn": arn, "ReplicatorState": "RUNNING"}]}
    for latency_ms in (12_000.0, 95_000.0):  # 12 s, then 95 s against the events' 60 s RPO
        kafka_stub.add_response("list_replicators", listed, {"ReplicatorNameFilter": name})
        cloudwatch_stub.add_response(
            "get_metric_statistics",
            {"Datapoints": [{"Timestamp": NOW, "Maximum": latency_ms, "Unit": "Milliseconds"}]},
            {
                "Namespace": "AWS/Kafka",
                "MetricName": "ReplicationLatency",
                "Dimensions": [{"Name": "ReplicatorName", "Value": name}],
                "StartTime": ANY,
                "EndTime": ANY,
                "Period": 60,
                "Statistics": ["Maximum"],
            },
        )
    probes = AwsProbes(env, Factory({("kafka", "us-west-2"): kafka, ("cloudwatch", "us-west-2"): cloudwatch}))
    fine, late = probes.replication("events_replicator", 60), probes.replication("events_replicator", 60)
    assert fine.ok is True and "up to 12 s" in fine.detail
    assert late.ok is False and "up to 95 s" in late.detail
    kafka_stub.add_response("list_replicators", {"Replicators": []}, {"ReplicatorNameFilter": name})
    missing = probes.replication("events_replicator", 60)
    assert missing.ok is False and "no MSK replicator" in missing.detail
    kafka_stub.assert_no_pending_responses()
    cloudwatch_stub.assert_no_pending_responses()
