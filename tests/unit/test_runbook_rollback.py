"""The engine's failure paths on a runbook made for them: a step stopped midway is undone
from what it noted, a failing rollback leaves the run `rollback-failed` until an abort
succeeds, and an abort takes the run's lock."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from ops.errors import BadInput, Interrupted, OpsError
from ops.inventory import load_environment
from ops.runbook.controls import Control
from ops.runbook.engine import RunbookEngine, load_record
from ops.runbook.lock import TargetLock
from ops.runbook.model import Runbook, RunContext, Step, StepKind
from ops.state import StateDir
from tests.helpers import INVENTORY


class _Switch(Runbook):
    """Moves a pointer in `world` from "source" to "restored"; its rollback moves it back
    from what the step noted, and can be made to fail a number of times."""

    name = "switch"
    summary = "moves a pointer"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    params_model = Params

    def __init__(self, world: dict[str, Any], undo_failures: int = 0) -> None:
        self.world = world
        self.undo_failures = undo_failures
        self.previous_seen: list[str] = []

    def target(self, env: Any, params: Any) -> str:
        return "switch-target"

    def steps(self, env: Any, params: Any) -> list[Step]:
        def switch(ctx: RunContext) -> dict[str, Any]:
            previous = ctx.noted("previous", self.world["pointer"])
            self.previous_seen.append(previous)
            ctx.note(previous=previous)
            self.world["pointer"] = "restored"
            ctx.checkpoint("switched")
            return {"previous": previous}

        def undo(ctx: RunContext) -> None:
            if self.undo_failures:
                self.undo_failures -= 1
                raise OpsError("the pointer cannot be moved right now")
            self.world["pointer"] = ctx.output("switch", "previous")

        def check(ctx: RunContext) -> dict[str, Any]:
            return {}

        return [
            Step("switch", StepKind.ACTION, "switch", (), switch, undo),
            Step("post-check", StepKind.VERIFY, "check", (), check),
        ]


class _FailAt(Control):
    def __init__(self, where: str) -> None:
        self.where = where

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        if f"{name}:{step.id}" == self.where:
            raise OpsError(f"failed at {self.where}")

    def before_step(self, ctx: RunContext, step: Step) -> None:
        if f"before:{step.id}" == self.where:
            raise OpsError(f"failed at {self.where}")


def _run(tmp_path: Path, runbook: _Switch, where: str) -> tuple[str, Exception | None]:
    engine = RunbookEngine(StateDir(tmp_path), controls=(_FailAt(where),))
    env = load_environment("local", INVENTORY)
    try:
        engine.run(runbook, env, runbook.Params(), execute=True, approve=lambda _: None, run_id="switch-1")
    except OpsError as error:
        return "switch-1", error
    return "switch-1", None


def _events(tmp_path: Path) -> list[dict[str, Any]]:
    journal = tmp_path / "runs" / "switch-1" / "journal.jsonl"
    return [json.loads(line) for line in journal.read_text().splitlines()]


def test_a_step_stopped_after_its_change_is_undone_from_its_note(tmp_path: Path) -> None:
    world = {"pointer": "source"}
    _, error = _run(tmp_path, _Switch(world), "switched:switch")
    assert error is not None and world == {"pointer": "source"}
    events = [e["event"] for e in _events(tmp_path)]
    assert events[-3:] == ["step-failed", "step-rolled-back", "run-failed"]
    assert load_record(StateDir(tmp_path), "switch-1").status == "failed"


def test_a_failure_after_the_step_undoes_it_too(tmp_path: Path) -> None:
    world = {"pointer": "source"}
    _, error = _run(tmp_path, _Switch(world), "before:post-check")
    assert error is not None and world == {"pointer": "source"}


def test_a_resumed_step_reads_what_it_noted_not_the_changed_world(tmp_path: Path) -> None:
    """A crash after the switch but before the journal says so: the pointer names the
    restored side already; the step's second attempt must remember the source."""
    world = {"pointer": "source"}
    runbook = _Switch(world)
    engine = RunbookEngine(StateDir(tmp_path))
    env = load_environment("local", INVENTORY)

    class Crash(Control):
        def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
            raise KeyboardInterrupt  # not an Exception: the engine's handlers do not run

    with pytest.raises(KeyboardInterrupt):
        RunbookEngine(StateDir(tmp_path), controls=(Crash(),)).run(
            runbook, env, runbook.Params(), execute=True, approve=lambda _: None, run_id="switch-1"
        )
    assert world == {"pointer": "restored"}
    engine.run(runbook, env, runbook.Params(), execute=True, approve=lambda _: None, run_id="switch-1")
    assert runbook.previous_seen == ["source", "source"]
    assert load_record(StateDir(tmp_path), "switch-1").completed["switch"] == {"previous": "source"}


def test_a_failing_rollback_leaves_the_run_rollback_failed_and_abort_tries_again(tmp_path: Path) -> None:
    world = {"pointer": "source"}
    runbook = _Switch(world, undo_failures=2)
    _, error = _run(tmp_path, runbook, "before:post-check")
    assert error is not None and world == {"pointer": "restored"}
    record = load_record(StateDir(tmp_path), "switch-1")
    assert record.status == "rollback-failed" and record.left == ["switch"]
    env = load_environment("local", INVENTORY)
    engine = RunbookEngine(StateDir(tmp_path))
    with pytest.raises(OpsError, match=r"could not undo switch \(the pointer cannot be moved right now\)"):
        engine.abort(runbook, env, runbook.Params(), "switch-1")
    assert load_record(StateDir(tmp_path), "switch-1").status == "rollback-failed"
    record = engine.abort(runbook, env, runbook.Params(), "switch-1")
    assert record.status == "aborted" and world == {"pointer": "source"}
    assert not (tmp_path / "locks" / "switch-target.lock").exists()


def test_an_abort_is_refused_while_a_live_process_holds_the_run_lock(tmp_path: Path) -> None:
    world = {"pointer": "source"}
    runbook = _Switch(world, undo_failures=1)
    _run(tmp_path, runbook, "before:post-check")
    other = TargetLock(tmp_path / "locks", "switch-target", "switch-2")
    other.acquire()  # another run, in this (live) process
    env = load_environment("local", INVENTORY)
    with pytest.raises(BadInput, match="locked by run switch-2"):
        RunbookEngine(StateDir(tmp_path)).abort(runbook, env, runbook.Params(), "switch-1")
    assert world == {"pointer": "restored"}
    assert load_record(StateDir(tmp_path), "switch-1").status == "rollback-failed"


def test_a_live_process_of_the_same_run_keeps_its_lock(tmp_path: Path) -> None:
    """A resume or an abort while the run's own process still runs is refused; once that
    process is gone, the run's next process takes the lock over."""
    lock = TargetLock(tmp_path, "db", "run-a")
    lock.acquire()
    holder = json.loads(lock.path.read_text())
    lock.path.write_text(json.dumps({**holder, "pid": os.getppid()}))  # the run's process, alive
    with pytest.raises(BadInput, match=r"run run-a is still running \(pid \d+ on .*\); stop that process"):
        TargetLock(tmp_path, "db", "run-a").acquire()
    lock.path.write_text(json.dumps({**holder, "pid": 2**22 + 1}))  # that process died
    TargetLock(tmp_path, "db", "run-a").acquire()
    assert json.loads(lock.path.read_text())["pid"] == os.getpid()


def test_a_signal_during_a_rollback_waits_until_the_run_is_ended(tmp_path: Path) -> None:
    """A second Ctrl-C while the run undoes itself: the rollback finishes, the run's end is
    journaled, and only then the signal stops the process."""

    def interrupt(signal_number: int, _frame: object) -> None:
        raise Interrupted(signal_number)

    world = {"pointer": "source"}
    runbook = _Switch(world)
    first_undo = runbook.steps(None, None)[0].rollback
    assert first_undo is not None
    undo = first_undo

    class SignalledSwitch(_Switch):
        def steps(self, env: Any, params: Any) -> list[Step]:
            switch, check = super().steps(env, params)

            def undo_signalled(ctx: RunContext) -> None:
                os.kill(os.getpid(), signal.SIGTERM)  # arrives while the rollback runs
                undo(ctx)

            return [replace(switch, rollback=undo_signalled), check]

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        with pytest.raises(Interrupted):
            _run(tmp_path, SignalledSwitch(world), "before:post-check")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert world == {"pointer": "source"}
    assert [e["event"] for e in _events(tmp_path)][-2:] == ["step-rolled-back", "run-failed"]


def test_an_approval_is_undone_with_the_run_so_a_resumed_run_asks_again(tmp_path: Path) -> None:
    class Approved(_Switch):
        def steps(self, env: Any, params: Any) -> list[Step]:
            switch, check = super().steps(env, params)
            approve = Step("approve", StepKind.APPROVAL, "approve", (), lambda ctx: {})
            return [approve, switch, check]

    local = load_environment("local", INVENTORY)
    env = replace(local, meta=local.meta.model_copy(update={"protected": True}))
    asked: list[str] = []

    def approve(step: Step) -> str:
        asked.append(step.id)
        return "bob"

    world = {"pointer": "source"}
    runbook = Approved(world)
    with pytest.raises(OpsError):
        RunbookEngine(StateDir(tmp_path), controls=(_FailAt("before:post-check"),)).run(
            runbook, env, runbook.Params(), execute=True, approve=approve, run_id="switch-1"
        )
    assert world == {"pointer": "source"} and asked == ["approve"]
    RunbookEngine(StateDir(tmp_path)).run(
        runbook, env, runbook.Params(), execute=True, approve=approve, run_id="switch-1"
    )
    assert asked == ["approve", "approve"] and world == {"pointer": "restored"}


def _race_for_the_lock(folder: str, run_id: str, start: Any, done: Any, results: Any) -> None:
    start.wait()
    try:
        TargetLock(Path(folder), "db", run_id).acquire()
        results.put(run_id)
    except BadInput:
        results.put("")
    done.wait()  # hold it (alive) until every process has tried


def test_of_many_processes_racing_for_a_lock_one_gets_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    start, done, results = context.Barrier(8), context.Barrier(8), context.Queue()
    racers = [
        context.Process(target=_race_for_the_lock, args=(str(tmp_path), f"run-{n}", start, done, results))
        for n in range(8)
    ]
    for racer in racers:
        racer.start()
    winners = [results.get(timeout=60) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
    assert len([w for w in winners if w]) == 1
