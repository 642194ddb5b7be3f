"""`ops loadtest run`: load-test campaigns against the ingest path. The work is the campaign
service's (ops/campaign/service.py), imported when a command runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, err_console, print_json
from ops.errors import ExitCode
from ops.telemetry.tracing import traced_command

if TYPE_CHECKING:
    from ops.campaign.service import CampaignHost, CampaignReport

app = typer.Typer(help="Load-test campaigns with Locust: SLO verdicts with exit codes.", no_args_is_help=True)


METRICS_PORT_OPTION = typer.Option(
    None, "--metrics-port", min=0, max=65535, help="Serve live Prometheus metrics on 127.0.0.1:PORT."
)
CLOUDWATCH_OPTION = typer.Option(
    True, "--cloudwatch/--no-cloudwatch", help="Live metrics to CloudWatch (PlatformOps/LoadTests)."
)


@contextmanager
def _live_view(headline: str) -> Iterator[Callable[[str], None]]:
    """The campaign's live line on stderr (stdout may carry JSON): redrawn under a spinner on
    a terminal, printed as plain lines when piped (CI logs)."""
    if err_console.is_terminal:
        with err_console.status(headline) as status:
            yield lambda line: status.update(f"{headline}\n{line}")
        return
    err_console.print(headline, markup=False, highlight=False, soft_wrap=True)
    yield lambda line: err_console.print(line, markup=False, highlight=False, soft_wrap=True)


class Backend(StrEnum):
    local = "local"
    fargate = "fargate"


def _host(ctx: typer.Context) -> CampaignHost:
    """What the campaign service needs from this composition root: the state, the
    inventory, clients, the local platform (asked only when a campaign loads it) and the
    terminal."""
    from ops.campaign.service import CampaignHost
    from ops.cli.confirm import confirm_protected

    context = cli_context(ctx)

    def local_ingest_url() -> str:
        from ops.local.platform import require_running

        return require_running(context.state()).ingest_url

    return CampaignHost(
        state_root=context.state().root,
        environment=context.environment,
        aws_for=context.aws_for,
        local_ingest_url=local_ingest_url,
        notice=lambda text: err_console.print(text, markup=False),
        confirm=lambda environment, question: confirm_protected(environment, question, "started"),
        live_view=_live_view,
    )


def _print_verdict(output: OutputFormat, report: CampaignReport) -> None:
    """The verdict of run, attach and report alike; exit 4 when the SLO is missed."""
    from rich.table import Table

    data = report.data
    if output is OutputFormat.json:
        print_json(data)
    else:
        table = Table(
            "measure",
            "objective",
            "measured",
            "result",
            title=f"{data['campaign_id']}: {data['requests']} requests",
        )
        for measure, objective, measured, ok in report.checks:
            table.add_row(measure, objective, measured, "[green]met[/]" if ok else "[red]missed[/]")
        console.print(table)
        if data.get("cost"):
            cost = data["cost"]
            estimate = f"${cost['estimate']['usd']:.2f}" if cost.get("estimate") else "none"
            spent = f"${cost['actual']['usd']:.2f}" if cost.get("actual") else "unknown"
            console.print(f"cost: {spent} ({cost.get('note') or f'estimated {estimate}'})", markup=False)
        console.print(f"report: {Path(data['folder']) / 'report.html'}", markup=False, soft_wrap=True)
        locust_report = (data.get("locust_report") or {}).get("path")
        if locust_report:  # a path is copied whole: never wrapped
            path = Path(data["folder"]) / locust_report
            console.print(f"Locust's own report: {path}", markup=False, soft_wrap=True)
    if not report.met:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)


@app.command()
@traced_command
def run(
    ctx: typer.Context,
    campaign: str = typer.Argument(..., help="A campaign of loadtest/campaigns (smoke) or a YAML file."),
    env: str = ENV_OPTION,
    backend: Backend = typer.Option(
        Backend.local, "--backend", help="local (Locust processes here) or fargate."
    ),
    output: OutputFormat = OUTPUT_OPTION,
    keep_samples: bool = typer.Option(False, "--keep-samples", help="Also write every request's raw sample."),
    metrics_port: int | None = METRICS_PORT_OPTION,
    cloudwatch: bool = CLOUDWATCH_OPTION,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Fargate: show the launch and its cost, start nothing."
    ),
    max_cost: float | None = typer.Option(
        None, "--max-cost", min=0, help="Fargate: refuse to launch when the estimate is above this (USD)."
    ),
    start_timeout: float = typer.Option(
        300, "--start-timeout", min=1, help="Fargate: seconds for the master to run and answer."
    ),
    auto_approve: bool = typer.Option(False, "--auto-approve", help="Load a protected environment (CI)."),
    ui: bool = typer.Option(
        False,
        "--ui",
        help="Print the Locust master's web UI (127.0.0.1; on Fargate the port forward) to watch the run.",
    ),
) -> None:
    """Run a campaign, merge the workers' results, and exit 4 when the SLO is missed."""
    from ops.campaign import service

    request = service.RunRequest(
        campaign=campaign,
        env=env,
        backend=backend.value,
        keep_samples=keep_samples,
        live=service.LiveOptions(metrics_port, cloudwatch),
        dry_run=dry_run,
        max_cost=max_cost,
        start_timeout=start_timeout,
        auto_approve=auto_approve,
        ui=ui,
    )
    result = service.run(request, _host(ctx))
    if isinstance(result, service.DryRun):
        print_json(result.payload)
        return
    _print_verdict(output, result)


@app.command()
@traced_command
def attach(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="The id of a running campaign (see its folder under loadtests/)."),
    output: OutputFormat = OUTPUT_OPTION,
    metrics_port: int | None = METRICS_PORT_OPTION,
    cloudwatch: bool = CLOUDWATCH_OPTION,
) -> None:
    """Reconnect to a running campaign (its `ops loadtest run` lost or killed): follow it to
    the end, then judge it as run would have."""
    from ops.campaign import service

    _print_verdict(output, service.attach(run_id, service.LiveOptions(metrics_port, cloudwatch), _host(ctx)))


@app.command()
@traced_command
def sweep(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    campaign_id: str | None = typer.Option(
        None, "--campaign", help="Stop this campaign's tasks, expired or not."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be stopped."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Stop orphaned Fargate campaign tasks: those past their expiry tag (or one campaign's).
    Tasks without the campaign tag are never touched."""
    from rich.table import Table

    from ops.campaign import service

    swept = service.sweep(env, campaign_id, dry_run, _host(ctx))
    if output is OutputFormat.json:
        print_json({"cluster": swept.cluster, "stopped" if not dry_run else "would_stop": swept.found})
        return
    verb = "would stop" if dry_run else "stopped"
    table = Table(
        "task", "campaign", "role", "expired at", title=f"{swept.cluster}: {verb} {len(swept.found)} tasks"
    )
    for item in swept.found:
        table.add_row(item["task"].rsplit("/", 1)[-1], item["campaign"], item["role"], item["expires_at"])
    console.print(table)


@app.command("report")
@traced_command
def report(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A campaign run (id or folder)."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Show a finished campaign's verdict and where its report is; exit 4 if it missed its SLO."""
    from ops.campaign import service

    _print_verdict(output, service.report(run_id, cli_context(ctx).state().root))


@app.command("compare")
@traced_command
def compare_(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A campaign run (id or folder)."),
    baseline: str = typer.Argument(..., help="The run to compare it with."),
    tolerance: float = typer.Option(
        0.10, "--tolerance", min=0, max=10, help="Allowed regression (0.10 = 10%)."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """A regression verdict: exit 4 when the run is worse than the baseline beyond the tolerance."""
    from rich.table import Table

    from ops.campaign import service

    comparison = service.compare_runs(run_id, baseline, tolerance, cli_context(ctx).state().root)
    if output is OutputFormat.json:
        rows: list[dict[str, Any]] = [
            dict(zip(("measure", "baseline", "run", "ok"), row, strict=True)) for row in comparison.rows
        ]
        print_json({"rows": rows, "regressed": comparison.regressed})
    else:
        table = Table("measure", "baseline", "run", "verdict", title=f"{run_id} against {baseline}")
        for name, before, after, ok in comparison.rows:
            table.add_row(name, f"{before:g}", f"{after:g}", "[green]ok[/]" if ok else "[red]regressed[/]")
        console.print(table)
    if comparison.regressed:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)
