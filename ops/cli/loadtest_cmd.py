"""`ops loadtest run`: load-test campaigns against the ingest path."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
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
) -> None:
    """Run a campaign, merge the workers' results, and exit 4 when the SLO is missed."""
    from ops.campaign.local_backend import run_local
    from ops.campaign.results import results_payload, summarize, verdict
    from ops.campaign.spec import load_campaign
    from ops.local.platform import require_running
    from ops.report.writer import Section, write_report

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
    campaign_id = f"{spec.name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
    folder = context.state().root / "loadtests" / campaign_id
    with (
        span("loadtest.run", campaign=spec.name),
        console.status(
            f"campaign {campaign_id}: {spec.users} users, {spec.workers} workers, {spec.duration:g} s"
        ),
    ):
        result = run_local(spec, record.ingest_url, folder, samples=keep_samples)
    summary = summarize(result.stats)
    checks = verdict(summary, slo)
    if result.aborted:
        checks.append(("abort rule", "not breached", result.aborted, False))
    met = all(ok for *_, ok in checks)
    data = {
        "campaign_id": campaign_id,
        "folder": str(folder),
        "campaign": spec.model_dump(mode="json"),
        **results_payload(summary, checks),
        "aborted": result.aborted,
    }
    (folder / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    write_report(folder, f"campaign {campaign_id}", data, [
        Section("SLO verdict", ("measure", "objective", "measured", "met"),
                [(m, o, v, "yes" if ok else "NO") for m, o, v, ok in checks]),
    ])  # fmt: skip
    data["archived"] = _archive(context, environment, folder, campaign_id)
    if output is OutputFormat.json:
        print_json(data)
    else:
        table = Table(
            "measure", "objective", "measured", "result", title=f"{campaign_id}: {summary.requests} requests"
        )
        for measure, objective, measured, ok in checks:
            table.add_row(measure, objective, measured, "[green]met[/]" if ok else "[red]missed[/]")
        console.print(table)
        console.print(f"report: {folder / 'report.html'}")
    if not met:
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
