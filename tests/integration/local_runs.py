"""What the local run tests share: rds-pitr runs on a module's platform, where its primary
is (platform.json, not a guess), traffic that counts what the ingest service accepted, and
the restart check (`ops local down`, `ops local up`, then healthy on the right server)."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from loadtest.payloads import PayloadGenerator
from ops.contracts import FINANCIAL_PATH
from ops.util.processes import wait_until
from tests.helpers import Result, run_cli
from tests.integration.conftest import RunningPlatform
from tests.integration.test_rds_pitr import Traffic

PARAMETER = "/dataplat/local/warehouse/endpoint"


def endpoint(platform: RunningPlatform) -> dict[str, Any]:
    """What the endpoint parameter names, read back from the emulator."""
    value = platform.aws().client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]
    found: dict[str, Any] = json.loads(value)
    return found


def conninfo(port: object, dbname: str = "warehouse") -> str:
    return f"host=127.0.0.1 port={port} user=postgres dbname={dbname} connect_timeout=5"


def primary(platform: RunningPlatform) -> tuple[Path, int]:
    """The primary's folder and port, as platform.json records them."""
    platform.refresh()
    recorded: dict[str, Any] | None = platform.record.get("primary")  # type: ignore[assignment]
    if recorded:
        return Path(recorded["root"]), int(recorded["port"])
    return platform.state_dir / "postgres", int(str(platform.record["postgres_port"]))


def restores(platform: RunningPlatform) -> list[str]:
    folder = platform.state_dir / "restores"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def target_after_newest_backup(platform: RunningPlatform, before_now: timedelta) -> datetime:
    """A target `before_now` before now, once the clock is more than a second past the end of
    the primary's newest base backup (a restore replays from it; its label counts seconds)."""
    root, _ = primary(platform)
    backups = sorted(p for p in (root / "base-backups").iterdir() if (p / "PG_VERSION").exists())
    finished = max(f.stat().st_mtime for f in backups[-1].iterdir())
    ready = datetime.fromtimestamp(finished, UTC) + timedelta(seconds=1) + before_now
    wait_until(lambda: datetime.now(UTC) > ready, 10, "the clock past the newest base backup")
    return datetime.now(UTC) - before_now


def pitr(
    platform: RunningPlatform,
    *params: str,
    env: dict[str, str] | None = None,
    log_level: str = "info",
    log_format: str = "text",
) -> Result:
    """An executed rds-pitr run to a moment just past the primary's newest base backup."""
    target = target_after_newest_backup(platform, timedelta(milliseconds=200))
    return run_cli(
        "--log-level",
        log_level,
        "--log-format",
        log_format,
        "runbook",
        "run",
        "rds-pitr",
        "--execute",
        "-p",
        f"target_time={target.isoformat()}",
        *(arg for param in params for arg in ("-p", param)),
        env={**platform.env, **(env or {})},
    )


def newest_run(platform: RunningPlatform) -> str:
    runs = sorted((platform.state_dir / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    return runs[-1].name


def run_status(platform: RunningPlatform, run_id: str) -> dict[str, Any]:
    result = run_cli("runbook", "status", run_id, "-o", "json", env=platform.env)
    assert result.code == 0, result.err
    (record,) = json.loads(result.out)
    return record  # type: ignore[no-any-return]


def ingest_port(platform: RunningPlatform) -> int:
    """The port of the database the ingest service writes to now (its /health)."""
    health = httpx.get(f"{platform.ingest_url}/health", timeout=5).json()
    return int(str(health["database"]).split(":")[1].split("/")[0])


def stored(port: int, ids: list[str]) -> int:
    """How many of `ids` the financial_transactions table of the server on `port` holds."""
    with psycopg.connect(conninfo(port)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM financial_transactions WHERE transaction_id = ANY(%s)", (ids,)
        ).fetchone()
    return int(row[0]) if row else 0


class AcceptedTraffic(Traffic):
    """Traffic that keeps the id of every record the ingest service answered 200 for."""

    def __init__(self, url: str, limit: int = 6000, seconds: float = 90) -> None:
        super().__init__(url, limit, seconds)
        self.accepted: list[str] = []

    def _run(self) -> None:
        generator = PayloadGenerator(f"accepted{time.time_ns()}")
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while not self.stop.is_set() and self.sent < self.limit and time.monotonic() < self.deadline:
                record = generator.financial_transaction()
                with contextlib.suppress(httpx.HTTPError):  # a refusal is not an acceptance
                    if client.post(FINANCIAL_PATH, json=record).status_code == 200:
                        self.accepted.append(record["transaction_id"])
                self.sent += 1
                time.sleep(0.005)

    def __enter__(self) -> AcceptedTraffic:
        super().__enter__()
        return self

    def more(self, count: int, timeout: float = 30) -> None:
        """Wait until `count` more records are accepted."""
        start = len(self.accepted)
        wait_until(lambda: len(self.accepted) >= start + count, timeout, f"{count} more accepted records")


def assert_healthy_on(platform: RunningPlatform, port: int) -> None:
    """`ops local status` exits 0, and the ingest service writes to the server on `port`."""
    status = run_cli("local", "status", "-o", "json", env=platform.env)
    assert status.code == 0, status.out + status.err
    parts = {part["name"]: part for part in json.loads(status.out)["parts"]}
    assert parts["postgres"]["address"].startswith(f"127.0.0.1:{port}/")
    assert ingest_port(platform) == port
    probe = PayloadGenerator(f"probe{time.time_ns()}").financial_transaction()
    assert httpx.post(f"{platform.ingest_url}{FINANCIAL_PATH}", json=probe, timeout=10).status_code == 200
    assert stored(port, [probe["transaction_id"]]) == 1


def restart(platform: RunningPlatform) -> None:
    """`ops local down` then `ops local up`, as an operator ends a day and starts the next."""
    down = run_cli("local", "down", env=platform.env)
    assert down.code == 0, down.err
    # Every server stopped (primary, old, restored): a clean stop removes postmaster.pid.
    assert not list(platform.state_dir.glob("**/data/postmaster.pid"))
    up = run_cli("local", "up", env=platform.env)
    assert up.code == 0, up.err
    platform.refresh()


def assert_restarts_on_primary(platform: RunningPlatform) -> None:
    """After `down` and `up`, the platform is healthy on the primary platform.json names."""
    restart(platform)
    _, port = primary(platform)
    assert endpoint(platform)["port"] == port
    assert_healthy_on(platform, port)
