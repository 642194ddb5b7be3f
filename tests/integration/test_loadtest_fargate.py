"""The Fargate backend against the emulator as a server over HTTP: RunTask with the task
definitions, tags and network of terraform/modules/loadtest, teardown that leaves no task
running, the cost estimate, and `sweep` of planted orphans.

The emulator runs no container: its tasks never answer. The master's URL points at a closed
loopback port (as through a port-forward), so no traffic leaves this machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ops.aws.clients import ClientFactory
from ops.util.ports import free_port
from ops.util.processes import wait_until
from tests.helpers import REPO, run_cli
from tests.integration.conftest import emulator_server

CLUSTER = "dataplat-staging-loadtest"
ON_FARGATE = ("--env", "staging", "--backend", "fargate")


@pytest.fixture(scope="module")
def aws(short_tmp: Path) -> Iterator[tuple[ClientFactory, dict[str, str], dict[str, str]]]:
    with emulator_server(short_tmp) as (factory, env):
        network = _seed(factory, env["OPS_AWS_ENDPOINT_URL"])
        yield factory, {**env, "OPS_LOADTEST_MASTER_URL": f"http://127.0.0.1:{free_port()}"}, network


def _seed(factory: ClientFactory, endpoint: str) -> dict[str, str]:
    """What terraform/modules/loadtest creates: cluster, task definitions, network, bucket."""
    # The emulator moves a task one state towards STOPPED at each describe; a real task runs
    # until it is stopped. Its state manager (a documented endpoint) keeps tasks running.
    transition = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}}
    httpx.post(f"{endpoint}/moto-api/state-manager/set-transition", json=transition).raise_for_status()
    ec2 = factory.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="loadtest", Description="workers to master", VpcId=vpc)[
        "GroupId"
    ]
    ecs = factory.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER, capacityProviders=["FARGATE", "FARGATE_SPOT"])
    for role, cpu, memory in (("master", 1024, 2048), ("worker", 2048, 4096)):
        ecs.register_task_definition(
            family=f"dataplat-staging-loadtest-{role}",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu=str(cpu),
            memory=str(memory),
            containerDefinitions=[
                {
                    "name": "locust",
                    "image": "locust-ingest:test",
                    "essential": True,
                    "cpu": cpu,
                    "memory": memory,
                }
            ],
        )
    value = json.dumps({"subnets": [subnet], "security_groups": [group]})
    factory.client("ssm").put_parameter(Name="/dataplat/staging/loadtest/network", Value=value, Type="String")
    factory.client("s3").create_bucket(Bucket="dataplat-staging-loadtest-results")
    factory.client("apigatewayv2").create_api(Name="dataplat-staging-ingest", ProtocolType="HTTP")
    return {"subnet": subnet, "group": group}


def _campaign(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "fargate.yaml"
    path.write_text(f"name: fargate\nusers: 50\nduration: 2s\nworkers: 3\n{extra}")
    return path


def _tasks(factory: ClientFactory, status: str) -> list[dict[str, Any]]:
    ecs = factory.client("ecs")
    arns = ecs.list_tasks(cluster=CLUSTER, desiredStatus=status)["taskArns"]
    return ecs.describe_tasks(cluster=CLUSTER, tasks=arns, include=["TAGS"])["tasks"] if arns else []


def test_a_dry_run_prices_the_launch_and_starts_nothing(
    aws: tuple[ClientFactory, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    factory, env, network = aws
    stopped = {t["taskArn"] for t in _tasks(factory, "STOPPED")}  # other tests' tasks
    args = ("loadtest", "run", str(_campaign(tmp_path)), *ON_FARGATE)
    result = run_cli(*args, "--dry-run", env=env)
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    launch = plan["launch"]
    assert launch["master_task"].endswith("task-definition/dataplat-staging-loadtest-master:1")
    assert launch["subnets"] == [network["subnet"]] and launch["workers"] == 3
    assert launch["target_url"].endswith("/v1")  # the ingest API's stage, from the inventory
    # 1 vCPU + 2 GB master, 3 x (2 vCPU + 4 GB) workers, for 2 s + 90 s of start-up.
    hours = 92 / 3600
    expected = (1 + 3 * 2) * hours * 0.04048 + (2 + 3 * 4) * hours * 0.004445
    assert plan["estimate"]["usd"] == pytest.approx(expected, abs=1e-4)
    assert "about $" in result.err
    refused = run_cli(*args, "--max-cost", "0.001", env=env)
    assert refused.code == 2 and "--max-cost 0.001: the estimate is $" in refused.err
    assert _tasks(factory, "RUNNING") == []
    assert {t["taskArn"] for t in _tasks(factory, "STOPPED")} == stopped


def test_a_launch_runs_tagged_tasks_in_the_network_and_tears_every_one_down(
    aws: tuple[ClientFactory, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    factory, env, network = aws
    before = {t["taskArn"] for t in _tasks(factory, "STOPPED")}
    campaign = _campaign(tmp_path, "fargate: {spot: true}\n")
    options = ("--start-timeout", "3", "--no-cloudwatch")
    result = run_cli("loadtest", "run", str(campaign), *ON_FARGATE, *options, env=env)
    # The emulator's master never answers: the run fails with one line, after teardown.
    assert result.code == 1
    assert (
        result.err.strip()
        .splitlines()[-1]
        .startswith("error: the master never answered at http://127.0.0.1:")
    )
    assert _tasks(factory, "RUNNING") == []
    tasks = [t for t in _tasks(factory, "STOPPED") if t["taskArn"] not in before]
    roles = sorted({t["key"]: t["value"] for t in task["tags"]}["platform-ops:role"] for task in tasks)
    assert roles == ["master", "worker", "worker", "worker"]
    campaign_ids = {{t["key"]: t["value"] for t in task["tags"]}["platform-ops:campaign"] for task in tasks}
    assert len(campaign_ids) == 1 and next(iter(campaign_ids)).startswith("fargate-")
    master = next(t for t in tasks if t["taskDefinitionArn"].endswith("loadtest-master:1"))
    master_ip = next(
        d["value"] for d in master["attachments"][0]["details"] if d["name"] == "privateIPv4Address"
    )
    assert master["launchType"] == "FARGATE"  # the master is never on spot
    for worker in (t for t in tasks if t is not master):
        assert worker["taskDefinitionArn"].endswith("loadtest-worker:1")
        assert worker["capacityProviderName"] == "FARGATE_SPOT"
        details = {d["name"]: d["value"] for d in worker["attachments"][0]["details"]}
        assert details["subnetId"] == network["subnet"]
        (override,) = worker["overrides"]["containerOverrides"]
        variables = {e["name"]: e["value"] for e in override["environment"]}
        assert variables["LOCUST_MASTER_NODE_HOST"] == master_ip and variables["LOCUST_MODE_WORKER"] == "true"
        assert override["command"][:3] == ["timeout", "--signal=TERM", str(2 + 600)]  # the maximum lifetime


def test_an_interrupted_fargate_campaign_stops_its_tasks(
    aws: tuple[ClientFactory, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    factory, env, _ = aws
    options = ("--start-timeout", "60", "--no-cloudwatch")
    command = [
        sys.executable,
        "-m",
        "ops",
        "loadtest",
        "run",
        str(_campaign(tmp_path)),
        *ON_FARGATE,
        *options,
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True
    )

    def started() -> bool:
        assert process.poll() is None, "the run ended before its tasks started"
        return len(_tasks(factory, "RUNNING")) >= 4

    wait_until(started, 30, "the master and worker tasks")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err.strip().splitlines()[-1] == "error: interrupted"
    assert _tasks(factory, "RUNNING") == []


def test_sweep_stops_expired_campaign_tasks_and_nothing_else(
    aws: tuple[ClientFactory, dict[str, str], dict[str, str]],
) -> None:
    factory, env, network = aws
    ecs = factory.client("ecs")

    def plant(campaign: str | None, expires_in: float) -> str:
        tags = (
            []
            if campaign is None
            else [
                {"key": "platform-ops:campaign", "value": campaign},
                {"key": "platform-ops:role", "value": "worker"},
                {
                    "key": "platform-ops:expires-at",
                    "value": (datetime.now(UTC) + timedelta(seconds=expires_in)).isoformat(
                        timespec="seconds"
                    ),
                },
            ]
        )
        extra: dict[str, Any] = {"tags": tags} if tags else {}
        return str(
            ecs.run_task(
                cluster=CLUSTER,
                taskDefinition="dataplat-staging-loadtest-worker",
                launchType="FARGATE",
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": [network["subnet"]],
                        "securityGroups": [network["group"]],
                    }
                },
                **extra,
            )["tasks"][0]["taskArn"]
        )

    orphans = {plant("lost-1", -60), plant("lost-1", -60), plant("lost-2", -5)}
    live, untagged = plant("running-now", 3600), plant(None, 0)
    listed = run_cli("loadtest", "sweep", "--env", "staging", "--dry-run", "-o", "json", env=env)
    assert listed.code == 0, listed.err
    assert {t["task"] for t in json.loads(listed.out)["would_stop"]} == orphans
    swept = run_cli("loadtest", "sweep", "--env", "staging", "-o", "json", env=env)
    assert {t["task"] for t in json.loads(swept.out)["stopped"]} == orphans
    assert {t["taskArn"] for t in _tasks(factory, "RUNNING")} == {live, untagged}
    one = run_cli("loadtest", "sweep", "--env", "staging", "--campaign", "running-now", "-o", "json", env=env)
    assert [t["task"] for t in json.loads(one.out)["stopped"]] == [live]
    assert {t["taskArn"] for t in _tasks(factory, "RUNNING")} == {untagged}  # never ours to stop
    ecs.stop_task(cluster=CLUSTER, task=untagged)


def test_against_an_emulator_no_traffic_goes_to_a_made_up_private_address(
    aws: tuple[ClientFactory, dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    factory, env, _ = aws
    env = {k: v for k, v in env.items() if k != "OPS_LOADTEST_MASTER_URL"}
    result = run_cli("loadtest", "run", str(_campaign(tmp_path)), *ON_FARGATE, env=env)
    assert result.code == 1 and "set OPS_LOADTEST_MASTER_URL" in result.err
    assert _tasks(factory, "RUNNING") == []
