"""The drill history: a started and an ended entry per drill, merged; which open drills
the next command may close. The entries are hand-forged (as the lock tests forge a lock's
holder): a drill of another machine or of a reused pid cannot be made to appear otherwise."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import Any, NoReturn

import psutil
import pytest

from ops.errors import OpsError
from ops.runbook.drill import DrillHost, close_dead_drills, history_file, read_history
from ops.state import StateDir


def _entry(drill_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "drill_id": drill_id,
        "runbook": "rds-pitr",
        "environment": "local",
        "component": "warehouse",
        "started_at": "2026-01-01T00:00:00+00:00",
        "success": False,
        "rto_seconds": None,
        "rpo_seconds": None,
        "rto_objective": 1800.0,
        "rpo_objective": 300.0,
        "run_id": drill_id,
        "error": "",
        "objectives_met": False,
        **fields,
    }


def _write(state: StateDir, *entries: dict[str, Any]) -> None:
    path = history_file(state)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))


def _unreachable(_what: object) -> NoReturn:
    raise OpsError("environment 'local' is not in the inventory")


def _host(state: StateDir) -> DrillHost:
    return DrillHost(state, aws_for=_unreachable, runbook_of=_unreachable, env_of=_unreachable)


def _started(drill_id: str, pid: int, host: str, process_started: float) -> dict[str, Any]:
    return _entry(
        drill_id, event="started", status="running", pid=pid, host=host, process_started=process_started
    )


def test_the_history_merges_each_drills_started_and_ended_entries(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    me = psutil.Process()
    _write(
        state,
        _entry("drill-a", success=True, rto_seconds=9.0, rpo_seconds=0.0, objectives_met=True),  # whole
        _started("drill-b", me.pid, socket.gethostname(), me.create_time()),
        _started("drill-c", me.pid, socket.gethostname(), me.create_time()),
        _entry("drill-b", event="ended", status="failed", error="ClientError: Rate exceeded"),
    )
    history = read_history(state)
    assert [(e["drill_id"], e["status"]) for e in history] == [
        ("drill-a", "completed"),
        ("drill-b", "failed"),
        ("drill-c", "running"),
    ]
    assert history[1]["error"] == "ClientError: Rate exceeded" and "event" not in history[1]
    assert read_history(state, "prod") == []


def test_a_drill_of_a_live_process_or_of_another_machine_stays_open(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    me = psutil.Process()
    _write(
        state,
        _started("drill-live", me.pid, socket.gethostname(), me.create_time()),
        _started("drill-elsewhere", 2**22 + 1, "another-machine", 0.0),  # never assumed dead
    )
    assert close_dead_drills(_host(state)) == []  # nothing to close: no AWS, no inventory asked
    assert [e["status"] for e in read_history(state)] == ["running", "running"]


def test_a_drill_whose_pid_was_reused_is_dead_and_stays_open_until_it_can_be_published(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = StateDir(tmp_path)
    # This pid runs, but it is another process than the drill's (started at another time).
    _write(state, _started("drill-reused", os.getpid(), socket.gethostname(), 1.0))
    with caplog.at_level(logging.WARNING):
        assert close_dead_drills(_host(state)) == []
    assert "could not close the dead drill drill-reused yet: environment 'local' is not in" in caplog.text
    assert [e["status"] for e in read_history(state)] == ["running"]  # the next command tries again
