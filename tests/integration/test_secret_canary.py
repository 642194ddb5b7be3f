"""No secret leaves its place: canary credentials planted in the caller's environment
(AWS keys and session token, PGPASSWORD, OPS_GRAFANA_TOKEN) and a canary secret in the
emulator's Secrets Manager appear in no output of any command at any log level (text and
JSON), in no file under the state folder (logs, journals, reports, platform.json, the
servers' logs), and in no environment of the platform's processes (/proc/<pid>/environ of
the emulator, the ingest service, every PostgreSQL server and their children)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest

from ops.local.emulator import EMULATOR_CREDENTIALS
from tests.helpers import Result, run_cli
from tests.integration.conftest import RunningPlatform
from tests.integration.local_runs import pitr

TAG = secrets.token_hex(6)
CANARIES = {
    "AWS_ACCESS_KEY_ID": f"ASIACANARY{TAG.upper()[:10]}",
    "AWS_SECRET_ACCESS_KEY": f"canary-secret-access-key-{TAG}",
    "AWS_SESSION_TOKEN": f"canary-session-token-{TAG}",
    "PGPASSWORD": f"canary-pg-password-{TAG}",
    "OPS_GRAFANA_TOKEN": f"glsa_canary_{TAG}",
}
SECRETS_MANAGER_CANARY = f"canary-secrets-manager-{TAG}"
EVERY = (*CANARIES.values(), SECRETS_MANAGER_CANARY)
# Database files hold rows, not logs: the folders searched are everything else.
NOT_SEARCHED = {"data", "wal-archive", "base-backups"}


@pytest.fixture
def canary_platform(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningPlatform, Result]]:
    """A platform started by `ops local up` (debug logs) from an environment holding the
    canaries, with the canary secret in its emulator; its output comes with it."""
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    state_dir = short_tmp / "canary"
    env = {"OPS_STATE_DIR": str(state_dir)}
    up = run_cli("--log-level", "debug", "local", "up", env=env)
    try:
        assert up.code == 0, up.err
        platform = RunningPlatform(state_dir, {})
        platform.refresh()
        platform.aws().client("secretsmanager").create_secret(
            Name="dataplat/local/warehouse/canary", SecretString=SECRETS_MANAGER_CANARY
        )
        yield platform, up
    finally:
        run_cli("local", "down", env=env)


def _leaks(text: str) -> list[str]:
    return [canary for canary in EVERY if canary in text]


def _platform_processes(platform: RunningPlatform) -> list[psutil.Process]:
    """The emulator, the ingest service, every PostgreSQL server, and all their children."""
    leaders = [int(p.read_text()) for p in (platform.state_dir / "run").glob("*.pid")]
    for postmaster in platform.state_dir.glob("**/data/postmaster.pid"):
        leaders.append(int(postmaster.read_text().split()[0]))
    found = []
    for pid in leaders:
        leader = psutil.Process(pid)
        found += [leader, *leader.children(recursive=True)]
    return found


def test_no_canary_in_any_output_file_or_child_environment(
    canary_platform: tuple[RunningPlatform, Result],
) -> None:
    platform, up = canary_platform
    outputs = [up]
    now = f"target_time={datetime.now(UTC).isoformat()}"
    for level in ("debug", "info", "warning", "error"):
        for form in ("text", "json"):
            head = ("--log-level", level, "--log-format", form)
            for command in (("local", "up"), ("local", "status"), ("runbook", "run", "rds-pitr", "-p", now)):
                outputs.append(run_cli(*head, *command, env=platform.env))
            assert outputs[-3].code == 0 and outputs[-2].code == 0 and outputs[-1].code == 0, outputs[-1].err
    for form in ("text", "json"):  # executed runs, restore and cutover, at the chattiest level
        executed = pitr(platform, log_level="debug", log_format=form)
        assert executed.code == 0, executed.err
        outputs.append(executed)
    outputs.append(run_cli("runbook", "status", "-o", "json", env=platform.env))
    # The wire loggers asked for by name, with the canary keys signing real requests (an AWS
    # environment sent to the emulator): their headers are printed, redacted.
    wire = run_cli(
        "--log-level",
        "debug",
        "--endpoint-url",
        platform.aws_env["AWS_ENDPOINT_URL"],
        "runbook",
        "run",
        "rds-pitr",
        "--env",
        "staging",
        "-p",
        now,
        env={**platform.env, "OPS_LOG_WIRE": "botocore,urllib3"},
    )
    assert "[redacted]" in wire.err and "Authorization" in wire.err  # the wire was logged
    outputs.append(wire)

    for result in outputs:
        assert not _leaks(result.out + result.err), (result.out + result.err)[-2000:]
    files = [
        path
        for path in platform.state_dir.rglob("*")
        if path.is_file() and not NOT_SEARCHED & set(path.relative_to(platform.state_dir).parts)
    ]
    assert any(p.name == "journal.jsonl" for p in files) and any(p.name == "ingest.log" for p in files)
    for path in files:
        assert not _leaks(path.read_bytes().decode(errors="replace")), path
    processes = _platform_processes(platform)
    assert len(processes) >= 5  # emulator, ingest, two servers and their helpers
    for process in processes:
        environ = Path(f"/proc/{process.pid}/environ").read_bytes().decode(errors="replace")
        assert not _leaks(environ), process.cmdline()
        if "uvicorn" in process.cmdline() or "moto.server" in process.cmdline():
            assert f"AWS_ACCESS_KEY_ID={EMULATOR_CREDENTIALS['aws_access_key_id']}" in environ
