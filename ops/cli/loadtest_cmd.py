"""`ops loadtest run`: load-test campaigns against the ingest path."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from botocore.exceptions import ClientError
from rich.table import Table

from ops.cli.confirm import confirm_protected
from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, err_console, print_json
from ops.errors import BadInput, ExitCode, OpsError
from ops.telemetry.metrics import record_campaign
from ops.telemetry.tracing import span, traced_command

app = typer.Typer(help="Load-test campaigns with Locust: SLO verdicts with exit codes.", no_args_is_help=True)


SPEC_FILE = "campaign-spec.json"  # the campaign as it ran, for attach
METRICS_PORT_OPTION = typer.Option(
    None, "--metrics-port", min=0, max=65535, help="Serve live Prometheus metrics on 127.0.0.1:PORT."
)
CLOUDWATCH_OPTION = typer.Option(
    True, "--cloudwatch/--no-cloudwatch", help="Live metrics to CloudWatch (PlatformOps/LoadTests)."
)


class Backend(StrEnum):
    local = "local"
    fargate = "fargate"


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
    if data.get("cost"):
        cost = data["cost"]
        estimate = f"${cost['estimate']['usd']:.2f}" if cost.get("estimate") else "none"
        spent = f"${cost['actual']['usd']:.2f}" if cost.get("actual") else "unknown"
        console.print(f"cost: {spent} (estimated {estimate})")
    console.print(f"report: {Path(data['folder']) / 'report.html'}")


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
) -> None:
    """Run a campaign, merge the workers' results, and exit 4 when the SLO is missed."""
    from ops.campaign.engine import new_campaign_id
    from ops.campaign.spec import load_campaign

    context = cli_context(ctx)
    spec = load_campaign(campaign)
    environment = context.environment(env)
    slo = _slo(spec, environment)
    campaign_id = new_campaign_id(spec)
    folder = context.state().root / "loadtests" / campaign_id
    if backend is Backend.fargate:
        launched = _fargate(context, environment, spec, campaign_id, folder, dry_run, max_cost, start_timeout)
        if launched is None:
            return
    else:
        if environment.provider != "local":
            raise BadInput(
                f"--env {env}: the local backend loads the local platform only; use --backend fargate"
            )
        launched = _local(context, spec, folder, keep_samples)
    if environment.protected and not auto_approve:
        confirm_protected(environment, f"Start load test {spec.name}?", "started")
    _remember(folder, spec, env)
    _drive_and_report(context, environment, spec, launched, campaign_id, folder, slo, output,
                      _sinks(context, environment, spec, campaign_id, metrics_port, cloudwatch))  # fmt: skip


def _slo(spec: Any, environment: Any) -> Any:
    slo = spec.slo or environment.spec.slos.get("ingest")
    if slo is None:
        raise BadInput(
            f"campaign {spec.name} has no slo and environment {environment.name} has no slos.ingest"
        )
    return slo


def _local(context: Any, spec: Any, folder: Path, keep_samples: bool) -> Any:
    from ops.campaign.local_backend import LocalBackend
    from ops.local.platform import require_running

    record = require_running(context.state())
    return LocalBackend(spec, record.ingest_url, folder, samples=keep_samples)


def _fargate(context: Any, environment: Any, spec: Any, campaign_id: str, folder: Path, dry_run: bool,
             max_cost: float | None, start_timeout: float) -> Any:  # fmt: skip
    """Price the launch before anything starts; a dry run stops there."""
    from ops.campaign.fargate_backend import FargateBackend, prepare_launch
    from ops.campaign.local_backend import locust_environment
    from ops.campaign.target import ingest_url

    aws = context.aws_for(environment)
    launch = prepare_launch(aws, environment, spec, ingest_url(context, environment, aws), campaign_id)
    estimate = launch.cost(spec.total_duration, environment)
    err_console.print(
        f"{campaign_id}: 1 master + {launch.workers} workers{' (spot)' if launch.spot else ''} in "
        f"{launch.cluster}, about ${estimate.usd:.2f} ({estimate.vcpu_hours:.2f} vCPU-h, "
        f"{estimate.gb_hours:.2f} GB-h)",
        markup=False,
    )
    if max_cost is not None and estimate.usd > max_cost:
        raise BadInput(
            f"--max-cost {max_cost:g}: the estimate is ${estimate.usd:.2f}; raise it or shrink the campaign"
        )
    if dry_run:
        print_json({"campaign_id": campaign_id, "launch": asdict(launch), "estimate": estimate.payload()})
        return None
    env_vars = locust_environment(spec, folder, samples=False)
    for name in ("PYTHONPATH", "OPS_LOADTEST_RESULTS_DIR"):  # paths of this machine, not the task's
        env_vars.pop(name)
    backend_ = FargateBackend(aws, spec, launch, campaign_id, folder, env_vars, start_timeout)
    backend_.estimate = estimate
    return backend_


def _sinks(context: Any, environment: Any, spec: Any, campaign_id: str, metrics_port: int | None,
           cloudwatch: bool) -> list[Any]:  # fmt: skip
    from ops.campaign.live import CloudWatchSink, PrometheusSink

    sinks: list[Any] = []
    if metrics_port is not None:
        prometheus = PrometheusSink(campaign_id, metrics_port)
        sinks.append(prometheus)
        err_console.print(f"live metrics: http://127.0.0.1:{prometheus.port}/metrics", markup=False)
    if cloudwatch:
        warn = lambda text: err_console.print(text, markup=False)  # noqa: E731
        client = context.aws_for(environment).client("cloudwatch")
        sinks.append(CloudWatchSink(client, environment.name, spec.name, warn))
    return sinks


def _remember(folder: Path, spec: Any, env: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    saved = {"env": env, "campaign": spec.model_dump(mode="json", by_alias=True)}
    (folder / SPEC_FILE).write_text(json.dumps(saved, indent=2) + "\n")


def _drive_and_report(context: Any, environment: Any, spec: Any, backend_: Any, campaign_id: str,
                      folder: Path, slo: Any, output: OutputFormat, sinks: list[Any]) -> None:  # fmt: skip
    from ops.campaign.engine import run_campaign

    load = f"{spec.peak_users} users" if spec.model == "closed" else f"open model, {spec.max_users} users"
    try:
        with (
            span("loadtest.run", campaign=spec.name),
            console.status(
                f"campaign {campaign_id}: {load}, {spec.workers} workers, {spec.total_duration:g} s"
            ),
        ):
            outcome = run_campaign(spec, backend_, campaign_id, folder, slo, sinks)
    finally:
        cost = _cost(backend_, environment)
    data = outcome.data
    if cost:
        data["cost"] = cost
        (folder / "results.json").write_text(json.dumps(data, indent=2) + "\n")
    data["archived"] = _archive(context, environment, folder, campaign_id)
    record_campaign(spec.name, environment.name, backend_.name, data)
    _print_verdict(output, data, outcome.checks)
    if not outcome.met:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)


def _cost(backend_: Any, environment: Any) -> dict[str, Any] | None:
    """Fargate: the estimate and what the tasks actually ran for."""
    if not hasattr(backend_, "cost"):
        return None
    estimate = getattr(backend_, "estimate", None)
    try:
        actual = backend_.cost(environment).payload()
    except ClientError as error:
        err_console.print(f"warning: actual cost unknown: {error}", markup=False)
        actual = None
    return {"estimate": estimate.payload() if estimate else None, "actual": actual}


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
    from ops.campaign.fargate_backend import FargateBackend
    from ops.campaign.local_backend import ATTACH_FILE, LocalBackend, locust_environment
    from ops.campaign.spec import Campaign

    context = cli_context(ctx)
    folder = context.state().root / "loadtests" / run_id
    if not (folder / SPEC_FILE).exists() or not (folder / ATTACH_FILE).exists():
        raise BadInput(
            f"{run_id}: no campaign started under {folder.parent} (ops loadtest run prints the id)"
        )
    saved = json.loads((folder / SPEC_FILE).read_text())
    spec = Campaign.model_validate(saved["campaign"])
    environment = context.environment(saved["env"])
    started = json.loads((folder / ATTACH_FILE).read_text())
    if started["backend"] == "fargate":
        env_vars = locust_environment(spec, folder, samples=False)
        backend_: Any = FargateBackend.reattach(context.aws_for(environment), spec, folder, env_vars)
    else:
        backend_ = LocalBackend.reattach(spec, folder)
    err_console.print(f"attached to {run_id}", markup=False)
    sinks = _sinks(context, environment, spec, run_id, metrics_port, cloudwatch)
    _drive_and_report(
        context, environment, spec, backend_, run_id, folder, _slo(spec, environment), output, sinks
    )


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
    from ops.campaign.fargate_backend import sweep as sweep_tasks

    context = cli_context(ctx)
    environment = context.environment(env)
    cluster = environment.resource_name(environment.spec.loadtest_settings.cluster)
    aws = context.aws_for(environment)
    try:
        found = sweep_tasks(aws, cluster, datetime.now(UTC), campaign_id, stop=not dry_run)
    except ClientError as error:
        raise OpsError(f"sweep of {cluster}: {error.response['Error']['Code']}: {error}") from error
    if output is OutputFormat.json:
        print_json({"cluster": cluster, "stopped" if not dry_run else "would_stop": found})
        return
    verb = "would stop" if dry_run else "stopped"
    table = Table("task", "campaign", "role", "expired at", title=f"{cluster}: {verb} {len(found)} tasks")
    for item in found:
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
