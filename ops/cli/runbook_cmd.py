"""`ops runbook list | show | plan | run | resume | status | abort | approve | iam`.

Module-level imports stay light (`ops --help` loads this module): the engine, the
runbooks and their providers are imported by the commands that use them."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, print_json
from ops.errors import BadInput
from ops.telemetry.tracing import traced_command

if TYPE_CHECKING:
    from ops.cli.context import CliContext
    from ops.runbook.host import RunHost
    from ops.runbook.service import FinishedRun

app = typer.Typer(help="DR runbooks: plan, run (dry run by default), resume, status.", no_args_is_help=True)

PARAM_OPTION = typer.Option(None, "--param", "-p", help="A parameter, key=value (repeatable).")
AS_OPTION = typer.Option(
    None, "--as", help="Who you are, journaled with the run (local environments; on AWS: your caller)."
)


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
        None, "--approve", help="Refused: a token approves a run that exists (see `resume --approve`)."
    ),
    operator: str | None = AS_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Run a runbook: a dry run (checks only) unless --execute. On a protected environment
    the run stops at its approval step until a colleague approves it."""
    from ops.runbook.service import start_run

    context = cli_context(ctx)
    runbook = _runbook(name)
    environment = context.environment(env)
    params = _params(runbook, param)
    host = _host(context, output, operator)
    with _report_on_error():
        finished = start_run(host, runbook, environment, params, execute=execute, token=approve)
    _report(finished, output)


@contextmanager
def _report_on_error() -> Iterator[None]:
    """A run that fails or stops has its report too: its path before the error's line."""
    try:
        yield
    except BaseException as error:
        path = getattr(error, "report_path", None)
        if path is not None:
            console.print(f"report: {path}", markup=False)
        raise


def _host(context: CliContext, output: OutputFormat, operator: str | None = None) -> RunHost:
    """What the runbook service needs from the command line: state, AWS, progress, a person."""
    from ops.runbook.host import RunHost

    return RunHost(
        context.state(),
        context.aws_for,
        progress=_progress if output is OutputFormat.text else None,
        ask=_ask if sys.stdin.isatty() else None,
        operator=operator,
    )


def _ask(question: str) -> str | None:
    return typer.prompt(question).strip() or None


@app.command()
@traced_command
def resume(
    ctx: typer.Context,
    run_id: str,
    approve: str | None = typer.Option(
        None, "--approve", help="The token a colleague's `ops runbook approve RUN_ID` printed."
    ),
    operator: str | None = AS_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Continue a run from its journal: done steps are not run again."""
    from ops.runbook.service import resume_run

    context = cli_context(ctx)
    host = _host(context, output, operator)
    with _report_on_error():
        finished = resume_run(host, run_id, _runbook, context.environment, approve)
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
    console.print(f"report: {context.state().root / 'runs' / run_id / 'report.html'}", markup=False)


@app.command("report")
@traced_command
def report_(ctx: typer.Context, run_id: str, output: OutputFormat = OUTPUT_OPTION) -> None:
    """Make a run's report again (HTML, Markdown, JSON) from its journal alone."""
    from ops.runbook.service import write_report_of

    paths = write_report_of(cli_context(ctx).state(), run_id)
    if output is OutputFormat.json:
        print_json({"run_id": run_id, "report": str(paths.html), "markdown": str(paths.markdown)})
        return
    console.print(f"report: {paths.html}", markup=False)


@app.command()
@traced_command
def iam(
    ctx: typer.Context,
    name: str,
    env: str = ENV_OPTION,
    param: list[str] | None = typer.Option(
        None, "--param", "-p", help="Narrow to a mode, key=value (repeatable); default: every mode."
    ),
    account: str | None = typer.Option(
        None, "--account", help="The account in the ARNs; default: the inventory's, else your caller's."
    ),
) -> None:
    """The least-privilege IAM policy of a runbook in an environment: every call of every
    mode's steps and rollbacks, the lock, the journal, the notice and the drill metrics."""
    from ops.runbook.iam import policy

    context = cli_context(ctx)
    runbook = _runbook(name)
    environment = context.environment(env)
    given: dict[str, str] = {}
    for pair in param or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise BadInput(f"--param {pair!r}: write key=value")
        given[key.strip()] = value.strip()
    if account is not None and not (len(account) == 12 and account.isdigit()):
        raise BadInput(f"--account {account!r}: an AWS account id is 12 digits")
    account = account or environment.meta.account_id
    policy(runbook, environment, account or "000000000000", given)  # a bad -p is refused before AWS is asked
    if account is None:  # the ARNs name an account, never `*`: the one the credentials are in
        hint = f"environments.{environment.name}.account_id in {environment.source}, or --account"
        account = _caller_account(context, environment, hint)
        print(f"note: account {account} from your credentials (set {hint})", file=sys.stderr)
    print_json(policy(runbook, environment, account, given))


def _caller_account(context: CliContext, environment: Any, hint: str) -> str:
    from botocore.exceptions import NoCredentialsError

    try:
        return str(context.aws_for(environment).client("sts").get_caller_identity()["Account"])
    except NoCredentialsError:
        message = f"the policy's ARNs name the account: set {hint} (no AWS credentials to ask)"
        raise BadInput(message) from None


@app.command("approve")
@traced_command
def approve_(
    ctx: typer.Context,
    run_id: str,
    env: str | None = typer.Option(
        None, "--env", "-e", help="The run's environment (needed when its journal is on another machine)."
    ),
    step: str | None = typer.Option(None, "--step", help="The approval step (default: the one it waits at)."),
    approver: str | None = AS_OPTION,
) -> None:
    """Approve a colleague's run waiting at its approval step: prints a one-use token for it."""
    from ops.runbook.approval_flow import approve_run
    from runbooks import REGISTRY

    if run_id in REGISTRY:  # the former form: `approve RUNBOOK --env E`
        raise BadInput("approve takes the run id now, not the runbook: `ops runbook approve RUN_ID`")
    context = cli_context(ctx)
    host = _host(context, OutputFormat.text, approver)
    issued = approve_run(host, run_id, env, step, _runbook, context.environment)
    grant = issued.grant
    console.print(
        f"approved {grant.step} of run {run_id} on {grant.environment} as {grant.approver}, "
        f"once, until {issued.expires_at}; the operator resumes with:",
        highlight=False,
        soft_wrap=True,
    )
    console.print(f"ops runbook resume {run_id} --approve {issued.token}", highlight=False, soft_wrap=True)


class _WaitLine:
    """What a wait shows while it runs: the elapsed time (read at each refresh), the time
    history expects, the last thing observed."""

    def __init__(self, title: str) -> None:
        self.title, self.started = title, time.monotonic()
        self.observed: str = ""
        self.expected: float | None = None

    def text(self) -> str:
        from ops.report import human

        elapsed = human.seconds(round(time.monotonic() - self.started))
        expected = f" of ~{human.seconds(self.expected)} expected" if self.expected else ""
        seen = f"; last seen {self.observed}" if self.observed else ""
        return f"  {self.title}: {elapsed}{expected}{seen}"

    def __rich__(self) -> Any:
        from rich.text import Text

        return Text(self.text())


class _Progress:
    """Step events as lines. While a wait runs: on a terminal, a live line (elapsed, expected,
    last observed); elsewhere (CI logs), a plain line when what it sees changes, at most one
    a PLAIN_EVERY seconds otherwise."""

    PLAIN_EVERY = 15.0

    def __init__(self) -> None:
        self.status: Any = None
        self.line: _WaitLine | None = None
        self.printed = ("", 0.0)

    def __call__(self, event: str, step: Any) -> None:
        from rich.markup import escape

        if self.status is not None:
            self.status.stop()
            self.status = None
        self.line = None
        console.print(escape(f"  [{step.kind.value}] {step.id}: {event}"), highlight=False)
        if event == "running" and step.kind.value == "wait":
            self.line = _WaitLine(step.title)
            if console.is_terminal:
                self.status = console.status(self.line)
                self.status.start()

    def watch(self, step: Any, observed: str, expected: float | None) -> None:
        line = self.line
        if line is None:
            return
        line.observed, line.expected = observed, expected
        if console.is_terminal:
            return  # the live line reads them at its next refresh
        last, at = self.printed
        if observed != last or time.monotonic() - at >= self.PLAIN_EVERY:
            console.print(line.text(), highlight=False, markup=False)
            self.printed = (observed, time.monotonic())


_progress = _Progress()
