"""`ops loadtest run`: load-test campaigns against the ingest path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from botocore.exceptions import ClientError
from rich.table import Table

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, err_console, print_json
from ops.errors import BadInput, ExitCode
from ops.telemetry.tracing import span, traced_command

app = typer.Typer(help="Load-test campaigns with Locust: SLO verdicts with exit codes.", no_args_is_help=True)


@app.command()
@traced_command
def run(
    ctx: typer.Context,
    campaign: str = typer.Argument(..., help="A campaign of loadtest/campaigns (smoke) or a YAML file."),
    env: str = ENV_OPTION,
    backend: str = typer.Option(
        "local", "--backend", help="local (Locust processes here); fargate: not built yet"
    ),
    output: OutputFormat = OUTPUT_OPTION,
    keep_samples: bool = typer.Option(False, "--keep-samples", help="Also write every request's raw sample."),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", min=0, max=65535, help="Serve live Prometheus metrics on 127.0.0.1:PORT."
    ),
    cloudwatch: bool = typer.Option(
        True, "--cloudwatch/--no-cloudwatch", help="Live metrics to CloudWatch (PlatformOps/LoadTests)."
    ),
) -> None:
    """Run a campaign, merge the workers' results, and exit 4 when the SLO is missed."""
    from ops.campaign.engine import new_campaign_id, run_campaign
    from ops.campaign.live import CloudWatchSink, LiveSink, PrometheusSink
    from ops.campaign.local_backend import LocalBackend
    from ops.campaign.spec import load_campaign
    from ops.local.platform import require_running

    if backend != "local":
        raise BadInput(f"--backend {backend!r}: only 'local' is built yet")
    context = cli_context(ctx)
    spec = load_campaign(campaign)
    environment = context.environment(env)
    slo = spec.slo or environment.spec.slos.get("ingest")
    if slo is None:
        raise BadInput(f"campaign {spec.name} has no slo and environment {env} has no slos.ingest")
    if environment.provider != "local":
        raise BadInput(f"--env {env}: the local backend loads the local platform only (--env local)")
    record = require_running(context.state())
    campaign_id = new_campaign_id(spec)
    folder = context.state().root / "loadtests" / campaign_id
    sinks: list[LiveSink] = []
    if metrics_port is not None:
        prometheus = PrometheusSink(campaign_id, metrics_port)
        sinks.append(prometheus)
        err_console.print(f"live metrics: http://127.0.0.1:{prometheus.port}/metrics", markup=False)
    if cloudwatch:
        warn = lambda text: err_console.print(text, markup=False)  # noqa: E731
        sinks.append(CloudWatchSink(context.aws_for(environment).client("cloudwatch"), env, spec.name, warn))
    load = f"{spec.peak_users} users" if spec.model == "closed" else f"open model, {spec.max_users} users"
    with (
        span("loadtest.run", campaign=spec.name),
        console.status(f"campaign {campaign_id}: {load}, {spec.workers} workers, {spec.total_duration:g} s"),
    ):
        backend_ = LocalBackend(spec, record.ingest_url, folder, samples=keep_samples)
        outcome = run_campaign(spec, backend_, campaign_id, folder, slo, sinks)
    data = outcome.data
    data["archived"] = _archive(context, environment, folder, campaign_id)
    _print_verdict(output, data, outcome.checks)
    if not outcome.met:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)


def _print_verdict(output: OutputFormat, data: dict[str, Any], checks: list[Any]) -> None:
    if output is OutputFormat.json:
        print_json(data)
        return
    table = Table(
        "measure",
        "objective",
        "measured",
        "result",
        title=f"{data['campaign_id']}: {data['requests']} requests",
    )
    for measure, objective, measured, ok in checks:
        table.add_row(measure, objective, measured, "[green]met[/]" if ok else "[red]missed[/]")
    console.print(table)
    console.print(f"report: {Path(data['folder']) / 'report.html'}")


@app.command("report")
@traced_command
def report(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A campaign run (id or folder)."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Show a finished campaign's verdict and where its report is; exit 4 if it missed its SLO."""
    from ops.campaign.compare import load_results

    data = load_results(cli_context(ctx).state().root, run_id)
    checks = [(c["measure"], c["objective"], c["measured"], c["met"]) for c in data.get("slo", [])]
    _print_verdict(output, data, checks)
    if not data.get("slo_met", False):
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)


def _archive(context: Any, environment: Any, folder: Path, campaign_id: str) -> str | None:
    """Results and report to the environment's results bucket: s3://<bucket>/<campaign id>/."""
    bucket = environment.spec.loadtest_settings.results_bucket
    if not bucket:
        return None
    name = environment.resource_name(bucket)
    s3 = context.aws_for(environment).client("s3")
    try:
        for file in ("results.json", "report.html", "report.md", "report.json"):
            s3.put_object(Bucket=name, Key=f"{campaign_id}/{file}", Body=(folder / file).read_bytes())
    except ClientError as error:  # the verdict stands; the results are in the folder
        err_console.print(f"warning: results not archived to s3://{name}: {error}", markup=False)
        return None
    return f"s3://{name}/{campaign_id}/"


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
    from ops.campaign.compare import compare, load_results

    root = cli_context(ctx).state().root
    rows = compare(load_results(root, run_id), load_results(root, baseline), tolerance)
    regressed = [name for name, _, _, ok in rows if not ok]
    if output is OutputFormat.json:
        print_json({"rows": [dict(zip(("measure", "baseline", "run", "ok"), r, strict=True)) for r in rows],
                    "regressed": regressed})  # fmt: skip
    else:
        table = Table("measure", "baseline", "run", "verdict", title=f"{run_id} against {baseline}")
        for name, before, after, ok in rows:
            table.add_row(name, f"{before:g}", f"{after:g}", "[green]ok[/]" if ok else "[red]regressed[/]")
        console.print(table)
    if regressed:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)
