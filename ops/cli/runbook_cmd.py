"""`ops runbook list | show | plan | run | resume | status | abort | approve | iam`.

Module-level imports stay light (`ops --help` loads this module): the engine, the
runbooks and their providers are imported by the commands that use them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import typer

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, print_json
from ops.errors import BadInput
from ops.telemetry.tracing import traced_command

app = typer.Typer(help="DR runbooks: plan, run (dry run by default), resume, status.", no_args_is_help=True)

PARAM_OPTION = typer.Option(None, "--param", "-p", help="A parameter, key=value (repeatable).")


def _runbook(name: str) -> Any:
    from runbooks import get_runbook

    return get_runbook(name)


def _params(runbook: Any, pairs: list[str] | None) -> Any:
    from ops.runbook.engine import parse_params

    raw: dict[str, str] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise BadInput(f"--param {pair!r}: write key=value")
        key, value = pair.split("=", 1)
        raw[key.strip()] = value.strip()
    return parse_params(runbook, raw)


@app.command("list")
@traced_command
def list_(ctx: typer.Context) -> None:
    """The runbooks this toolkit has."""
    from rich.table import Table

    from runbooks import REGISTRY

    table = Table("runbook", "what it does")
    for name, runbook in sorted(REGISTRY.items()):
        table.add_row(name, runbook.summary)
    console.print(table)


@app.command()
@traced_command
def show(ctx: typer.Context, name: str) -> None:
    """A runbook's parameters."""
    from rich.table import Table

    runbook = _runbook(name)
    console.print(f"[bold]{name}[/]: {runbook.summary}")
    table = Table("parameter", "type", "default", "meaning")
    for field, info in runbook.params_model.model_fields.items():
        default = "required" if info.is_required() else repr(info.default)
        table.add_row(field, str(info.annotation).replace("typing.", ""), default, info.description or "")
    console.print(table)


@app.command()
@traced_command
def plan(
    ctx: typer.Context, name: str, env: str = ENV_OPTION, param: list[str] | None = PARAM_OPTION
) -> None:
    """The steps a run would take and the calls each makes. Nothing is changed."""
    from rich.table import Table

    context = cli_context(ctx)
    runbook = _runbook(name)
    environment = context.environment(env)
    params = _params(runbook, param)
    table = Table("#", "step", "kind", "what", "calls", title=f"{name} on {environment.prefix}")
    for index, step in enumerate(runbook.steps(environment, params), 1):
        table.add_row(str(index), step.id, step.kind.value, step.title, ", ".join(step.calls))
    console.print(table)
    if environment.protected:
        console.print("[bold red]protected[/]: the cutover needs an approval (`ops runbook approve`)")


def _approver(environment: Any, runbook: Any, token: str | None, state: Any) -> Any:
    from ops.runbook.approvals import redeem

    def approve(step: Any) -> str | None:
        if token:
            return redeem(state, token, runbook.name, environment.name)
        if sys.stdin.isatty():
            answer = typer.prompt(
                f"{step.title} on protected {environment.name!r}: your name to approve (empty: no)"
            )
            return answer.strip() or None
        return None

    return approve


def _report(outcome: Any, output: OutputFormat) -> None:
    from ops.runbook.report import write_run_report

    paths = write_run_report(outcome.record, outcome.folder)
    record = outcome.record
    if output is OutputFormat.json:
        print_json({**record.__dict__, "report": str(paths.html)})
        return
    console.print(
        f"run {record.run_id}: [bold]{record.status}[/] ({'executed' if record.execute else 'dry run'})"
    )
    for key, value in record.outputs.items():
        console.print(f"  {key}: {value}")
    console.print(f"report: {paths.html}")


@app.command()
@traced_command
def run(
    ctx: typer.Context,
    name: str,
    env: str = ENV_OPTION,
    param: list[str] | None = PARAM_OPTION,
    execute: bool = typer.Option(False, "--execute", help="Change things (default: a dry run)."),
    approve: str | None = typer.Option(
        None, "--approve", help="An approval token for a protected environment."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Run a runbook: a dry run (checks only) unless --execute."""
    from ops.util.ids import new_run_id

    context = cli_context(ctx)
    runbook = _runbook(name)
    environment = context.environment(env)
    params = _params(runbook, param)
    engine = _engine(context, environment, output)
    run_id = new_run_id(runbook.name)
    with _notifying(context, environment, run_id):
        outcome = engine.run(
            runbook,
            environment,
            params,
            execute=execute,
            run_id=run_id,
            approve=_approver(environment, runbook, approve, context.state()),
        )
    _report(outcome, output)


def _engine(context: Any, environment: Any, output: OutputFormat) -> Any:
    """The engine for a run in this environment, with the controls OPS_RUNBOOK_CONTROLS names."""
    from ops.runbook.controls import controls_from_environment
    from ops.runbook.engine import RunbookEngine

    aws = context.aws_for(environment) if environment.provider != "local" else None
    return RunbookEngine(
        context.state(),
        progress=_progress if output is OutputFormat.text else None,
        aws=aws,
        controls=controls_from_environment(),
    )


@app.command()
@traced_command
def resume(
    ctx: typer.Context,
    run_id: str,
    approve: str | None = typer.Option(
        None, "--approve", help="An approval token for a protected environment."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Continue a run from its journal: done steps are not run again."""
    from ops.runbook.engine import load_record, parse_params

    context = cli_context(ctx)
    record = load_record(context.state(), run_id)
    runbook = _runbook(record.runbook)
    environment = context.environment(record.environment)
    params = parse_params(runbook, record.params)
    engine = _engine(context, environment, output)
    with _notifying(context, environment, run_id):
        outcome = engine.run(
            runbook,
            environment,
            params,
            execute=record.execute,
            run_id=run_id,
            approve=_approver(environment, runbook, approve, context.state()),
        )
    _report(outcome, output)


@app.command()
@traced_command
def status(
    ctx: typer.Context, run_id: str | None = typer.Argument(None), output: OutputFormat = OUTPUT_OPTION
) -> None:
    """Every run, or one run's steps."""
    from rich.table import Table

    from ops.runbook.engine import list_runs, load_record

    context = cli_context(ctx)
    records = [load_record(context.state(), run_id)] if run_id else list_runs(context.state())
    if output is OutputFormat.json:
        print_json([r.__dict__ for r in records])
        return
    table = Table("run", "runbook", "env", "mode", "status", "steps done", "started")
    for r in records:
        mode = "execute" if r.execute else "dry run"
        table.add_row(r.run_id, r.runbook, r.environment, mode, r.status, str(len(r.completed)), r.started_at)
    console.print(table)


@app.command()
@traced_command
def abort(ctx: typer.Context, run_id: str) -> None:
    """Abandon a failed or interrupted run: undo its steps that have a rollback."""
    from ops.runbook.engine import abort_run

    context = cli_context(ctx)
    record = abort_run(context.state(), run_id, lambda name: _runbook(name), context.environment)
    console.print(f"run {run_id}: aborted; rolled back: {', '.join(record.rolled_back) or 'nothing'}")


@app.command()
@traced_command
def iam(ctx: typer.Context, name: str, env: str = ENV_OPTION, param: list[str] | None = PARAM_OPTION) -> None:
    """The least-privilege IAM policy for exactly the AWS calls the runbook makes."""
    from ops.runbook.iam import policy

    context = cli_context(ctx)
    runbook = _runbook(name)
    environment = context.environment(env)
    params = _params(runbook, param)
    print_json(policy(runbook.steps(environment, params), environment, environment.meta.account_id or "*"))


@app.command("approve")
@traced_command
def approve_(
    ctx: typer.Context,
    name: str,
    env: str = ENV_OPTION,
    approver: str = typer.Option(..., "--as", help="Your name, journaled with the run."),
) -> None:
    """Approve a runbook on a protected environment: prints a one-use token."""
    from ops.runbook.approvals import issue

    context = cli_context(ctx)
    _runbook(name)
    environment = context.environment(env)
    token = issue(context.state(), name, environment.name, approver)
    console.print(f"approval token for {name} on {environment.name} (valid 4 h, once): {token}")


@contextmanager
def _notifying(context: Any, environment: Any, run_id: str) -> Iterator[None]:
    """After the run, whatever its end, a message on the environment's SNS topic."""
    from ops.runbook.engine import load_record
    from ops.runbook.notify import notify_run

    try:
        yield
    finally:
        record: Any = None
        with suppress(BadInput):  # refused before it started: nothing ran, nothing to tell
            record = load_record(context.state(), run_id)
        if record is not None and record.status != "running":
            factory = context.aws_for(environment)
            account = environment.meta.account_id or factory.client("sts").get_caller_identity()["Account"]
            summary = {k: v for k, v in record.__dict__.items() if k != "completed"}
            notify_run(factory.client("sns"), environment, account, summary)


class _Progress:
    """Step events as lines; a live spinner with the elapsed time while a wait runs."""

    def __init__(self) -> None:
        self.status: Any = None

    def __call__(self, event: str, step: Any) -> None:
        from rich.markup import escape

        if self.status is not None:
            self.status.stop()
            self.status = None
        console.print(escape(f"  [{step.kind.value}] {step.id}: {event}"), highlight=False)
        if event == "running" and step.kind.value == "wait":
            self.status = console.status(escape(f"  {step.title}..."))
            self.status.start()


_progress = _Progress()
