"""Run a runbook: dry run or execute, journal before and after each step, resume, roll back
on failure and on SIGINT/SIGTERM; controls (ops/runbook/controls.py) around each step."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ops.errors import BadInput, Interrupted, OpsError
from ops.inventory.environment import Environment
from ops.runbook.approvals import ApprovalHeld, ApprovalStop
from ops.runbook.controls import Control
from ops.runbook.journal import Journal, RunRecord
from ops.runbook.lock import TargetLock
from ops.runbook.model import Runbook, RunContext, Step, StepKind, StopCondition
from ops.state import StateDir
from ops.telemetry.tracing import span
from ops.util.ids import new_run_id

log = logging.getLogger(__name__)

# Who approved, or None to refuse; called for an approval step when one is needed.
Approver = Callable[[Step], str | None]
ProgressCallback = Callable[[str, Step], None]


def runs_dir(state: StateDir) -> Path:
    return state.root / "runs"


def parse_params(runbook: Runbook, raw: dict[str, Any]) -> BaseModel:
    """Parameters from `--param key=value`; one line per problem naming the parameter."""
    try:
        return runbook.params_model.model_validate(raw)
    except ValidationError as error:
        lines = []
        for detail in error.errors(include_url=False):
            name = ".".join(str(p) for p in detail["loc"]) or "params"
            message = detail["msg"].removeprefix("Value error, ")
            if detail["type"] == "extra_forbidden":
                message = f"unknown parameter; known: {', '.join(runbook.params_model.model_fields)}"
            lines.append(f"--param {name}: {message}")
        raise BadInput("\n".join(lines)) from None


@dataclass
class RunOutcome:
    record: RunRecord
    folder: Path


class RunbookEngine:
    def __init__(
        self,
        state: StateDir,
        progress: ProgressCallback | None = None,
        aws: Any = None,
        controls: tuple[Control, ...] = (),
    ) -> None:
        self.state = state
        self.progress = progress or (lambda _event, _step: None)
        # A display that can show a wait's observations live (ops/cli/runbook_cmd.py).
        self.watcher = getattr(progress, "watch", None)
        self.aws = aws  # the ClientFactory for a cloud environment's steps
        self.controls = controls  # called around each step (see ops/runbook/controls.py)

    def run(
        self,
        runbook: Runbook,
        env: Environment,
        params: BaseModel,
        *,
        execute: bool,
        approve: Approver,
        run_id: str | None = None,
    ) -> RunOutcome:
        run_id = run_id or new_run_id(runbook.name)
        folder = runs_dir(self.state) / run_id
        journal = self._journal(env, run_id)
        record = RunRecord.from_journal(run_id, journal) if journal.exists else RunRecord(run_id)
        if record.status in ("completed", "aborted"):
            raise BadInput(f"run {run_id} is {record.status}; start a new run")
        lock = self._lock(env, runbook.target(env, params), run_id)
        # The plan before the lock and the journal: a parameter the provider refuses stops
        # the run before it starts, and the provider's libraries load before its clock does.
        steps = runbook.steps(env, params)
        stops = runbook.stop_conditions(env, params)
        lock.acquire()
        waiting = False
        try:
            journal.append(
                "run-started",
                runbook=runbook.name,
                environment=env.name,
                params=params.model_dump(mode="json"),
                execute=execute,
                resumed=bool(record.completed),
                objectives=runbook.objectives(env, params),
            )
            record = RunRecord.from_journal(run_id, journal)
            ctx = self._context(record, env, params, journal)
            with span(f"runbook {runbook.name}", **{"ops.run_id": run_id, "ops.execute": execute}):
                self._steps(runbook, steps, stops, ctx, journal, approve)
            outputs = runbook.outputs(ctx) if execute else {}
            journal.append("run-completed", outputs=outputs)
        except ApprovalStop:
            # The run waits for a colleague: its target stays locked for it (the lock names
            # the run, not this process), so that no other run acts on it meanwhile.
            lock.hold_while_waiting()
            waiting = True
            raise
        except (Interrupted, Exception) as error:
            stopped = isinstance(error, Interrupted)
            end = "run-interrupted" if stopped else "run-failed"
            left = self._end_undone(runbook, env, params, journal, end, str(error))
            if left:  # the operator must know the run is half undone, in the same line
                raise OpsError(
                    f"{'interrupted' if stopped else error}; then could not undo {_undone(journal, left)}; "
                    f"fix the cause, then `ops runbook abort {run_id}`"
                ) from error
            raise
        finally:
            if not waiting:
                lock.release()
        return RunOutcome(RunRecord.from_journal(run_id, journal), folder)

    def _context(
        self, record: RunRecord, env: Environment, params: BaseModel, journal: Journal
    ) -> RunContext:
        """What the steps (or their rollbacks) of a run see, from its journal."""
        ctx = RunContext(
            record.run_id,
            env,
            params,
            self.state,
            record.execute,
            dict(record.completed),
            record.approver,
            record.started_at,
            aws=self.aws,
            controls=self.controls,
            notes={step: dict(fields) for step, fields in record.noted.items()},
        )

        def record_note(step: str, fields: dict[str, Any]) -> None:
            journal.append("step-noted", step=step, fields=fields)

        ctx.record_note = record_note
        ctx.watcher = self.watcher
        return ctx

    def _journal(self, env: Environment, run_id: str) -> Journal:
        return Journal(runs_dir(self.state) / run_id, self._mirror(env, run_id))

    def _mirror(self, env: Environment, run_id: str) -> Callable[[Path], None] | None:
        """A copy of the journal in the environment's journal bucket, when it has one."""
        bucket = env.spec.runbook_settings.journal_bucket
        if self.aws is None or env.provider != "aws" or not bucket:
            return None
        s3 = self.aws.client("s3")
        key = f"{env.prefix}/runs/{run_id}/journal.jsonl"
        return lambda path: s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    def _lock(self, env: Environment, target: str, run_id: str) -> Any:
        """A DynamoDB lock for a cloud environment with a lock table, else a lock file."""
        table = env.spec.runbook_settings.lock_table
        if self.aws is not None and env.provider == "aws" and table:
            from ops.runbook.dynamo_lock import DynamoLock

            return DynamoLock(self.aws.client("dynamodb"), table, target, run_id)
        return TargetLock(self.state.root / "locks", target, run_id)

    def _steps(
        self,
        runbook: Runbook,
        steps: list[Step],
        stops: list[StopCondition],
        ctx: RunContext,
        journal: Journal,
        approve: Approver,
    ) -> None:
        unplanned = runbook.unplanned(ctx.params)
        for step in steps:
            if step.id in ctx.outputs:
                self.progress("skipped (done before)", step)
                continue
            if unplanned and step.needs_source:
                journal.append("step-skipped", step=step.id, reason="unplanned: the source is down")
                self.progress("skipped (unplanned: the source is down)", step)
                continue
            if not ctx.execute and not step.runs_in_dry_run:
                self.progress("dry run: would " + ", ".join(step.calls), step)
                continue
            if step.kind is StepKind.APPROVAL:
                ctx.approver = self._approval(step, ctx, journal, approve)
            if step.kind in (StepKind.ACTION, StepKind.WAIT):
                self._check_stops(stops, ctx, journal, step)
            for control in ctx.controls:
                control.before_step(ctx, step)
            journal.append("step-started", step=step.id, kind=step.kind.value, title=step.title)
            self.progress("running", step)
            ctx.step = step
            with span(f"step {step.id}", **{"ops.step.kind": step.kind.value}):
                try:
                    outputs = step.run(ctx)
                except Exception as error:
                    journal.append("step-failed", step=step.id, error=str(error))
                    raise
                finally:
                    ctx.step = None
            ctx.outputs[step.id] = outputs
            journal.append("step-completed", step=step.id, outputs=outputs)
            for control in ctx.controls:
                control.after_step(ctx, step)
            self.progress("done", step)

    def _check_stops(self, stops: list[StopCondition], ctx: RunContext, journal: Journal, step: Step) -> None:
        for stop in stops:
            reason = stop.check(ctx)
            if reason:
                journal.append("stop-condition", step=step.id, condition=stop.name, reason=reason)
                raise OpsError(f"stopped before {step.id}: {stop.name}: {reason}")

    def _approval(self, step: Step, ctx: RunContext, journal: Journal, approve: Approver) -> str:
        if not ctx.env.protected:
            journal.append("approved", step=step.id, approver="not required (environment not protected)")
            return "not required"
        try:
            approver = approve(step)
        except ApprovalHeld as held:  # no approval yet, or a refused one: the run waits here
            journal.append(held.event, step=step.id, message=str(held), **held.fields)
            raise ApprovalStop(held) from None
        if not approver:
            raise BadInput(
                f"environment {ctx.env.name!r} is protected: {step.title} needs an approval "
                "(`ops runbook run` waits at it for one)"
            )
        journal.append("approved", step=step.id, approver=approver)
        return approver

    def undo(self, runbook: Runbook, env: Environment, params: BaseModel, run_id: str) -> list[str]:
        """Roll back a finished run's steps (a drill's teardown): what could not be undone."""
        return self._roll_back(runbook, env, params, self._journal(env, run_id))

    def abort(self, runbook: Runbook, env: Environment, params: BaseModel, run_id: str) -> RunRecord:
        """Undo a run that will not be resumed, under the lock its runs take (refused while a
        live process runs it). "aborted" only once everything is undone; else
        "rollback-failed", and abort can be tried again."""
        journal = self._journal(env, run_id)
        lock = self._lock(env, runbook.target(env, params), run_id)
        lock.acquire()
        try:
            left = self._roll_back(runbook, env, params, journal)
            if left:
                journal.append("run-rollback-failed", error="abort: rollbacks failed", left=left)
            else:
                journal.append("run-aborted")
        finally:
            lock.release()
        record = RunRecord.from_journal(run_id, journal)
        if left:
            raise OpsError(
                f"run {run_id}: could not undo {_undone(journal, left)}; "
                f"fix the cause, then `ops runbook abort {run_id}` again"
            )
        return record

    def _end_undone(
        self, runbook: Runbook, env: Environment, params: BaseModel, journal: Journal, end: str, error: str
    ) -> list[str]:
        """A run that stopped: undo what it did, then journal how it ended; what is left.
        SIGINT and SIGTERM wait until then: a second Ctrl-C must not cut a rollback short
        and leave the run unended (SIGKILL still can; abort or resume finish it)."""
        with _signals_held():
            left = self._roll_back(runbook, env, params, journal)
            if left:
                journal.append("run-rollback-failed", error=error, left=left, stopped_by=end)
            else:
                journal.append(end, error=error)
        return left

    def _roll_back(
        self, runbook: Runbook, env: Environment, params: BaseModel, journal: Journal
    ) -> list[str]:
        """Undo the steps that define a rollback, newest first: those completed, and one
        that noted a change and stopped before completing. Each is journaled; a failing
        rollback does not stop the others. Returns the steps left undone."""
        record = RunRecord.from_journal(journal.folder.name, journal)
        ctx = self._context(record, env, params, journal)
        for step_id, fields in record.noted.items():  # the note is what a rollback needs
            ctx.outputs[step_id] = {**fields, **ctx.outputs.get(step_id, {})}
        left = []
        for step in reversed(runbook.steps(env, params)):
            if step.id in record.rolled_back:
                continue
            if step.kind is StepKind.APPROVAL and step.id in record.completed:
                # An approval is for the run as it stood: once its changes are undone, a
                # resumed run must be approved again.
                journal.append("step-rolled-back", step=step.id)
                continue
            if step.rollback is None:
                continue
            if step.id not in record.completed and step.id not in record.noted:
                continue
            try:
                with span(f"rollback {step.id}"):
                    kept = step.rollback(ctx)
            except Exception as error:  # keep undoing the rest; say what could not be undone
                # The journal and the command's one-line error say it; the log only traces it.
                log.info("rollback of %s failed: %s", step.id, error)
                journal.append("step-rollback-failed", step=step.id, error=str(error))
                left.append(step.id)
            else:
                journal.append("step-rolled-back", step=step.id, **({"kept": kept} if kept else {}))
        return left


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back: noted while the block runs, then handled as they would
    have been. Python runs signal handlers in the main thread whichever thread the system
    gives the signal to, so the handlers are swapped rather than the thread's mask."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be swapped from the main thread
        return
    arrived: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)

    def note(number: int, _frame: object) -> None:
        arrived.append(number)

    previous = {number: signal.signal(number, note) for number in held}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        if arrived:  # now, as it would have been handled
            signal.raise_signal(arrived[0])


def _undone(journal: Journal, left: list[str]) -> str:
    """Each step left undone with why (its latest rollback error), on one line."""
    errors = {e["step"]: e["error"] for e in journal.events() if e["event"] == "step-rollback-failed"}
    return ", ".join(f"{step} ({' '.join(str(errors.get(step, 'unknown')).split())})" for step in left)


def load_record(state: StateDir, run_id: str) -> RunRecord:
    return RunRecord.from_journal(run_id, Journal(runs_dir(state) / run_id))


def list_runs(state: StateDir) -> list[RunRecord]:
    folder = runs_dir(state)
    if not folder.exists():
        return []
    records = []
    for run in sorted(folder.iterdir()):
        try:
            records.append(RunRecord.from_journal(run.name, Journal(run)))
        except OpsError:
            continue
    return records
