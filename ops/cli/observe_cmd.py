"""`ops observe plan | apply | drift | alarms`: observability as code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from ops.cli.confirm import confirm_protected
from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, CliContext, OutputFormat, cli_context
from ops.cli.output import console, err_console, print_json
from ops.errors import ExitCode, OpsError
from ops.telemetry.tracing import span, traced_command

if TYPE_CHECKING:
    from ops.inventory.environment import Environment

app = typer.Typer(help="Alarms, log groups and cluster settings, planned and applied.", no_args_is_help=True)

ONLY_OPTION = typer.Option(None, "--only", help="Only this kind (repeatable): alarm, log-group, ...")
STATS_OPTION = typer.Option(False, "--stats", help="Count the AWS calls made, by operation.")
DETAILED_OPTION = typer.Option(False, "--detailed-exitcode", help="Exit 3 when there are changes.")
RATE_OPTION = typer.Option(None, "--write-rate", min=0.1, help="Alarm writes a second (default: inventory).")


def _load(ctx: typer.Context, env_name: str) -> tuple[CliContext, Environment]:
    from ops.inventory import load_inventory
    from ops.observe.checks import check_environment

    context = cli_context(ctx)
    inventory = load_inventory(context.inventory)
    env = inventory.environment(env_name)
    check_environment(inventory, env)  # bad overrides fail here, before any AWS call
    return context, env


def _plan(ctx: typer.Context, env_name: str, only: list[str] | None, rate: float | None) -> Any:
    from ops.observe.grafana_access import grafana_session
    from ops.observe.planning import kinds_for, observe_plan

    context, env = _load(ctx, env_name)
    kinds_for(only)  # a bad --only fails before any AWS call
    factory = context.aws_for(env)
    # The Grafana session (a short-lived token on Managed Grafana) lasts as long as the command.
    grafana = ctx.with_resource(grafana_session(factory, env))
    with span("observe.plan", environment=env.name):
        return env, factory, observe_plan(factory, env, only, rate, grafana)


def _stats(stats: bool, factory: Any, output: OutputFormat, payload: dict[str, Any]) -> None:
    if not stats:
        return
    if output is OutputFormat.json:
        payload["stats"] = factory.stats.as_dict()
        return
    table = Table("AWS operation", "calls", title=f"AWS calls: {factory.stats.total}")
    for operation, count in sorted(factory.stats.calls.items()):
        table.add_row(operation, str(count))
    err_console.print(table)


@app.command()
@traced_command
def plan(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    only: list[str] | None = ONLY_OPTION,
    detailed_exitcode: bool = DETAILED_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
    stats: bool = STATS_OPTION,
    show_unchanged: bool = typer.Option(False, "--show-unchanged", help="List unchanged resources too."),
) -> None:
    """Show what apply would change. Nothing is written."""
    from ops.reconcile.render import plan_json, print_plan

    environment, factory, observed = _plan(ctx, env, only, None)
    payload = plan_json(observed.plan)
    _stats(stats, factory, output, payload)
    if output is OutputFormat.json:
        print_json(payload)
    else:
        print_plan(console, observed.plan, f"{environment.prefix}: observability plan", show_unchanged)
    if detailed_exitcode and observed.plan.pending:
        raise typer.Exit(ExitCode.CHANGES_PENDING)


@app.command()
@traced_command
def apply(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    only: list[str] | None = ONLY_OPTION,
    auto_approve: bool = typer.Option(False, "--auto-approve", help="Skip the confirmation (CI)."),
    write_rate: float | None = RATE_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
    stats: bool = STATS_OPTION,
) -> None:
    """Plan, confirm on a protected environment, then create, update and prune."""
    from rich.progress import Progress

    from ops.reconcile.engine import apply_plan
    from ops.reconcile.render import change_json, print_change, print_plan

    environment, factory, observed = _plan(ctx, env, only, write_rate)
    pending = observed.plan.pending
    if output is OutputFormat.text:
        print_plan(console, observed.plan, f"{environment.prefix}: observability plan")
    if pending and environment.protected and not auto_approve:
        confirm_protected(environment, f"Apply {len(pending)} changes?", "applied")
    with span("observe.apply", changes=len(pending)), Progress(console=err_console, transient=True) as bar:
        task = bar.add_task("applying", total=len(pending))
        result = apply_plan(observed.plan, observed.providers, on_progress=lambda _: bar.advance(task))
    payload: dict[str, Any] = {
        "environment": environment.name,
        "applied": [change_json(c) for c in result.applied],
        "failed": [{**change_json(c), "error": error} for c, error in result.failed],
    }
    _stats(stats, factory, output, payload)
    if output is OutputFormat.json:
        print_json(payload)
    else:
        console.print(f"Applied {len(result.applied)} of {len(pending)} changes.")
        for change, error in result.failed:
            print_change(console, change)
            console.print(f"      [red]failed: {error}[/]", markup=True)
    if result.failed:
        raise OpsError(
            f"{len(result.failed)} of {len(pending)} changes failed; run apply again to retry them"
        )


@app.command()
@traced_command
def drift(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    only: list[str] | None = ONLY_OPTION,
    detailed_exitcode: bool = DETAILED_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
    stats: bool = STATS_OPTION,
) -> None:
    """Resources we own that were edited out of band since we last applied them."""
    from ops.reconcile.engine import drifted
    from ops.reconcile.render import change_json, print_change

    environment, factory, observed = _plan(ctx, env, only, None)
    found = drifted(observed.plan)
    payload: dict[str, Any] = {"environment": environment.name, "drifted": [change_json(c) for c in found]}
    _stats(stats, factory, output, payload)
    if output is OutputFormat.json:
        print_json(payload)
    else:
        console.print(f"[bold]{environment.prefix}: drift[/]")
        for change in found:
            print_change(console, change)
        console.print(
            f"{len(found)} resources drifted" + ("; `ops observe apply` restores them" if found else "")
        )
    if detailed_exitcode and found:
        raise typer.Exit(ExitCode.CHANGES_PENDING)


@app.command()
@traced_command
def alarms(ctx: typer.Context, env: str = ENV_OPTION, output: OutputFormat = OUTPUT_OPTION) -> None:
    """Every alarm of an environment, with its override key and where its default comes from."""
    from alarms import alarm_catalog

    _, environment = _load(ctx, env)
    catalog = alarm_catalog(environment)
    if output is OutputFormat.json:
        print_json(
            [
                {
                    "name": a.name(environment.prefix),
                    "component": a.component,
                    "override_key": a.key,
                    "qualifier": a.qualifier,
                    "severity": a.severity,
                    "threshold": a.threshold,
                    "source": a.source,
                }
                for a in catalog
            ]
        )
        return
    table = Table(
        "component", "override key", "severity", "threshold", "source", title=f"{len(catalog)} alarms"
    )
    for a in catalog:
        key = f"{a.key}.{a.qualifier}" if a.qualifier else a.key
        threshold = "band" if a.anomaly_band is not None else f"{a.threshold:g}"
        table.add_row(a.component, key, a.severity, threshold, a.source)
    console.print(table)
