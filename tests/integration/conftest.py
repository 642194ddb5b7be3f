"""One real local platform (emulator server, PostgreSQL, ingest service) for the module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from ops.aws.clients import ClientFactory
from ops.local.emulator import emulator_target
from tests.helpers import run_cli


@dataclass
class RunningPlatform:
    state_dir: Path
    record: dict[str, object]

    @property
    def env(self) -> dict[str, str]:
        return {"OPS_STATE_DIR": str(self.state_dir)}

    @property
    def ingest_url(self) -> str:
        return f"http://127.0.0.1:{self.record['ingest_port']}"

    @property
    def pg_conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.record['postgres_port']} user=postgres dbname=warehouse"

    def aws(self) -> ClientFactory:
        return ClientFactory(emulator_target(int(str(self.record["emulator_port"])), "us-east-1"))

    def pids(self) -> list[int]:
        """Every process the platform started: pid files and PostgreSQL's postmaster."""
        found = [int(p.read_text()) for p in (self.state_dir / "run").glob("*.pid")]
        postmaster = self.state_dir / "postgres" / "data" / "postmaster.pid"
        if postmaster.exists():
            found.append(int(postmaster.read_text().split()[0]))
        return found

    def refresh(self) -> None:
        self.record = json.loads((self.state_dir / "platform.json").read_text())


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent (PID 1 here reaps lazily)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(scope="module")
def platform(short_tmp: Path, request: pytest.FixtureRequest) -> Iterator[RunningPlatform]:
    state_dir = short_tmp / request.module.__name__.rsplit(".", 1)[-1]
    result = run_cli("local", "up", env={"OPS_STATE_DIR": str(state_dir)})
    assert result.code == 0, result.err
    running = RunningPlatform(state_dir, json.loads((state_dir / "platform.json").read_text()))
    yield running
    run_cli("local", "down", env=running.env)
