"""The runbook service behind `ops runbook run | resume`: a run (or its resumption) with
its approvals, the on-call notice when it ends, whatever the end, and its report.

The command lends what only it knows through a `RunHost`: where state lives, how to reach
AWS for an environment, how to show progress and how to ask a person for an approval."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from ops.errors import BadInput
from ops.runbook.approvals import redeem
from ops.runbook.controls import controls_from_environment
from ops.runbook.engine import (
    Approver,
    ProgressCallback,
    RunbookEngine,
    RunOutcome,
    load_record,
    parse_params,
)
from ops.runbook.journal import RunRecord
from ops.runbook.model import Runbook, Step
from ops.runbook.notify import notify_run
from ops.runbook.report import write_run_report
from ops.state import StateDir
from ops.util.ids import new_run_id

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory
    from ops.inventory.environment import Environment
    from ops.report.writer import ReportPaths


@dataclass
class RunHost:
    state: StateDir
    aws_for: Callable[[Environment], ClientFactory]
    progress: ProgressCallback | None = None
    # Asks the person at the terminal to approve a step: their name, or None (no one there).
    ask: Callable[[str], str | None] | None = None


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
    with _notifying(host.state, aws, env, run_id):
        return engine.abort(runbook, env, params, run_id)


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
    with _notifying(host.state, aws, env, run_id):
        outcome = engine.run(
            runbook,
            env,
            params,
            execute=execute,
            run_id=run_id,
            approve=_approver(host, env, runbook, token),
        )
    return FinishedRun(outcome, write_run_report(outcome.record, outcome.folder))


def _approver(host: RunHost, env: Environment, runbook: Runbook, token: str | None) -> Approver:
    def approve(step: Step) -> str | None:
        if token:
            return redeem(host.state, token, runbook.name, env.name)
        if host.ask is not None:
            return host.ask(f"{step.title} on protected {env.name!r}: your name to approve (empty: no)")
        return None

    return approve


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
