"""`ops inventory validate | show`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, print_json
from ops.telemetry.tracing import traced_command

if TYPE_CHECKING:
    from ops.inventory.environment import Environment

app = typer.Typer(help="The platform inventory (platform.yaml).", no_args_is_help=True)

FILE_OPTION = typer.Option(None, "--file", "-f", help="Inventory file (default: platform.yaml).")


@app.command()
@traced_command
def validate(
    ctx: typer.Context, file: Path | None = FILE_OPTION, output: OutputFormat = OUTPUT_OPTION
) -> None:
    """Check every environment of the inventory; exit 2 with one line per problem."""
    from ops.inventory import load_inventory
    from ops.observe.checks import check_inventory
    from runbooks.policy import drill_policy_problems

    inventory = load_inventory(file or cli_context(ctx).inventory)
    # Alarm overrides name real alarms, severities have topics, derived names are AWS's,
    # the drill policy names runbooks with drills.
    check_inventory(inventory, drill_policy_problems)
    environments = sorted(inventory.environments)
    if output is OutputFormat.json:
        print_json({"file": inventory.source, "valid": True, "environments": environments})
        return
    count = len(next(iter(inventory.environments.values())).spec.components)
    console.print(
        f"[green]valid[/]: {inventory.source}: platform {inventory.platform}, "
        f"{len(environments)} environments ({', '.join(environments)}), {count} components in base"
    )


@app.command()
@traced_command
def show(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    file: Path | None = FILE_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Show one environment as resolved: the base with the environment's overlay."""
    environment = cli_context(ctx).environment(env, file)
    if output is OutputFormat.json:
        print_json(_as_json(environment))
        return
    _print_environment(environment)


def _as_json(env: Environment) -> dict[str, object]:
    return {
        "platform": env.platform,
        "environment": env.name,
        **env.meta.model_dump(),
        "ownership_tags": env.ownership_tags(),
        **env.spec.model_dump(mode="json"),
    }


def _print_environment(env: Environment) -> None:
    from ops.kinds.registry import kind_of

    guard = "[bold red]protected[/]" if env.protected else "not protected"
    console.print(
        f"[bold]{env.platform}[/] / [bold]{env.name}[/]: provider {env.provider}, "
        f"region {env.region}, {guard}"
    )
    components = Table("component", "kind", "AWS name", "settings", title="components")
    for name, component in env.spec.components.items():
        kind = kind_of(component)
        names = "\n".join(kind.aws_names(env, component))
        components.add_row(name, component.kind, names, kind.settings(component))
    console.print(components)
    objectives = Table("component", "RPO", "RTO", title="DR objectives")
    for name, objective in env.spec.objectives.items():
        objectives.add_row(name, _duration(objective.rpo), _duration(objective.rto))
    console.print(objectives)
    slos = Table("path", "p95", "p99", "error rate", "min throughput", title="SLOs")
    for name, slo in env.spec.slos.items():
        slos.add_row(
            name,
            f"{slo.p95_ms:g} ms",
            f"{slo.p99_ms:g} ms",
            f"{slo.error_rate:.2%}",
            f"{slo.min_throughput_rps:g} req/s",
        )
    console.print(slos)
    topics = ", ".join(f"{s}: {env.resource_name(t.topic)}" for s, t in env.spec.notifications.items())
    console.print(f"notifications: {topics}")


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"
