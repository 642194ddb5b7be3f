"""Four-eyes approvals on the local platform: a protected run waits at its approval step, a
colleague approves that run (`ops runbook approve RUN_ID`), the operator resumes with the
token. Every token that does not fit (used, expired, another run, another environment,
another step, one's own) is refused with one line, exit 2, nothing past the approval done,
and the refusal journaled."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.util.processes import wait_until
from tests.helpers import INVENTORY, Result, run_cli
from tests.integration.conftest import RunningPlatform
from tests.integration.test_rds_pitr import _endpoint, _iso, _target_after_newest_backup

LOCAL = "    provider: local\n    protected: false\n"
APPROVAL_STEP = "approve-cutover"


def _inventory(
    tmp_path: Path, *, ttl: str | None = None, second_env: bool = False, name: str = "platform.yaml"
) -> Path:
    """The shipped inventory with `local` protected (and its approvals' lifetime), and
    optionally a second protected local environment, `other`, on the same platform."""
    text = INVENTORY.read_text()
    assert LOCAL in text
    settings = f"    runbook_settings: {{approval_ttl: {ttl}}}\n" if ttl else ""
    text = text.replace(LOCAL, "    provider: local\n    protected: true\n" + settings)
    if second_env:
        other = (
            "  other:\n    provider: local\n    protected: true\n"
            "    components:\n      warehouse: {instance_class: db.t4g.micro, allocated_storage_gib: 20,\n"
            "                  multi_az: false, deletion_protection: false}\n"
        )
        text = text.replace("environments:\n", "environments:\n" + other, 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def _ops(platform: RunningPlatform, inventory: Path, *args: str) -> Result:
    return run_cli("--inventory", str(inventory), "runbook", *args, env=platform.env)


def _one_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


def _events(platform: RunningPlatform, run_id: str) -> list[dict[str, object]]:
    text = (platform.state_dir / "runs" / run_id / "journal.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def _started_steps(platform: RunningPlatform, run_id: str) -> list[object]:
    return [e["step"] for e in _events(platform, run_id) if e["event"] == "step-started"]


def _status(platform: RunningPlatform, inventory: Path, run_id: str) -> str:
    result = _ops(platform, inventory, "status", run_id, "-o", "json")
    assert result.code == 0, result.err
    status: str = json.loads(result.out)[0]["status"]
    return status


Waiting = list[tuple[RunningPlatform, Path, str]]


@pytest.fixture
def runs() -> Iterator[Waiting]:
    """The runs a test leaves waiting: aborted after it, so their restored servers stop."""
    waiting: Waiting = []
    yield waiting
    for platform, inventory, run_id in waiting:
        if _status(platform, inventory, run_id) == "running":
            _ops(platform, inventory, "abort", run_id)


def _waiting_run(
    platform: RunningPlatform,
    inventory: Path,
    runs: Waiting,
    *,
    env: str = "local",
    operator: str | None = "alice",
) -> str:
    """A protected run that stopped at its approval step: its id."""
    if env != "local":  # the second environment names the same server as `local`
        platform.aws().client("ssm").put_parameter(
            Name=f"/dataplat/{env}/warehouse/endpoint",
            Value=json.dumps(_endpoint(platform)),
            Type="String",
            Overwrite=True,
        )
    target = _iso(_target_after_newest_backup(platform, timedelta(seconds=1)))
    who = ("--as", operator) if operator else ()
    result = _ops(
        platform, inventory, "run", "rds-pitr", "--env", env, "--execute", "-p", f"target_time={target}", *who
    )
    assert result.code == 2, result.err
    match = re.search(r"run (\S+) waits at approve-cutover", _one_line(result))
    assert match, result.err
    runs.append((platform, inventory, match.group(1)))
    return match.group(1)


def _token(result: Result) -> str:
    assert result.code == 0, result.err
    return result.out.split()[-1]


def _assert_refused(
    platform: RunningPlatform,
    inventory: Path,
    run_id: str,
    result: Result,
    reason: str,
    endpoint: dict[str, object],
) -> str:
    """Refused with one line and exit 2; the run still waits at its approval step with
    nothing after it started, the endpoint unchanged; the refusal in the run's journal."""
    line = _one_line(result)
    assert result.code == 2, result.err
    started = _started_steps(platform, run_id)
    assert APPROVAL_STEP not in started and "cutover" not in started
    assert _endpoint(platform) == endpoint
    assert _status(platform, inventory, run_id) == "running"  # resumable
    refusal = _events(platform, run_id)[-1]
    assert refusal["event"] == "approval-refused" and refusal["reason"] == reason, refusal
    return line


def test_a_protected_run_waits_for_a_colleagues_approval_then_resumes_with_it(
    platform: RunningPlatform, tmp_path: Path, runs: Waiting
) -> None:
    inventory = _inventory(tmp_path)
    before = _endpoint(platform)
    run_id = _waiting_run(platform, inventory, runs)
    assert _endpoint(platform) == before and "cutover" not in _started_steps(platform, run_id)
    requested = _events(platform, run_id)[-1]
    assert requested["event"] == "approval-requested" and requested["requester"] == "alice"

    approved = _ops(platform, inventory, "approve", run_id, "--as", "bob")
    token = _token(approved)
    assert f"ops runbook resume {run_id} --approve {token}" in approved.out
    issued = _events(platform, run_id)[-1]
    assert issued["event"] == "approval-issued" and issued["approver"] == "bob"
    assert issued["step"] == APPROVAL_STEP

    resumed = _ops(platform, inventory, "resume", run_id, "--as", "alice", "--approve", token, "-o", "json")
    assert resumed.code == 0, resumed.err
    assert json.loads(resumed.out)["approver"] == "bob"
    assert _endpoint(platform) != before  # the cutover ran
    journal = (platform.state_dir / "runs" / run_id / "journal.jsonl").read_text()
    assert token not in journal
    assert not any(token in p.read_text() for p in (platform.state_dir / "approvals").rglob("*.json"))


def test_a_new_run_with_a_token_is_refused_before_anything_runs(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    inventory = _inventory(tmp_path)
    before = sorted((platform.state_dir / "runs").glob("*")) if (platform.state_dir / "runs").exists() else []
    target = _iso(datetime.now(UTC))
    result = _ops(
        platform, inventory, "run", "rds-pitr", "--execute", "-p", f"target_time={target}", "--approve", "x"
    )
    assert result.code == 2 and "ops runbook approve RUN_ID" in _one_line(result)
    assert sorted((platform.state_dir / "runs").glob("*")) == before


def test_a_used_token_is_refused(platform: RunningPlatform, tmp_path: Path, runs: Waiting) -> None:
    inventory = _inventory(tmp_path)
    first = _waiting_run(platform, inventory, runs)
    token = _token(_ops(platform, inventory, "approve", first, "--as", "bob"))
    assert _ops(platform, inventory, "resume", first, "--as", "alice", "--approve", token).code == 0
    second = _waiting_run(platform, inventory, runs)
    before = _endpoint(platform)
    reused = _ops(platform, inventory, "resume", second, "--as", "alice", "--approve", token)
    line = _assert_refused(platform, inventory, second, reused, "used", before)
    assert "used already" in line


def test_an_expired_token_is_refused(platform: RunningPlatform, tmp_path: Path, runs: Waiting) -> None:
    inventory = _inventory(tmp_path, ttl="1s")
    run_id = _waiting_run(platform, inventory, runs)
    approved = _ops(platform, inventory, "approve", run_id, "--as", "bob")
    token = _token(approved)
    until = re.search(r"until (\S+);", approved.out)
    assert until, approved.out
    expires = datetime.fromisoformat(until.group(1))
    wait_until(lambda: datetime.now(UTC) > expires, 10, "the approval's expiry")
    before = _endpoint(platform)
    late = _ops(platform, inventory, "resume", run_id, "--as", "alice", "--approve", token)
    assert "expired" in _assert_refused(platform, inventory, run_id, late, "expired", before)


def test_a_token_for_another_run_is_refused(platform: RunningPlatform, tmp_path: Path, runs: Waiting) -> None:
    inventory = _inventory(tmp_path)
    mine = _waiting_run(platform, inventory, runs)
    token = _token(_ops(platform, inventory, "approve", mine, "--as", "bob"))
    # A waiting run keeps its target locked: no second run starts beside it.
    now = _iso(datetime.now(UTC))
    beside = _ops(platform, inventory, "run", "rds-pitr", "--execute", "-p", f"target_time={now}")
    assert beside.code == 2 and f"held by run {mine}, which waits for an approval" in _one_line(beside)
    assert _ops(platform, inventory, "abort", mine).code == 0
    other = _waiting_run(platform, inventory, runs)
    before = _endpoint(platform)
    wrong = _ops(platform, inventory, "resume", other, "--as", "alice", "--approve", token)
    line = _assert_refused(platform, inventory, other, wrong, "wrong-run", before)
    assert f"approves run {mine}, not {other}" in line


def test_a_token_for_another_environment_is_refused(
    own_platform: RunningPlatform, tmp_path: Path, runs: Waiting
) -> None:
    platform = own_platform  # its endpoint still names the platform's own server
    inventory = _inventory(tmp_path, second_env=True)
    on_local = _waiting_run(platform, inventory, runs)
    token = _token(_ops(platform, inventory, "approve", on_local, "--as", "bob"))
    on_other = _waiting_run(platform, inventory, runs, env="other")
    before = _endpoint(platform)
    wrong = _ops(platform, inventory, "resume", on_other, "--as", "alice", "--approve", token)
    line = _assert_refused(platform, inventory, on_other, wrong, "wrong-environment", before)
    assert "approves a run on local, not on other" in line
    # Approving a run under another environment's name is refused too.
    named = _ops(platform, inventory, "approve", on_local, "--env", "other", "--as", "bob")
    assert f"run {on_local} is on local, not on other" in _one_line(named) and named.code == 2
    assert _events(platform, on_local)[-1]["reason"] == "wrong-environment"


def test_an_approval_for_a_step_that_is_not_an_approval_step_is_refused(
    platform: RunningPlatform, tmp_path: Path, runs: Waiting
) -> None:
    inventory = _inventory(tmp_path)
    run_id = _waiting_run(platform, inventory, runs)
    before = _endpoint(platform)
    wrong = _ops(platform, inventory, "approve", run_id, "--step", "cutover", "--as", "bob")
    line = _assert_refused(platform, inventory, run_id, wrong, "wrong-step", before)
    assert f"--step cutover: not an approval step of run {run_id}" in line


def test_no_one_approves_their_own_run(platform: RunningPlatform, tmp_path: Path, runs: Waiting) -> None:
    inventory = _inventory(tmp_path)
    run_id = _waiting_run(platform, inventory, runs)
    before = _endpoint(platform)
    own = _ops(platform, inventory, "approve", run_id, "--as", "alice")
    assert "a colleague must approve it" in _assert_refused(
        platform, inventory, run_id, own, "self-approval", before
    )
    # Nor runs past an approval they gave themselves.
    token = _token(_ops(platform, inventory, "approve", run_id, "--as", "bob"))
    as_approver = _ops(platform, inventory, "resume", run_id, "--as", "bob", "--approve", token)
    _assert_refused(platform, inventory, run_id, as_approver, "self-approval", before)
    assert _ops(platform, inventory, "abort", run_id).code == 0  # it holds the target's lock
    # Without --as, the operator is the OS user, who cannot approve it either.
    unnamed = _waiting_run(platform, inventory, runs, operator=None)
    refused = _ops(platform, inventory, "approve", unnamed)
    _assert_refused(platform, inventory, unnamed, refused, "self-approval", before)
