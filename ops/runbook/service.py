"""The runbook service behind `ops runbook run | resume`: a run (or its resumption) with
its approvals, the on-call notice when it ends, whatever the end, and its report.

The command lends what only it knows through a `RunHost`: where state lives, how to reach
AWS for an environment, how to show progress and how to ask a person for an approval."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from ops.errors import BadInput
from ops.runbook.approval_flow import approval_store, approver_for, identity
from ops.runbook.approvals import (
    ApprovalStop,
)
from ops.runbook.controls import controls_from_environment
from ops.runbook.engine import (
    RunbookEngine,
    RunOutcome,
    load_record,
    parse_params,
    runs_dir,
)
from ops.runbook.host import RunHost
from ops.runbook.journal import RunRecord
from ops.runbook.model import Runbook, StepKind
from ops.runbook.notify import notify_run
from ops.runbook.report import write_run_report
from ops.state import StateDir
from ops.util.ids import new_run_id

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory
    from ops.inventory.environment import Environment
    from ops.report.writer import ReportPaths

log = logging.getLogger(__name__)


@dataclass
class FinishedRun:
    outcome: RunOutcome
    report: ReportPaths


def start_run(
    host: RunHost,
    runbook: Runbook,
    env: Environment,
    params: Any,
    *,
    execute: bool,
    token: str | None,
) -> FinishedRun:
    """A new run: a dry run (checks only) unless `execute`."""
    if token:  # a token is bound to a run: this one does not exist yet
        raise BadInput(
            "--approve: a token approves a run that exists; run without it, and when the run stops "
            "at its approval step a colleague runs `ops runbook approve RUN_ID`, then you "
            "`ops runbook resume RUN_ID --approve TOKEN`"
        )
    return _run(host, runbook, env, params, new_run_id(runbook.name), execute, token)


def resume_run(
    host: RunHost,
    run_id: str,
    runbook_of: Callable[[str], Runbook],
    env_of: Callable[[str], Environment],
    token: str | None,
) -> FinishedRun:
    """A run continued from its journal: the steps done are not run again."""
    record = load_record(host.state, run_id)
    runbook = runbook_of(record.runbook)
    env = env_of(record.environment)
    params = parse_params(runbook, record.params)
    return _run(host, runbook, env, params, run_id, record.execute, token)


def abort_run(
    host: RunHost,
    run_id: str,
    runbook_of: Callable[[str], Runbook],
    env_of: Callable[[str], Environment],
) -> RunRecord:
    """Undo a run that will not be resumed: the lock and the clients its runs use, its
    rollbacks newest first, and the on-call notice of how it ended."""
    record = load_record(host.state, run_id)
    if record.status in ("completed", "aborted"):
        raise BadInput(f"run {run_id} is {record.status}; nothing to abort")
    runbook = runbook_of(record.runbook)
    env = env_of(record.environment)
    params = parse_params(runbook, record.params)
    aws = cache(lambda: host.aws_for(env))
    engine = RunbookEngine(host.state, aws=aws() if env.provider != "local" else None)
    try:
        with _notifying(host.state, aws, env, run_id):
            return engine.abort(runbook, env, params, run_id)
    finally:
        with suppress(Exception):  # the report says how it ended; the abort's own error is told
            write_report_of(host.state, run_id)


def _run(
    host: RunHost,
    runbook: Runbook,
    env: Environment,
    params: Any,
    run_id: str,
    execute: bool,
    token: str | None,
) -> FinishedRun:
    aws = cache(lambda: host.aws_for(env))  # one session for the run and its notice, when needed
    engine = RunbookEngine(
        host.state,
        progress=host.progress,
        aws=aws() if env.provider != "local" else None,
        controls=controls_from_environment(),
    )
    if execute and env.protected and any(s.kind is StepKind.APPROVAL for s in runbook.steps(env, params)):
        # Before any step: an environment that cannot keep approvals, or a wrong --as, is refused now.
        approval_store(host, env, aws)
        identity(host, env, aws)
    try:
        with _notifying(host.state, aws, env, run_id):
            outcome = engine.run(
                runbook,
                env,
                params,
                execute=execute,
                run_id=run_id,
                approve=approver_for(host, env, aws, runbook, run_id, params, token),
            )
    except ApprovalStop as stop:  # the run waits at its approval step, resumable
        report_for_error(stop.held, host.state, run_id)
        raise stop.held from None
    except BaseException as error:  # a failed or stopped run has its report too
        report_for_error(error, host.state, run_id)
        raise
    return FinishedRun(outcome, write_run_report(outcome.record, outcome.folder))


def write_report_of(state: StateDir, run_id: str) -> ReportPaths:
    """The run's report made (again) from its journal alone, beside it."""
    return write_run_report(load_record(state, run_id), runs_dir(state) / run_id)


def report_for_error(error: BaseException, state: StateDir, run_id: str) -> None:
    """Write the report of a run that did not finish, and hang its path on the error (the
    command prints it before the error's line); a run that never began has none."""
    try:
        paths = write_report_of(state, run_id)
    except Exception as failure:
        log.debug("no report for run %s: %s", run_id, failure)
        return
    error.report_path = paths.html  # type: ignore[attr-defined]


@contextmanager
def _notifying(
    state: StateDir, aws: Callable[[], ClientFactory], env: Environment, run_id: str
) -> Iterator[None]:
    """After the run, whatever its end, a message on the environment's SNS topic."""
    try:
        yield
    finally:
        record = None
        with suppress(BadInput):  # refused before it started: nothing ran, nothing to tell
            record = load_record(state, run_id)
        if record is not None and record.status != "running":
            factory = aws()
            account = env.meta.account_id or factory.client("sts").get_caller_identity()["Account"]
            summary = {k: v for k, v in record.__dict__.items() if k != "completed"}
            notify_run(factory.client("sns"), env, account, summary)
