"""`ops drill schedule | schedules | unschedule` on the local platform's emulator (moto as a
server, over HTTP). `ops local up` seeds what terraform/modules/drills makes; the test checks
it is named as the module's HCL names it (parsed with python-hcl2); the schedule is read back
with the scheduler client field by field, and its target must name that cluster, family and
those roles."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ops.inventory.loader import load_environment
from tests.helpers import INVENTORY, run_cli
from tests.integration.conftest import RunningPlatform
from tests.unit.test_terraform import _module, _render, _resources, _values

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"  # the local environment's account_id
REGION = "us-east-1"
GROUP = "dataplat-local-drills"


@dataclass(frozen=True)
class Module:
    """What terraform/modules/drills names for the local environment, from its HCL."""

    cluster: str
    family: str
    container: str
    task_role: str
    execution_role: str
    scheduler_role: str
    network_parameter: str
    subnets: list[str]
    security_groups: list[str]


def _hcl_names() -> dict[str, str]:
    env = load_environment("local", INVENTORY)
    module = _module("drills")
    values = _values(module, env)
    roles = _resources(module, "aws_iam_role")
    return {
        "cluster": _render(_resources(module, "aws_ecs_cluster")["drills"]["name"], values),
        "family": _render(_resources(module, "aws_ecs_task_definition")["drills"]["family"], values),
        "container": values["local.container"],
        "task_role": _render(roles["task"]["name"], values),
        "execution_role": _render(roles["execution"]["name"], values),
        "scheduler_role": _render(roles["scheduler"]["name"], values),
        "network_parameter": _render(_resources(module, "aws_ssm_parameter")["network"]["name"], values),
    }


@pytest.fixture(scope="module")
def drills(platform: RunningPlatform) -> Module:
    """terraform/modules/drills as `ops local up` seeds it into the emulator, checked against
    the module's HCL: the cluster, the task definition (its container, its two roles), the
    scheduler's role and the network parameter, all under the names the HCL gives."""
    names = _hcl_names()
    aws = platform.aws()
    iam = aws.client("iam")
    roles = {
        key: iam.get_role(RoleName=names[key])["Role"]["Arn"]
        for key in ("task_role", "execution_role", "scheduler_role")
    }
    clusters = aws.client("ecs").describe_clusters(clusters=[names["cluster"]])["clusters"]
    assert [c["status"] for c in clusters] == ["ACTIVE"]
    definition = aws.client("ecs").describe_task_definition(taskDefinition=names["family"])["taskDefinition"]
    assert (definition["taskRoleArn"], definition["executionRoleArn"]) == (
        roles["task_role"],
        roles["execution_role"],
    )
    assert [c["name"] for c in definition["containerDefinitions"]] == [names["container"]]
    network = json.loads(
        aws.client("ssm").get_parameter(Name=names["network_parameter"])["Parameter"]["Value"]
    )
    return Module(**names, subnets=network["subnets"], security_groups=network["security_groups"])


def _requests(platform: RunningPlatform) -> list[str]:
    """The emulator's request lines (method and path), as its log has them."""
    log = (platform.state_dir / "logs" / "emulator.log").read_text()
    return re.findall(r'"([A-Z]+ \S+) HTTP/1.1"', log)


def _writes(lines: list[str]) -> list[str]:
    """Scheduler's writes (a REST API: schedules, groups, tags); ECS and SSM reads are POSTs."""
    return [
        line
        for line in lines
        if line.split()[0] in ("POST", "PUT", "DELETE", "PATCH")
        and line.split()[1].startswith(("/schedule", "/tags"))
    ]


def _scheduler(platform: RunningPlatform) -> Any:
    return platform.aws().client("scheduler")


@pytest.fixture
def cleanup(platform: RunningPlatform) -> Iterator[list[str]]:
    """Names of schedules a test made: removed after it, whatever happened."""
    made: list[str] = []
    yield made
    for name in made:
        with contextlib.suppress(Exception):  # removed by the test itself
            _scheduler(platform).delete_schedule(GroupName=GROUP, Name=name)


def test_a_schedule_is_created_read_back_exactly_and_made_once(
    platform: RunningPlatform, drills: Module, cleanup: list[str]
) -> None:
    name = "dataplat-local-drill-rds-pitr-warehouse"
    cleanup.append(name)
    args = (
        "drill",
        "schedule",
        "rds-pitr",
        "--env",
        "local",
        "--cron",
        "0 3 * * 0",
        "--timezone",
        "Europe/Paris",
    )
    created = run_cli(*args, env=platform.env)
    assert created.code == 0, created.err
    assert f"schedule {name} created in group dataplat-local-drills" in created.out

    scheduler = _scheduler(platform)
    got = scheduler.get_schedule(GroupName=GROUP, Name=name)
    assert (got["Name"], got["GroupName"], got["State"]) == (name, GROUP, "ENABLED")
    assert (got["ScheduleExpression"], got["ScheduleExpressionTimezone"]) == (
        "cron(0 3 ? * 1 *)",
        "Europe/Paris",
    )
    assert got["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = got["Target"]
    assert target["Arn"] == f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{drills.cluster}"
    assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{drills.scheduler_role}"
    family_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{drills.family}"
    assert target["EcsParameters"] == {
        "TaskDefinitionArn": family_arn,
        "TaskCount": 1,
        "LaunchType": "FARGATE",
        "NetworkConfiguration": {
            "awsvpcConfiguration": {
                "Subnets": drills.subnets,
                "SecurityGroups": drills.security_groups,
                "AssignPublicIp": "DISABLED",
            }
        },
    }
    assert json.loads(target["Input"]) == {
        "containerOverrides": [
            {
                "name": drills.container,
                "command": ["drill", "run", "rds-pitr", "--env", "local", "--component", "warehouse"],
            }
        ]
    }
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 3}
    # The family the target names runs as the module's task role and execution role.
    definition = (
        platform.aws().client("ecs").describe_task_definition(taskDefinition=family_arn)["taskDefinition"]
    )
    assert definition["taskRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{drills.task_role}"
    assert definition["executionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{drills.execution_role}"
    assert [c["name"] for c in definition["containerDefinitions"]] == [drills.container]
    # Scheduler tags groups, not schedules: the group carries the ownership tags.
    group = scheduler.get_schedule_group(Name=GROUP)
    tags = {t["Key"]: t["Value"] for t in scheduler.list_tags_for_resource(ResourceArn=group["Arn"])["Tags"]}
    assert tags == load_environment("local", INVENTORY).ownership_tags()

    before = _requests(platform)
    again = run_cli(*args, env=platform.env)
    assert again.code == 0, again.err
    assert f"schedule {name} unchanged: nothing to do" in again.out
    assert _writes(_requests(platform)[len(before) :]) == []  # read, and nothing written
    read_again = scheduler.get_schedule(GroupName=GROUP, Name=name)
    assert {k: v for k, v in read_again.items() if k != "ResponseMetadata"} == {
        k: v for k, v in got.items() if k != "ResponseMetadata"
    }


def test_a_changed_cron_updates_the_schedule(
    platform: RunningPlatform, drills: Module, cleanup: list[str]
) -> None:
    name = "dataplat-local-drill-msk-broker-reboot-events_dr"
    cleanup.append(name)
    base = ("drill", "schedule", "msk-broker-reboot", "--env", "local", "--component", "events_dr")
    assert run_cli(*base, "--cron", "cron(0 2 ? * MON *)", env=platform.env).code == 0
    updated = run_cli(*base, "--cron", "cron(30 2 ? * MON *)", "-o", "json", env=platform.env)
    assert updated.code == 0, updated.err
    payload = json.loads(updated.out)
    assert (payload["action"], payload["changed"]) == ("update", ["ScheduleExpression"])
    got = _scheduler(platform).get_schedule(GroupName=GROUP, Name=name)
    assert got["ScheduleExpression"] == "cron(30 2 ? * MON *)"
    assert got["ScheduleExpressionTimezone"] == "UTC"


def test_schedules_are_listed_and_removed(
    platform: RunningPlatform, drills: Module, cleanup: list[str]
) -> None:
    name = "dataplat-local-drill-msk-broker-reboot-events"
    cleanup.append(name)
    made = run_cli(
        "drill", "schedule", "msk-broker-reboot", "--env", "local", "--component", "events",
        "--cron", "0 4 1 * *", env=platform.env,
    )  # fmt: skip
    assert made.code == 0, made.err

    listed = run_cli("drill", "schedules", "--env", "local", "-o", "json", env=platform.env)
    assert listed.code == 0, listed.err
    (entry,) = [s for s in json.loads(listed.out)["schedules"] if s["name"] == name]
    assert entry == {
        "name": name,
        "group": GROUP,
        "cron": "cron(0 4 1 * ? *)",
        "timezone": "UTC",
        "runbook": "msk-broker-reboot",
        "component": "events",
        "state": "ENABLED",
        "next_run": None,  # Scheduler's API has no next-run field
        "task_definition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{drills.family}",
    }
    text = run_cli("drill", "schedules", "--env", "local", env=platform.env)
    assert text.code == 0, text.err
    (row,) = [line for line in text.out.splitlines() if name in line]
    assert all(word in row for word in ("cron(0 4 1 * ? *)", "UTC", "msk-broker-reboot", "events", "ENABLED"))

    removed = run_cli(
        "drill",
        "unschedule",
        "msk-broker-reboot",
        "--env",
        "local",
        "--component",
        "events",
        env=platform.env,
    )
    assert removed.code == 0, removed.err
    assert f"schedule {name} removed from group dataplat-local-drills" in removed.out
    after = run_cli("drill", "schedules", "--env", "local", "-o", "json", env=platform.env)
    assert name not in [s["name"] for s in json.loads(after.out)["schedules"]]

    missing = run_cli(
        "drill",
        "unschedule",
        "msk-broker-reboot",
        "--env",
        "local",
        "--component",
        "events",
        env=platform.env,
    )
    assert missing.code == 2
    (line,) = missing.err.strip().splitlines()
    assert line.startswith(
        "error: no schedule of msk-broker-reboot for events in group dataplat-local-drills"
    )


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (("rds-pitr", "--cron", "0 3 * 7"), "--cron '0 3 * 7': 4 fields"),
        (("rds-pitr", "--cron", "cron(0 3 * * * *)"), "--cron 'cron(0 3 * * * *)': exactly one of"),
        (("rds-pitr", "--cron", "0 3 * * 0", "--timezone", "Mars/Olympus"), "--timezone 'Mars/Olympus'"),
        (("rds-restore", "--cron", "0 3 * * 0"), "no runbook 'rds-restore'"),
        (("msk-failover", "--cron", "0 3 * * 0"), "runbook msk-failover has no drill"),
        (
            ("rds-pitr", "--cron", "0 3 * * 0", "--component", "nowhere"),
            "--component 'nowhere': not a component",
        ),
        (("rds-pitr", "--cron", "0 3 * * 0", "--component", "events"), "rds-pitr drills rds components"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_request(
    platform: RunningPlatform, drills: Module, extra: tuple[str, ...], says: str
) -> None:
    before = len(_requests(platform))
    result = run_cli("drill", "schedule", *extra, "--env", "local", env=platform.env)
    assert result.code == 2, result.err
    (line,) = result.err.strip().splitlines()
    assert line.startswith("error: ") and says in line, line
    assert len(_requests(platform)) == before


def test_a_protected_environment_is_not_scheduled_without_approval(
    platform: RunningPlatform, drills: Module, tmp_path: Path
) -> None:
    """As `ops observe apply`: a change to a protected environment needs a terminal's yes or
    --auto-approve; without either (no terminal here) it is refused and nothing is written."""
    text = INVENTORY.read_text()
    protected = text.replace(
        "    provider: local\n    protected: false", "    provider: local\n    protected: true"
    )
    assert protected != text
    inventory = tmp_path / "platform.yaml"
    inventory.write_text(protected)
    before = _requests(platform)
    result = run_cli(
        "--inventory", str(inventory), "drill", "schedule", "rds-pitr", "--env", "local",
        "--cron", "0 5 * * 0", env=platform.env,
    )  # fmt: skip
    assert result.code == 2, result.err
    assert "environment 'local' is protected" in result.err and "--auto-approve" in result.err
    assert _writes(_requests(platform)[len(before) :]) == []
