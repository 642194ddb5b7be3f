"""Runbook engine pieces that need no running platform: the journal, the lock, the plan,
the IAM policy, parameters, controls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from ops.errors import BadInput, OpsError
from ops.inventory import load_environment
from ops.inventory.environment import Environment
from ops.runbook.controls import CONTROLS_ENV, Control, controls_from_environment
from ops.runbook.engine import RunbookEngine, parse_params
from ops.runbook.iam import actions_of, policy
from ops.runbook.journal import Journal, RunRecord
from ops.runbook.lock import TargetLock
from ops.runbook.model import Runbook, RunContext, Step, StepKind, StopCondition
from ops.state import StateDir
from runbooks import REGISTRY
from tests.helpers import INVENTORY, REPO, run_main

PITR = REGISTRY["rds-pitr"]


def test_the_journal_survives_a_line_cut_by_a_crash(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run-1")
    journal.append("run-started", runbook="rds-pitr", environment="local", params={}, execute=True)
    journal.append("step-started", step="restore")
    journal.append("step-completed", step="restore", outputs={"port": 5})
    with open(journal.path, "a") as out:
        out.write('{"at": "2026-11-26", "event": "step-sta')  # the crash
    record = RunRecord.from_journal("run-1", journal)
    assert record.completed == {"restore": {"port": 5}} and record.status == "running"


def test_a_rolled_back_step_is_not_done_any_more(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "run-2")
    journal.append("run-started", runbook="rds-pitr", environment="local", params={}, execute=True)
    journal.append("step-completed", step="restore", outputs={})
    journal.append("step-rolled-back", step="restore")
    journal.append("run-failed", error="boom")
    record = RunRecord.from_journal("run-2", journal)
    assert record.completed == {} and record.rolled_back == ["restore"] and record.status == "failed"


def test_a_live_lock_refuses_a_second_run_and_a_dead_one_is_taken_over(tmp_path: Path) -> None:
    mine = TargetLock(tmp_path, "db", "run-a")
    mine.acquire()
    with pytest.raises(BadInput, match="locked by run run-a"):
        TargetLock(tmp_path, "db", "run-b").acquire()
    holder = json.loads(mine.path.read_text())
    mine.path.write_text(json.dumps({**holder, "pid": 2**22 + 1}))  # a pid that does not run
    TargetLock(tmp_path, "db", "run-b").acquire()
    assert json.loads(mine.path.read_text())["run_id"] == "run-b"
    assert json.loads(mine.path.read_text())["pid"] == os.getpid()


def test_parameters_are_typed_and_unknown_ones_refused() -> None:
    with pytest.raises(BadInput) as caught:
        parse_params(PITR, {"target_time": "2026-11-26T10:00:00", "colour": "blue"})
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert any(line.startswith("--param target_time:") and "timezone" in line for line in lines)
    assert any(line.startswith("--param colour: unknown parameter") for line in lines)


def test_the_plan_names_every_step_and_its_calls() -> None:
    env = load_environment("local", INVENTORY)
    params = parse_params(PITR, {"target_time": "2026-11-26T10:00:00Z"})
    steps = PITR.steps(env, params)
    assert [s.id for s in steps][:5] == [
        "check-source",
        "check-target",
        "check-alarms",
        "archive-wal",
        "restore",
    ]
    assert "cutover" in [s.id for s in steps]
    no_cutover = PITR.steps(
        env, parse_params(PITR, {"target_time": "2026-11-26T10:00:00Z", "cutover": "false"})
    )
    assert "cutover" not in [s.id for s in no_cutover]


def test_a_cloud_environment_plans_the_aws_steps_and_their_policy() -> None:
    env = load_environment("staging", INVENTORY)
    params = parse_params(PITR, {"target_time": "2026-11-26T10:00:00Z", "cutover_mode": "rename"})
    steps = PITR.steps(env, params)
    assert [s.id for s in steps] == [
        "check-source",
        "check-target",
        "check-alarms",
        "restore",
        "wait-available",
        "validate",
        "approve-cutover",
        "cutover",
        "post-check",
    ]
    actions = set(actions_of(policy(PITR, env, "123456789012", {"cutover_mode": "rename"})))
    assert {
        "rds:RestoreDBInstanceToPointInTime",
        "rds:ModifyDBInstance",
        "rds:DescribeDBInstances",
    } <= actions


def test_the_local_platform_cuts_over_by_parameter_only() -> None:
    result = run_main(
        "runbook", "plan", "rds-pitr", "-p", "target_time=2026-11-26T10:00:00Z", "-p", "cutover_mode=rename"
    )
    assert result.code == 2 and result.err.strip().startswith("error: --param cutover_mode:")


class _Recorder(Runbook):
    """A runbook made for testing the engine: its steps record what ran and what was undone."""

    name = "recorder"
    summary = "records"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        unplanned: bool = False
        stop_before: str = ""

    params_model = Params

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.undone: list[str] = []

    def target(self, env: Environment, params: Any) -> str:
        return "recorder-target"

    def steps(self, env: Environment, params: Any) -> list[Step]:
        def step(name: str, kind: StepKind, needs_source: bool = False) -> Step:
            def run(ctx: RunContext) -> dict[str, Any]:
                self.ran.append(name)
                ctx.checkpoint("halfway")
                return {}

            return Step(name, kind, name, (), run, lambda ctx: self.undone.append(name), needs_source)

        return [
            step("drain-source", StepKind.ACTION, needs_source=True),
            step("promote", StepKind.ACTION),
            step("repoint", StepKind.ACTION),
        ]

    def stop_conditions(self, env: Environment, params: Any) -> list[StopCondition]:
        return [
            StopCondition(
                "lag", lambda ctx: "lag over the objective" if params.stop_before in ctx.outputs else None
            )
        ]


def _engine_run(
    tmp_path: Path, controls: tuple[Control, ...] = (), **params: Any
) -> tuple[_Recorder, Exception | None]:
    runbook = _Recorder()
    env = load_environment("local", INVENTORY)
    engine = RunbookEngine(StateDir(tmp_path), controls=controls)
    try:
        engine.run(runbook, env, runbook.Params(**params), execute=True, approve=lambda _: None)
    except Exception as error:  # the outcome under test
        return runbook, error
    return runbook, None


def test_an_unplanned_run_skips_the_steps_that_need_the_source(tmp_path: Path) -> None:
    runbook, error = _engine_run(tmp_path, unplanned=True)
    assert error is None and runbook.ran == ["promote", "repoint"]


def test_a_stop_condition_stops_before_the_next_action_and_rolls_back(tmp_path: Path) -> None:
    runbook, error = _engine_run(tmp_path, stop_before="promote")
    assert isinstance(error, OpsError) and "lag over the objective" in str(error)
    assert runbook.ran == ["drain-source", "promote"] and runbook.undone == ["promote", "drain-source"]
    journal = next((tmp_path / "runs").iterdir()) / "journal.jsonl"
    events = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert "stop-condition" in events and events[-1] == "run-failed"


class _Events(Control):
    def __init__(self) -> None:
        self.events: list[str] = []

    def before_step(self, ctx: RunContext, step: Step) -> None:
        self.events.append(f"before:{step.id}")

    def after_step(self, ctx: RunContext, step: Step) -> None:
        self.events.append(f"after:{step.id}:{step.id in ctx.outputs}")

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        self.events.append(f"{name}:{step.id}")


def test_controls_are_called_around_each_step_and_at_its_checkpoints(tmp_path: Path) -> None:
    control = _Events()
    _, error = _engine_run(tmp_path, controls=(control,), unplanned=True)
    assert error is None
    each = [[f"before:{s}", f"halfway:{s}", f"after:{s}:True"] for s in ("promote", "repoint")]
    assert control.events == [event for events in each for event in events]


def test_a_control_that_raises_stops_the_run_and_rolls_it_back(tmp_path: Path) -> None:
    class Refuse(Control):
        def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
            if step.id == "repoint":
                raise OpsError("refused at repoint")

    runbook, error = _engine_run(tmp_path, controls=(Refuse(),))
    assert isinstance(error, OpsError) and str(error) == "refused at repoint"
    assert runbook.undone == ["promote", "drain-source"]


def test_controls_are_named_by_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONTROLS_ENV, "tests.runbook_controls:kill_at")
    (control,) = controls_from_environment()
    assert type(control).__name__ == "KillAt"
    monkeypatch.setenv(CONTROLS_ENV, "tests.runbook_controls")
    with pytest.raises(BadInput, match="is not module:callable"):
        controls_from_environment()
    monkeypatch.delenv(CONTROLS_ENV)
    assert controls_from_environment() == ()


def test_listing_the_runbooks_imports_no_provider() -> None:
    """The providers (boto3, psycopg, the local platform) load when a run needs them."""
    code = (
        "import sys, runbooks; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'psycopg')"
        " or m.startswith(('ops.local', 'runbooks.rds_pitr.local', 'runbooks.rds_pitr.aws'))))"
    )
    listed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert listed.stdout.strip() == "[]"
