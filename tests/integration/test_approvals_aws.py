"""Four-eyes approvals on an AWS environment, against the emulator over HTTP: identities are
the callers' (STS GetCallerIdentity: the emulator answers with the IAM user that owns the
access key), approvals live in the environment's DynamoDB lock table so a colleague with
another state folder (another machine) approves, and no one approves their own run."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.aws.clients import ClientFactory
from tests.helpers import Result, run_cli
from tests.integration.test_rds_pitr_aws import (
    PARAMETER,
    _lock_table,
    _staging_inventory,
    _target,
    emulator,
)

__all__ = ["emulator"]  # the module's emulator fixture, shared with the rds-pitr tests' setup

TABLE = "dataplat-staging-runbook-locks"
Emulator = tuple[ClientFactory, dict[str, str]]


@dataclass(frozen=True)
class Person:
    env: dict[str, str]  # their CLI's environment: their access key, their own state folder
    arn: str  # as IAM made them


def _inventory(tmp_path: Path, settings: str = f"{{lock_table: {TABLE}}}") -> Path:
    """staging made protected, with its runbook settings."""
    return _staging_inventory(
        tmp_path,
        "  staging:\n    provider: aws\n    protected: false\n",
        f"  staging:\n    provider: aws\n    protected: true\n    runbook_settings: {settings}\n",
    )


@pytest.fixture(scope="module")
def people(emulator: Emulator) -> dict[str, Person]:
    """Two IAM users with access keys on the emulator: each one's CLI environment, with a
    state folder of their own (their own machine), and their ARN."""
    factory, env = emulator
    iam = factory.client("iam")
    found: dict[str, Person] = {}
    for name in ("alice", "bob"):
        arn = iam.create_user(UserName=f"approvals-{name}")["User"]["Arn"]
        key = iam.create_access_key(UserName=f"approvals-{name}")["AccessKey"]
        own = {
            **env,
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
            "OPS_STATE_DIR": f"{env['OPS_STATE_DIR']}-{name}",
        }
        found[name] = Person(own, arn)
    return found


@pytest.fixture(autouse=True)
def waiting_runs_aborted(people: dict[str, Person], tmp_path: Path) -> Iterator[None]:
    """A run left waiting for its approval holds its target's lock: each test's are aborted
    after it (as the operator would), so that the next test's runs can start."""
    yield
    alice, inventory = people["alice"], tmp_path / "platform.yaml"
    runs = Path(alice.env["OPS_STATE_DIR"]) / "runs"
    if not inventory.exists() or not runs.exists():
        return
    for run in sorted(runs.iterdir()):
        status = run_cli("runbook", "status", run.name, "-o", "json", env=alice.env)
        if status.code == 0 and json.loads(status.out)[0]["status"] == "running":
            _ops(alice, inventory, "abort", run.name)


def _ops(person: Person, inventory: Path, *args: str) -> Result:
    return run_cli("--inventory", str(inventory), "runbook", *args, env=person.env)


def _one_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def _endpoint(factory: ClientFactory) -> str:
    value: str = factory.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    return value


def _events(person: Person, run_id: str) -> list[dict[str, object]]:
    text = (Path(person.env["OPS_STATE_DIR"]) / "runs" / run_id / "journal.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def _waiting_run(factory: ClientFactory, person: Person, inventory: Path) -> str:
    args = ("run", "rds-pitr", "--env", "staging", "--execute", "-p", f"target_time={_target(factory)}")
    result = _ops(person, inventory, *args)
    assert result.code == 2, result.err
    match = re.search(r"run (\S+) waits at approve-cutover", _one_line(result))
    assert match, result.err
    return match.group(1)


def _assert_refused(
    factory: ClientFactory, person: Person, run_id: str, result: Result, reason: str, endpoint: str
) -> str:
    """One line, exit 2, nothing past the approval started, the endpoint unchanged, the
    refusal in the run's journal."""
    line = _one_line(result)
    assert result.code == 2, result.err
    events = _events(person, run_id)
    assert not [e for e in events if e["event"] == "step-started" and e["step"] == "cutover"]
    assert _endpoint(factory) == endpoint
    assert events[-1]["event"] == "approval-refused" and events[-1]["reason"] == reason, events[-1]
    return line


def test_a_colleague_on_another_machine_approves_through_the_lock_table(
    emulator: Emulator, people: dict[str, Person], tmp_path: Path
) -> None:
    factory, _ = emulator
    _lock_table(factory)
    alice, bob = people["alice"], people["bob"]
    inventory = _inventory(tmp_path)
    before = _endpoint(factory)
    run_id = _waiting_run(factory, alice, inventory)
    assert _endpoint(factory) == before
    requested = _events(alice, run_id)[-1]
    assert requested["event"] == "approval-requested" and requested["requester"] == alice.arn

    no_env = _ops(bob, inventory, "approve", run_id)  # bob has no journal of it: he names the env
    assert no_env.code == 2 and "--env" in _one_line(no_env)
    approved = _ops(bob, inventory, "approve", run_id, "--env", "staging")
    assert approved.code == 0, approved.err
    token = approved.out.split()[-1]
    items = factory.client("dynamodb").scan(TableName=TABLE)["Items"]
    keys = {item["target"]["S"] for item in items}
    assert f"approval#{hashlib.sha256(token.encode()).hexdigest()}" in keys
    assert f"approval-request#{run_id}" in keys
    assert token not in json.dumps(items)  # only its digest is kept

    resumed = _ops(alice, inventory, "resume", run_id, "--approve", token, "-o", "json")
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out)["approver"] == bob.arn
    assert _endpoint(factory) != before
    events = _events(alice, run_id)
    issued = next(e for e in events if e["event"] == "approval-issued")  # journaled when redeemed
    assert issued["approver"] == bob.arn
    assert token not in json.dumps(events)


def test_no_one_approves_their_own_run_on_aws(
    emulator: Emulator, people: dict[str, Person], tmp_path: Path
) -> None:
    factory, _ = emulator
    _lock_table(factory)
    alice, bob = people["alice"], people["bob"]
    inventory = _inventory(tmp_path)
    run_id = _waiting_run(factory, alice, inventory)
    before = _endpoint(factory)
    own = _ops(alice, inventory, "approve", run_id)
    line = _assert_refused(factory, alice, run_id, own, "self-approval", before)
    assert alice.arn in line and "a colleague must approve it" in line
    named = _ops(alice, inventory, "approve", run_id, "--as", "bob")  # no flag changes who you are
    assert named.code == 2 and "drop --as" in _one_line(named)

    # bob approves, then tries to run past his own approval with alice's journal.
    token = _ops(bob, inventory, "approve", run_id, "--env", "staging").out.split()[-1]
    bob_on_alices_machine = Person({**bob.env, "OPS_STATE_DIR": alice.env["OPS_STATE_DIR"]}, bob.arn)
    as_approver = _ops(bob_on_alices_machine, inventory, "resume", run_id, "--approve", token)
    _assert_refused(factory, alice, run_id, as_approver, "self-approval", before)


def test_a_used_token_is_refused_on_aws(
    emulator: Emulator, people: dict[str, Person], tmp_path: Path
) -> None:
    factory, _ = emulator
    _lock_table(factory)
    alice, bob = people["alice"], people["bob"]
    inventory = _inventory(tmp_path)
    first = _waiting_run(factory, alice, inventory)
    token = _ops(bob, inventory, "approve", first, "--env", "staging").out.split()[-1]
    assert _ops(alice, inventory, "resume", first, "--approve", token).code == 0
    second = _waiting_run(factory, alice, inventory)
    before = _endpoint(factory)
    reused = _ops(alice, inventory, "resume", second, "--approve", token)
    assert "used already" in _assert_refused(factory, alice, second, reused, "used", before)


def test_an_aws_environment_without_a_lock_table_refuses_a_protected_run_before_it_starts(
    emulator: Emulator, people: dict[str, Person], tmp_path: Path
) -> None:
    factory, _ = emulator
    inventory = _inventory(tmp_path, settings="{}")
    before = _endpoint(factory)
    runs = Path(people["alice"].env["OPS_STATE_DIR"]) / "runs"
    existing = set(runs.iterdir()) if runs.exists() else set()
    args = ("run", "rds-pitr", "--env", "staging", "--execute", "-p", f"target_time={_target(factory)}")
    result = _ops(people["alice"], inventory, *args)
    assert result.code == 2 and "runbook_settings.lock_table" in _one_line(result)
    assert _endpoint(factory) == before
    assert (set(runs.iterdir()) if runs.exists() else set()) == existing


def test_a_refusal_on_another_machine_reaches_the_runs_journal_when_it_resumes(
    emulator: Emulator, people: dict[str, Person], tmp_path: Path
) -> None:
    factory, _ = emulator
    _lock_table(factory)
    alice, bob = people["alice"], people["bob"]
    inventory = _inventory(tmp_path)
    run_id = _waiting_run(factory, alice, inventory)
    before = _endpoint(factory)
    wrong = _ops(bob, inventory, "approve", run_id, "--env", "staging", "--step", "cutover")
    assert wrong.code == 2 and "--step cutover: not an approval step" in _one_line(wrong)
    still = _ops(alice, inventory, "resume", run_id)  # no token: it asks again
    assert still.code == 2 and "waits at approve-cutover" in _one_line(still)
    events = _events(alice, run_id)
    refused = [e for e in events if e["event"] == "approval-refused"]
    assert [(e["reason"], e["by"]) for e in refused] == [("wrong-step", bob.arn)]
    assert events[-1]["event"] == "approval-requested" and _endpoint(factory) == before
    again = _ops(alice, inventory, "resume", run_id)
    assert again.code == 2
    assert len([e for e in _events(alice, run_id) if e["event"] == "approval-refused"]) == 1  # once
