"""One real local platform (emulator server, PostgreSQL, ingest service) for the module."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from ops.aws.clients import ClientFactory
from ops.local.emulator import emulator_command, emulator_healthy, emulator_target
from ops.util.ports import free_port
from ops.util.processes import wait_until
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

    @property
    def aws_env(self) -> dict[str, str]:
        """What a process needs to reach the emulator with plain boto3 (AWS_ENDPOINT_URL)."""
        return {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self.record['emulator_port']}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

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


@contextlib.contextmanager
def emulator_server(folder: Path) -> Iterator[tuple[ClientFactory, dict[str, str]]]:
    """The AWS emulator alone, as a server over HTTP, with the variables a CLI run needs."""
    port = free_port()
    with open(folder / f"aws-emulator-{port}.log", "wb") as log:
        process = subprocess.Popen(emulator_command(port), stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: emulator_healthy(port), 30, "the emulator")
            env = {
                "OPS_AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "OPS_STATE_DIR": str(folder / f"state-{port}"),
            }
            yield ClientFactory(emulator_target(port, "us-east-1")), env
        finally:
            process.terminate()
            process.wait()


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent (PID 1 here reaps lazily)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@contextlib.contextmanager
def started_platform(state_dir: Path, kafka: bool = False) -> Iterator[RunningPlatform]:
    """`ops local up` in `state_dir`, and `ops local down` after, whatever happened. Without
    Kafka unless asked: the ingest service then writes the database itself, and the module
    does not pay for four JVMs it does not use."""
    flag = "--kafka" if kafka else "--no-kafka"
    result = run_cli("local", "up", flag, env={"OPS_STATE_DIR": str(state_dir)})
    assert result.code == 0, result.err
    running = RunningPlatform(state_dir, json.loads((state_dir / "platform.json").read_text()))
    try:
        yield running
    finally:
        run_cli("local", "down", env=running.env)


@pytest.fixture(scope="module")
def platform(short_tmp: Path, request: pytest.FixtureRequest) -> Iterator[RunningPlatform]:
    """The module's platform, shared by its tests: none of them may stop it."""
    with started_platform(short_tmp / request.module.__name__.rsplit(".", 1)[-1]) as running:
        yield running


@pytest.fixture
def own_platform(short_tmp: Path, request: pytest.FixtureRequest) -> Iterator[RunningPlatform]:
    """A platform for one test that stops or breaks it (the module's stays untouched)."""
    with started_platform(short_tmp / f"own-{request.node.name}"[:40]) as running:
        yield running
