"""rds-pitr's rollbacks on AWS, against the emulator as a server over HTTP: a run that fails
after its cutover or is stopped (SIGTERM) in the middle of it puts the endpoint back, for
each cutover mode; `ops runbook abort` undoes a run killed (SIGKILL) at any step, under the
environment's DynamoDB lock, and a rollback that fails once is tried again by abort.

Every assertion reads the emulator back: the endpoint parameter, the database secret (the
password untouched), the CNAME, and which instance answers to the source's name. The SQL
data checks reach two PostgreSQL stand-ins, as in test_rds_pitr_aws.py."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ops.aws.clients import ClientFactory
from ops.local.postgres import LocalPostgres
from tests.helpers import INVENTORY, Result, run_cli, run_main
from tests.integration.conftest import emulator_server
from tests.integration.test_rds_pitr_aws import (
    PARAMETER,
    SOURCE,
    _instances,
    _lock_table,
    _seed,
    _stand_ins,
    _target,
)
from tests.runbook_controls import fail_at_env, kill_at_env

SECRET = "dataplat/staging/warehouse/credentials"
PASSWORD = "rollback-password-never-journaled"
ZONE, RECORD = "db.internal", "warehouse.db.internal"
LOCKS = "dataplat-staging-runbook-locks"
RUN_TAG = "platform-ops:run-id"


@dataclass
class World:
    factory: ClientFactory
    env: dict[str, str]
    inventory: Path  # staging with a DNS name, a DynamoDB lock table and a journal bucket
    zone_id: str

    @property
    def runs(self) -> Path:
        return Path(self.env["OPS_STATE_DIR"]) / "runs"


@pytest.fixture(scope="module")
def world(short_tmp: Path) -> Iterator[World]:
    servers: list[LocalPostgres] = []
    try:
        with emulator_server(short_tmp) as (factory, env):
            servers += [*_stand_ins(short_tmp)]
            factory, env = _seed(factory, env, *servers)
            yield World(factory, env, _inventory(short_tmp), _endpoints_seeded(factory))
    finally:
        for server in servers:
            server.stop()


def _inventory(folder: Path) -> Path:
    text = INVENTORY.read_text()
    for old, new in (
        (
            "      identifier: warehouse\n",
            f"      identifier: warehouse\n      dns: {{zone: {ZONE}, record: {RECORD}}}\n",
        ),
        (
            "  staging:\n    provider: aws\n",
            f"  staging:\n    provider: aws\n    runbook_settings: {{lock_table: {LOCKS},\n"
            "                       journal_bucket: dataplat-staging-runbook-journals}\n",
        ),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    path = folder / "platform-rollback.yaml"
    path.write_text(text)
    return path


def _endpoints_seeded(factory: ClientFactory) -> str:
    """The secret and the CNAME the secret and route53 cutovers move; the lock table."""
    secret = {"host": f"{SOURCE}.example", "port": 5432, "username": "ingest", "password": PASSWORD}
    factory.client("secretsmanager").create_secret(Name=SECRET, SecretString=json.dumps(secret))
    route53 = factory.client("route53")
    zone_id: str = route53.create_hosted_zone(Name=ZONE, CallerReference="rollback-test")["HostedZone"]["Id"]
    # A TTL of its own (not the cutover's 30 s): the undo must give it back.
    record = {"Name": RECORD, "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": "old.example"}]}
    route53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )
    _lock_table(factory)
    return zone_id


def _endpoints(world: World) -> dict[str, Any]:
    """Everything a cutover or its rollback may change, read from the emulator: the
    parameter, the whole secret (password included), the CNAME, and every instance with
    its status and whether a run created it."""
    factory = world.factory
    (cname,) = factory.client("route53").list_resource_record_sets(
        HostedZoneId=world.zone_id, StartRecordName=f"{RECORD}.", StartRecordType="CNAME", MaxItems="1"
    )["ResourceRecordSets"]
    instances = {
        name: (i["DBInstanceStatus"], any(t["Key"] == RUN_TAG for t in i["TagList"]))  # type: ignore[attr-defined]
        for name, i in _instances(factory).items()
    }
    return {
        "parameter": factory.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"],
        "secret": json.loads(
            factory.client("secretsmanager").get_secret_value(SecretId=SECRET)["SecretString"]
        ),
        "cname": (cname["ResourceRecords"], cname["TTL"]),
        "instances": instances,
    }


def _run(world: World, mode: str, *params: str, controls: dict[str, str]) -> tuple[Result, str]:
    """An executed rds-pitr run with these controls; its result and its run id."""
    before = set(world.runs.iterdir()) if world.runs.exists() else set()
    result = run_cli(
        "--inventory",
        str(world.inventory),
        "runbook",
        "run",
        "rds-pitr",
        "--env",
        "staging",
        "--execute",
        "-p",
        f"target_time={_target(world.factory)}",
        "-p",
        f"cutover_mode={mode}",
        *(arg for param in params for arg in ("-p", param)),
        env={**world.env, **controls},
    )
    (folder,) = set(world.runs.iterdir()) - before
    return result, folder.name


def _abort(world: World, run_id: str) -> Result:
    return run_cli("--inventory", str(world.inventory), "runbook", "abort", run_id, env=world.env)


def _status(world: World, run_id: str) -> dict[str, Any]:
    """`ops runbook status RUN_ID -o json`."""
    result = run_main("runbook", "status", run_id, "-o", "json", env=world.env)
    assert result.code == 0, result.err
    (record,) = json.loads(result.out)
    return record  # type: ignore[no-any-return]


def _events(world: World, run_id: str) -> list[dict[str, Any]]:
    lines = (world.runs / run_id / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _lock_holder(world: World) -> str | None:
    item = world.factory.client("dynamodb").get_item(TableName=LOCKS, Key={"target": {"S": SOURCE}})
    return item["Item"]["run_id"]["S"] if "Item" in item else None


def _one_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


def _error_line(result: Result) -> str:
    """The one `error:` line of a command whose engine also logged what failed on the way."""
    lines = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


MODES = ("parameter", "secret", "route53", "rename")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("stop", "code", "status"),
    [("before:post-check", 1, "failed"), ("sigterm-during:cutover", 130, "interrupted")],
    ids=["failure-after-cutover", "sigterm-during-cutover"],
)
def test_a_run_stopped_after_or_during_its_cutover_puts_the_endpoint_back(
    world: World, mode: str, stop: str, code: int, status: str
) -> None:
    before = _endpoints(world)
    # A rename swap's SIGTERM comes after its first rename only (its first checkpoint).
    controls = fail_at_env(stop) if stop.startswith("before:") else kill_at_env(stop)
    result, run_id = _run(world, mode, controls=controls)
    assert result.code == code, result.err
    line = _one_line(result)
    assert ("injected failure at before:post-check" if code == 1 else "interrupted") in line
    events = _events(world, run_id)
    cutover = [e["event"] for e in events if e.get("step") == "cutover"]
    # The cutover switched (completed, or noted and stopped at its checkpoint), then was undone.
    switched = "step-completed" if code == 1 else "step-noted"
    assert cutover[-2:] == [switched, "step-rolled-back"], cutover
    assert _status(world, run_id)["status"] == status
    assert _endpoints(world) == before  # the endpoint back; no restored instance left
    assert _lock_holder(world) is None
    assert PASSWORD not in (world.runs / run_id / "journal.jsonl").read_text()
    # The restored instance took the application's writes after the cutover: it is gone
    # with a final snapshot, which the emulator holds and the journal names.
    (dropped,) = [e for e in events if e.get("step") == "restore" and e["event"] == "step-rolled-back"]
    snapshot = dropped["kept"]["final_snapshot"]
    found = world.factory.client("rds").describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in found] == [snapshot]


@pytest.mark.parametrize(
    ("point", "mode", "params"),
    [
        ("after:restore", "parameter", ()),
        ("after:wait-available", "parameter", ()),
        ("after:cutover", "parameter", ()),
        ("during:cutover", "rename", ()),  # after the swap's first rename only
        ("after:stop-old", "rename", ("old_instance=stop",)),
    ],
)
def test_abort_undoes_a_run_killed_at_any_step_and_frees_the_dynamodb_lock(
    world: World, point: str, mode: str, params: tuple[str, ...]
) -> None:
    before = _endpoints(world)
    killed, run_id = _run(world, mode, *params, controls=kill_at_env(point))
    assert killed.code == -9, killed.err
    assert _endpoints(world) != before  # the run changed something and left it
    assert _lock_holder(world) == run_id  # a dead run keeps its lease
    aborted = _abort(world, run_id)
    assert aborted.code == 0, aborted.err
    assert f"run {run_id}: aborted" in aborted.out
    assert _endpoints(world) == before  # restored instance deleted, endpoint and name back, source up
    assert _lock_holder(world) is None
    assert _status(world, run_id)["status"] == "aborted"


def test_a_new_run_starts_once_an_abort_freed_the_lock(world: World) -> None:
    killed, run_id = _run(world, "parameter", controls=kill_at_env("after:restore"))
    assert killed.code == -9 and _lock_holder(world) == run_id
    refused = run_cli(
        "--inventory",
        str(world.inventory),
        "runbook",
        "run",
        "rds-pitr",
        "--env",
        "staging",
        "-p",
        f"target_time={_target(world.factory)}",
        env=world.env,
    )
    assert refused.code == 2 and f"locked by run {run_id}" in _one_line(refused)
    assert _abort(world, run_id).code == 0
    again = _abort(world, run_id)
    assert again.code == 2 and "is aborted; nothing to abort" in _one_line(again)
    dry = run_cli(
        "--inventory",
        str(world.inventory),
        "runbook",
        "run",
        "rds-pitr",
        "--env",
        "staging",
        "-p",
        f"target_time={_target(world.factory)}",
        env=world.env,
    )
    assert dry.code == 0, dry.err


def test_a_rollback_that_fails_leaves_the_run_rollback_failed_and_a_second_abort_finishes(
    world: World,
) -> None:
    before = _endpoints(world)
    secrets = world.factory.client("secretsmanager")
    killed, run_id = _run(world, "secret", controls=kill_at_env("after:cutover"))
    assert killed.code == -9, killed.err
    restored = _events(world, run_id)
    restored_id = next(
        e["outputs"]["restored"] for e in restored if e.get("step") == "restore" and "outputs" in e
    )
    # Out of band, the secret is scheduled for deletion: it can be neither read nor written.
    secrets.delete_secret(SecretId=SECRET, RecoveryWindowInDays=7)
    try:
        first = _abort(world, run_id)
    finally:
        secrets.restore_secret(SecretId=SECRET)
    assert first.code == 1
    line = _one_line(first)  # the failed rollbacks are journaled, not logged line by line
    left = rf"run {run_id}: could not undo cutover \(.*marked deleted.*\), restore \(.+\);"
    assert re.search(left, line), line
    record = _status(world, run_id)
    assert record["status"] == "rollback-failed" and record["left"] == ["cutover", "restore"]
    # The restored database the secret still names is not deleted under the application.
    assert restored_id in _instances(world.factory)
    assert _lock_holder(world) is None
    second = _abort(world, run_id)
    assert second.code == 0, second.err
    assert _endpoints(world) == before
    assert _status(world, run_id)["status"] == "aborted"


def test_an_abort_is_refused_while_the_runs_own_process_holds_the_dynamodb_lock(world: World) -> None:
    """The lock item names the run's process; while that process lives (here: this test's
    own process stands in for it), neither abort nor resume may act beside it."""
    killed, run_id = _run(world, "parameter", controls=kill_at_env("after:restore"))
    assert killed.code == -9 and _lock_holder(world) == run_id
    dynamodb = world.factory.client("dynamodb")
    key = {"target": {"S": SOURCE}}
    dead_pid = dynamodb.get_item(TableName=LOCKS, Key=key)["Item"]["pid"]
    dynamodb.update_item(
        TableName=LOCKS,
        Key=key,
        UpdateExpression="SET pid = :pid",
        ExpressionAttributeValues={":pid": {"N": str(os.getpid())}},
    )
    refused = _abort(world, run_id)
    assert refused.code == 2 and f"run {run_id} is still running" in _one_line(refused)
    assert _status(world, run_id)["status"] == "running" and _lock_holder(world) == run_id
    dynamodb.update_item(
        TableName=LOCKS,
        Key=key,
        UpdateExpression="SET pid = :pid",
        ExpressionAttributeValues={":pid": dead_pid},
    )
    assert _abort(world, run_id).code == 0
    assert _status(world, run_id)["status"] == "aborted" and _lock_holder(world) is None
