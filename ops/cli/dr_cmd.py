"""`ops dr assess`: is each stateful component protected, as configured and as measured?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, err_console, print_json
from ops.errors import ExitCode
from ops.telemetry.tracing import traced_command

if TYPE_CHECKING:
    from ops.readiness.assess import Probes

app = typer.Typer(help="DR readiness across the environment's stateful components.", no_args_is_help=True)

STYLE = {
    "protected as measured": "[green]protected as measured[/]",
    "protected as configured only": "[yellow]protected as configured only[/]",
    "unprotected": "[red]unprotected[/]",
}


@app.command()
@traced_command
def assess(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    stats: bool = typer.Option(False, "--stats", help="Count the AWS read calls made, by operation."),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Each stateful component with an objective: backups and the point-in-time window,
    replication, Multi-AZ, the recovery alarms, its last drill; a verdict each (protected as
    measured, as configured only, unprotected) and HTML/Markdown/JSON reports. Exit 4 when
    any is unprotected."""
    from datetime import UTC, datetime

    from rich.table import Table

    from ops.readiness.assess import AwsReads
    from ops.readiness.assess import assess as assess_environment
    from ops.readiness.report import write_readiness
    from ops.runbook.drill import read_history

    context = cli_context(ctx)
    environment = context.environment(env)
    factory = context.aws_for(environment)
    probes: Probes
    unassessed: dict[str, str] = {}
    if environment.provider == "local":
        from ops.local.gaps import UNEMULATED_KINDS
        from ops.local.readiness import LocalProbes

        probes = LocalProbes(environment, context.state())
        unassessed = UNEMULATED_KINDS
    else:
        from ops.readiness.aws_probes import AwsProbes

        probes = AwsProbes(environment, factory)
    history = read_history(context.state(), environment.name)
    cloud = None
    if environment.provider == "aws":  # the local platform's drills all run here: its history is whole
        from ops.readiness.model import DEFAULT_DRILL_PERIOD_S
        from ops.runbook.drill_metrics import cloud_drills, merge_history
        from runbooks import REGISTRY

        # Scheduled drills run in ECS tasks whose state folder is gone: their metrics remain.
        # Read with the assessment's clients: counted with its other reads (--stats).
        cloud = cloud_drills(
            lambda: factory.client("cloudwatch"),
            environment,
            REGISTRY.values(),
            datetime.now(UTC),
            at_least=DEFAULT_DRILL_PERIOD_S,  # a component without a drill policy is judged over it
        )
        if cloud.warning:
            err_console.print(cloud.warning, markup=False, highlight=False, soft_wrap=True)
        history = merge_history(history, cloud.entries)
    assessment = assess_environment(environment, AwsReads(factory), probes, history, unassessed=unassessed)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    paths = write_readiness(context.state().reports_dir / f"readiness-{environment.name}-{stamp}", assessment)
    if output is OutputFormat.json:
        drills = cloud.summary() if cloud else None
        print_json({**assessment.as_dict(), "cloudwatch_drills": drills, "report": str(paths.html)})
    else:
        table = Table("component", "verdict", "why", title=f"DR readiness: {environment.name}")
        for component in assessment.components:
            why = "; ".join(component.reasons) or "mechanisms in place; a drill met the objectives"
            table.add_row(component.component, STYLE[component.verdict.value], why)
        console.print(table)
        for name, why in assessment.not_assessed.items():
            console.print(f"not assessed here: {name} ({why})", markup=False)
        if cloud is not None and cloud.warning is None:
            console.print(
                f"drills: this machine's history and {len(cloud.entries)} CloudWatch points "
                f"({cloud.period_seconds} s periods, last {cloud.lookback_seconds / 86400:g} d)",
                markup=False,
            )
        if stats:
            console.print(f"AWS read calls: {assessment.calls.get('total_calls', 0)}")
        console.print(f"report: {paths.html}", markup=False)
    if assessment.unprotected:
        raise typer.Exit(ExitCode.OBJECTIVE_MISSED)
