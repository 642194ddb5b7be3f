"""`ops drill run | history`: scheduled DR drills and their trend."""

from __future__ import annotations

import typer

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, print_json
from ops.errors import BadInput, ExitCode
from ops.telemetry.tracing import traced_command

app = typer.Typer(
    help="DR drills: prove RPO/RTO objectives without touching production traffic.", no_args_is_help=True
)


@app.command()
@traced_command
def run(
    ctx: typer.Context,
    name: str,
    env: str = ENV_OPTION,
    component: str = typer.Option("warehouse", "--component", help="The component to drill."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Restore to a scratch name, validate, measure, tear down; exit 4 if an objective is missed."""
    from ops.runbook.controls import controls_from_environment
    from ops.runbook.drill import publish, run_drill
    from ops.telemetry.metrics import record_drill
    from runbooks import get_runbook

    runbook = get_runbook(name)
    context = cli_context(ctx)
    environment = context.environment(env)
    if component not in environment.spec.components:
        raise BadInput(f"--component {component!r}: not a component of {environment.name}")
    factory = context.aws_for(environment)
    with console.status(f"drilling {name} on {environment.prefix}-{component}..."):
        aws = factory if environment.provider != "local" else None
        result = run_drill(context.state(), environment, runbook, component, aws, controls_from_environment())
    publish(factory.client("cloudwatch"), result)
    record_drill(
        result.environment,
        result.component,
        result.runbook,
        result.rto_seconds,
        result.rpo_seconds,
        result.objectives_met,
    )
    if output is OutputFormat.json:
        print_json({**result.__dict__, "objectives_met": result.objectives_met})
    else:
        verdict = "[green]objectives met[/]" if result.objectives_met else "[red]objectives missed[/]"
        console.print(f"drill {result.drill_id}: {verdict}")
        console.print(f"  RTO {result.rto_seconds} s (objective {result.rto_objective} s)")
        console.print(f"  RPO {result.rpo_seconds} s (objective {result.rpo_objective} s)")
        if result.error:
            console.print(f"  failed: {result.error}", markup=False)
    if not result.success:
        raise typer.Exit(ExitCode.FAILURE)
    if not result.objectives_met:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)


@app.command()
@traced_command
def history(
    ctx: typer.Context,
    env: str | None = typer.Option(None, "--env", "-e"),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Every drill, oldest first, with its objectives' compliance."""
    from rich.table import Table

    from ops.runbook.drill import read_history

    entries = read_history(cli_context(ctx).state(), env)
    if output is OutputFormat.json:
        print_json(entries)
        return
    table = Table("drill", "env", "component", "RTO s", "RPO s", "objectives", title=f"{len(entries)} drills")
    for entry in entries:
        met = (
            "[green]met[/]"
            if entry["objectives_met"]
            else ("[red]missed[/]" if entry["success"] else "[red]failed[/]")
        )
        table.add_row(
            entry["drill_id"],
            entry["environment"],
            entry["component"],
            f"{entry['rto_seconds']}",
            f"{entry['rpo_seconds']}",
            met,
        )
    console.print(table)
    rtos = [e["rto_seconds"] for e in entries if e["rto_seconds"] is not None]
    if len(rtos) >= 2:
        trend = "faster" if rtos[-1] < rtos[0] else "slower"
        console.print(f"RTO trend: {rtos[0]} s -> {rtos[-1]} s ({trend}); last {len(rtos)} drills")
