"""The generated IAM policy is enough, and every action in it is needed: the emulator with
its IAM enforcement on (moto's INITIAL_NO_AUTH_ACTION_COUNT: after that many requests every
call is signed by an IAM user and checked against its policies).

A user granted exactly the actions of `ops runbook iam rds-pitr` for the mode run here runs
rds-pitr end to end on an aws environment (execute with a cutover and old_instance=stop, a
run failed after its last step and rolled back, a drill); with any one action taken away,
the run stops with a one-line AccessDenied naming that action, exit 1, and what it did is
undone, or, when a rollback needed the action, the run ends `rollback-failed` naming it.

The actions are granted on `Resource: "*"`: moto checks actions reliably, but its resource
matching is not AWS's (a wildcard ARN such as `db:name-*` is denied there), so resources are
checked against AWS's definitions by tests/unit/test_iam.py instead. Two more emulator
quirks: it names CloudWatch's actions `monitoring:` (the API's signing name), so that is how
they are granted and named here, and it answers some denied calls with an XML body that
the CLI's error line reads through (ops/cli/main.py). sts:GetCallerIdentity, which AWS
answers without any permission, is not in the policy. The SQL data checks reach two
PostgreSQL stand-ins, as in test_rds_pitr_aws.py."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ops.aws.clients import AwsTarget, ClientFactory
from ops.local.emulator import emulator_command, emulator_healthy, emulator_target
from ops.local.postgres import LocalPostgres
from ops.runbook.iam import actions_of
from ops.util.ports import free_port
from ops.util.processes import wait_until
from tests.helpers import Result, run_cli
from tests.integration.test_rds_pitr_aws import (
    PARAMETER,
    SOURCE,
    _instances,
    _lock_table,
    _seed,
    _settings_inventory,
    _stand_ins,
    _target,
)
from tests.runbook_controls import fail_at_env

REGION = "us-east-1"
ACCOUNT = "123456789012"  # the emulator's
LOCKS = "dataplat-staging-runbook-locks"
# The admin's CreateUser, PutUserPolicy and CreateAccessKey: the only calls not checked.
BOOTSTRAP_CALLS = 3
# The mode run here: a parameter cutover that stops the old database, with the data checks.
MODE = ("cutover=true", "cutover_mode=parameter", "old_instance=stop", "validate_data=true")
# After the last step: every step ran, so every rollback runs.
FAIL_AFTER_ALL = "after:stop-old"


@dataclass
class World:
    admin: ClientFactory  # allowed everything: seeds and reads back
    env: dict[str, str]  # the CLI's variables, without credentials
    inventory: Path  # staging with its DynamoDB lock table and journal bucket
    runner: dict[str, str]  # the runner user's credentials, as variables
    administrator: dict[str, str]  # the admin's, as variables
    parameter: str  # the endpoint parameter's value before any run

    @property
    def runs(self) -> Path:
        return Path(self.env["OPS_STATE_DIR"]) / "runs"


def _credentials(key: dict[str, str]) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def _factory(port: int, key: dict[str, str]) -> ClientFactory:
    credentials = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    return ClientFactory(
        AwsTarget(region=REGION, endpoint_url=f"http://127.0.0.1:{port}", credentials=credentials)
    )


def _allow(actions: list[str] | str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    )


def _as_emulated(action: str) -> str:
    """The emulator names an action by the API's signing name, which is AWS's IAM prefix
    except for CloudWatch (`monitoring:`, where IAM says `cloudwatch:`)."""
    service, _, name = action.partition(":")
    return f"{'monitoring' if service == 'cloudwatch' else service}:{name}"


@contextlib.contextmanager
def enforced_emulator(folder: Path) -> Iterator[tuple[ClientFactory, dict[str, str], int]]:
    """The emulator with IAM enforced after its first BOOTSTRAP_CALLS requests, which make
    an admin user; yields clients signed by the admin."""
    port = free_port()
    variables = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(BOOTSTRAP_CALLS)}
    with open(folder / f"aws-emulator-iam-{port}.log", "wb") as log:
        process = subprocess.Popen(
            emulator_command(port), stdout=log, stderr=subprocess.STDOUT, env=variables
        )
        try:
            wait_until(lambda: emulator_healthy(port), 30, "the emulator")
            iam = ClientFactory(emulator_target(port, REGION)).client("iam")
            iam.create_user(UserName="admin")
            iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=_allow("*"))
            key = iam.create_access_key(UserName="admin")["AccessKey"]
            yield _factory(port, key), _credentials(key), port
        finally:
            process.terminate()
            process.wait()


def _generated_policy(admin_env: dict[str, str], inventory: Path) -> Result:
    """`ops runbook iam rds-pitr --env staging` narrowed to MODE, as an administrator runs
    it: staging names no account, so the ARNs name the credentials' (STS)."""
    narrowing = [arg for param in MODE for arg in ("-p", param)]
    return run_cli(
        "--inventory",
        str(inventory),
        "runbook",
        "iam",
        "rds-pitr",
        "--env",
        "staging",
        *narrowing,
        env=admin_env,
    )


@pytest.fixture(scope="module")
def world(short_tmp: Path) -> Iterator[World]:
    servers: list[LocalPostgres] = []
    try:
        with enforced_emulator(short_tmp) as (admin, administrator, port):
            servers += [*_stand_ins(short_tmp)]
            env = {
                "OPS_AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_DEFAULT_REGION": REGION,
                "OPS_STATE_DIR": str(short_tmp / f"state-{port}"),
            }
            _, env = _seed(admin, env, *servers)
            _lock_table(admin)
            iam = admin.client("iam")
            iam.create_user(UserName="runner")
            runner = _credentials(iam.create_access_key(UserName="runner")["AccessKey"])
            parameter = admin.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
            inventory = _settings_inventory(short_tmp)
            yield World(admin, env, inventory, runner, administrator, parameter)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="module")
def granted(world: World) -> list[str]:
    """The actions of the generated policy (made with an administrator's credentials)."""
    made = _generated_policy({**world.env, **world.administrator}, world.inventory)
    assert made.code == 0, made.err
    return actions_of(json.loads(made.out))


def _grant(world: World, actions: list[str]) -> None:
    world.admin.client("iam").put_user_policy(
        UserName="runner", PolicyName="runbook", PolicyDocument=_allow(sorted(map(_as_emulated, actions)))
    )


def _reset(world: World) -> None:
    """Whatever an earlier run left (a run whose rollback was denied leaves some): no
    restored instance, the source running, the parameter as seeded, the lock free."""
    rds = world.admin.client("rds")
    for name, instance in _instances(world.admin).items():
        if name.startswith(f"{SOURCE}-"):
            if instance.get("DeletionProtection"):
                rds.modify_db_instance(DBInstanceIdentifier=name, DeletionProtection=False)
            rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True)
    if _instances(world.admin)[SOURCE]["DBInstanceStatus"] != "available":
        rds.start_db_instance(DBInstanceIdentifier=SOURCE)
    world.admin.client("ssm").put_parameter(
        Name=PARAMETER, Value=world.parameter, Type="String", Overwrite=True
    )
    world.admin.client("dynamodb").delete_item(TableName=LOCKS, Key={"target": {"S": SOURCE}})


def _pitr(world: World, *extra: str, variables: dict[str, str] | None = None) -> Result:
    """rds-pitr in MODE on staging, executed, as the runner user."""
    target = _target(world.admin)
    params = [arg for param in (*MODE, f"target_time={target}") for arg in ("-p", param)]
    return run_cli(
        "--inventory",
        str(world.inventory),
        "runbook",
        "run",
        "rds-pitr",
        "--env",
        "staging",
        "--execute",
        *params,
        *extra,
        env={**world.env, **world.runner, **(variables or {})},
    )


def _journal(world: World, run_id: str) -> list[dict[str, Any]]:
    lines = (world.runs / run_id / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _last_run(world: World, before: set[str]) -> str:
    (run_id,) = {p.name for p in world.runs.iterdir()} - before if world.runs.exists() else set()
    return run_id


def _runs(world: World) -> set[str]:
    return {p.name for p in world.runs.iterdir()} if world.runs.exists() else set()


def _undone(world: World) -> None:
    """Read back: no restored instance left, the parameter as before, the source running."""
    instances = _instances(world.admin)
    assert [name for name in instances if name.startswith(f"{SOURCE}-")] == []
    assert world.admin.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == world.parameter
    assert instances[SOURCE]["DBInstanceStatus"] == "available"


def test_the_policy_needs_no_parameter_and_names_the_credentials_account(
    world: World, granted: list[str]
) -> None:
    made = _generated_policy({**world.env, **world.administrator}, world.inventory)
    assert made.code == 0 and f"note: account {ACCOUNT} from your credentials" in made.err
    arns = [a for s in json.loads(made.out)["Statement"] if s["Resource"] != "*" for a in s["Resource"]]
    assert arns and all(f":{ACCOUNT}:" in arn or arn.startswith("arn:aws:s3:::") for arn in arns)
    assert "dynamodb:PutItem" in granted and "s3:PutObject" in granted  # the lock, the journal
    # The command as docs/runbooks.md gives it: no parameter, no account in the inventory.
    documented = run_cli(
        "runbook", "iam", "rds-pitr", "--env", "prod", env={**world.env, **world.administrator}
    )
    assert documented.code == 0, documented.err
    assert "rds:RestoreDBInstanceToPointInTime" in actions_of(json.loads(documented.out))


def test_exactly_the_policy_runs_a_cutover_a_rollback_and_a_drill(world: World, granted: list[str]) -> None:
    _reset(world)
    _grant(world, granted)
    done = _pitr(world, "-o", "json")
    assert done.code == 0, done.err
    restored = json.loads(done.out)["outputs"]["RestoredIdentifier"]
    endpoint: dict[str, Any] = _instances(world.admin)[restored]["Endpoint"]  # type: ignore[assignment]
    value = world.admin.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    assert json.loads(value)["host"] == endpoint["Address"]
    assert _instances(world.admin)[SOURCE]["DBInstanceStatus"] == "stopped"

    _reset(world)
    before = _runs(world)
    failed = _pitr(world, variables=fail_at_env(FAIL_AFTER_ALL))
    assert failed.code == 1 and "injected failure at after:stop-old" in failed.err
    events = [e["event"] for e in _journal(world, _last_run(world, before))]
    assert {"step-rolled-back", "run-failed"} <= set(events) and "step-rollback-failed" not in events
    _undone(world)

    _reset(world)
    _target(world.admin, 0)  # a drill restores to now
    drill = run_cli(
        "--inventory",
        str(world.inventory),
        "drill",
        "run",
        "rds-pitr",
        "--env",
        "staging",
        "-o",
        "json",
        env={**world.env, **world.runner},
    )
    assert drill.code == 0, drill.err
    assert json.loads(drill.out)["success"]
    _undone(world)
    metrics = world.admin.client("cloudwatch").list_metrics(Namespace="PlatformOps/Drills")["Metrics"]
    assert {m["MetricName"] for m in metrics} >= {"DrillSuccess"}


# What taking each action of the policy away does (every granted action is here: a new one
# needs its expectation). STOPS: the run stops at the call with one line naming it, exit 1,
# and what it did is undone. ROLLBACK: a rollback needs it: the run ends rollback-failed,
# the journal naming it. BEST_EFFORT: the journal's copy and the notice never stop a run: a
# warning names the call. The others need their own situation or cannot be shown here.
STOPS, ROLLBACK, BEST_EFFORT = "stops", "rollback-failed", "best effort"
HELD_LOCK, DRILL = "read only when another run holds the lock", "published by a drill"
NOT_CHECKED = "not checked by the emulator"
EXPECTED = {
    "cloudwatch:DescribeAlarms": STOPS,
    "dynamodb:PutItem": STOPS,  # taking the lock: nothing starts
    "dynamodb:DeleteItem": STOPS,  # releasing it, after the rollback: held until its lease ends
    "rds:DescribeDBInstances": STOPS,
    "rds:RestoreDBInstanceToPointInTime": STOPS,
    "rds:StopDBInstance": STOPS,
    "ssm:GetParameter": STOPS,
    "secretsmanager:GetSecretValue": STOPS,
    "rds:DeleteDBInstance": ROLLBACK,
    "rds:ModifyDBInstance": ROLLBACK,  # lifting the restored copy's deletion protection
    "rds:StartDBInstance": ROLLBACK,
    "ssm:PutParameter": ROLLBACK,  # the cutover fails at it, and so does its undo
    "s3:PutObject": BEST_EFFORT,
    "sns:Publish": BEST_EFFORT,
    "dynamodb:GetItem": HELD_LOCK,
    "cloudwatch:PutMetricData": DRILL,
    # The emulator does not authorize the tags given to a restore as a separate action;
    # AWS does (rds:AddTagsToResource on the new instance), so it stays in the policy.
    "rds:AddTagsToResource": NOT_CHECKED,
    # Nor the final snapshot a rollback after a cutover takes as it deletes the restored
    # instance (AWS asks rds:CreateDBSnapshot of DeleteDBInstance with a final snapshot).
    "rds:CreateDBSnapshot": NOT_CHECKED,
}
# What the rollbacks leave when one of them is denied.
LEFT = {
    "rds:DeleteDBInstance": "restored",
    "rds:ModifyDBInstance": "restored",
    "rds:StartDBInstance": "source stopped",
    "ssm:PutParameter": "",
}


def test_every_granted_action_has_an_expectation(granted: list[str]) -> None:
    assert sorted(EXPECTED) == granted


def _cases() -> list[Any]:
    cases = []
    for action, expected in EXPECTED.items():
        # An action the emulator does not authorize on its own cannot be removed to test
        # its refusal; that it is in the policy is proven by tests/unit/test_iam.py.
        if expected != NOT_CHECKED:
            cases.append(pytest.param(action, expected, id=action))
    return cases


def _events(world: World, before: set[str]) -> list[dict[str, Any]]:
    new = _runs(world) - before
    return _journal(world, next(iter(new))) if new else []


def _lock_held(world: World) -> bool:
    item = world.admin.client("dynamodb").get_item(TableName=LOCKS, Key={"target": {"S": SOURCE}})
    return "Item" in item


@pytest.mark.parametrize(("action", "expected"), _cases())
def test_without_any_one_action_the_run_stops_naming_it_and_undoes_what_it_did(
    world: World, granted: list[str], action: str, expected: str
) -> None:
    _reset(world)
    _grant(world, [a for a in granted if a != action])
    named = _as_emulated(action)
    before = _runs(world)
    instances = set(_instances(world.admin))
    if expected == HELD_LOCK:
        world.admin.client("dynamodb").put_item(
            TableName=LOCKS,
            Item={
                "target": {"S": SOURCE},
                "run_id": {"S": "someone-else"},
                "expires_at": {"N": "9999999999"},
            },
        )
    if expected == DRILL:
        _target(world.admin, 0)  # a drill restores to now
        result = run_cli(
            "--inventory",
            str(world.inventory),
            "drill",
            "run",
            "rds-pitr",
            "--env",
            "staging",
            env={**world.env, **world.runner},
        )
    else:
        result = _pitr(world, variables=fail_at_env(FAIL_AFTER_ALL))
    lines = result.err.strip().splitlines()
    events = _events(world, before)
    assert result.code == 1, result.err
    if expected in (STOPS, HELD_LOCK, DRILL):
        assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], result.err
        assert "step-rollback-failed" not in [e["event"] for e in events]
        _undone(world)
        assert _lock_held(world) == (action in ("dynamodb:DeleteItem", "dynamodb:GetItem"))
        if expected == HELD_LOCK:
            assert set(_instances(world.admin)) == instances  # nothing started
    elif expected == ROLLBACK:
        assert events[-1]["event"] == "run-rollback-failed"
        refused = [e["error"] for e in events if e["event"] == "step-rollback-failed"]
        assert len(refused) == 1 and named in refused[0]
        assert lines[-1].startswith("error: ")
        left = LEFT[action]
        restored = [name for name in _instances(world.admin) if name.startswith(f"{SOURCE}-")]
        assert bool(restored) == (left == "restored")
        status = _instances(world.admin)[SOURCE]["DBInstanceStatus"]
        assert (status == "stopped") == (left == "source stopped")
        assert (
            world.admin.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"] == world.parameter
        )
    else:  # best effort: the run went on to the injected failure and was undone
        assert lines[-1] == "error: injected failure at after:stop-old"
        assert any(action.split(":")[1] in line for line in lines[:-1]), result.err
        assert events[-1]["event"] == "run-failed"
        _undone(world)
    _reset(world)
