"""`ops runbook list | show | plan | run | resume | status | abort | approve | iam`.

Module-level imports stay light (`ops --help` loads this module): the engine, the
runbooks and their providers are imported by the commands that use them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, print_json
from ops.errors import BadInput
from ops.telemetry.tracing import traced_command

if TYPE_CHECKING:
    from ops.cli.context import CliContext
    from ops.runbook.service import FinishedRun, RunHost

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


def _report(finished: FinishedRun, output: OutputFormat) -> None:
    record = finished.outcome.record
    if output is OutputFormat.json:
        print_json({**record.__dict__, "report": str(finished.report.html)})
        return
    console.print(
        f"run {record.run_id}: [bold]{record.status}[/] ({'executed' if record.execute else 'dry run'})"
    )
    for key, value in record.outputs.items():
        console.print(f"  {key}: {value}")
    console.print(f"report: {finished.report.html}")


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
    from ops.runbook.service import start_run

    context = cli_context(ctx)
    runbook = _runbook(name)
    environment = context.environment(env)
    params = _params(runbook, param)
    host = _host(context, output)
    _report(start_run(host, runbook, environment, params, execute=execute, token=approve), output)


def _host(context: CliContext, output: OutputFormat) -> RunHost:
    """What the runbook service needs from the command line: state, AWS, progress, a person."""
    from ops.runbook.service import RunHost

    return RunHost(
        context.state(),
        context.aws_for,
        progress=_progress if output is OutputFormat.text else None,
        ask=_ask if sys.stdin.isatty() else None,
    )


def _ask(question: str) -> str | None:
    return typer.prompt(question).strip() or None


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
    from ops.runbook.service import resume_run

    context = cli_context(ctx)
    finished = resume_run(_host(context, output), run_id, _runbook, context.environment, approve)
    _report(finished, output)


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
    from ops.runbook.service import abort_run

    context = cli_context(ctx)
    record = abort_run(_host(context, OutputFormat.text), run_id, _runbook, context.environment)
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
