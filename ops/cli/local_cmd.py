"""`ops local up | down | status`: the embedded local platform."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, print_json
from ops.errors import ExitCode
from ops.telemetry.tracing import traced_command

if TYPE_CHECKING:
    from ops.local.parts import PartStatus
    from ops.local.platform import LocalPlatform

app = typer.Typer(
    help="The embedded local platform: AWS emulator, PostgreSQL, Kafka, ingest service, loader.",
    no_args_is_help=True,
)


def _platform(ctx: typer.Context, env: str) -> LocalPlatform:
    from ops.local.platform import LocalPlatform  # PostgreSQL's and the emulator's clients

    context = cli_context(ctx)
    return LocalPlatform(context.environment(env), context.state())


@app.command()
@traced_command
def up(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
    kafka: bool | None = typer.Option(
        None,
        "--kafka/--no-kafka",
        help="Run the Kafka clusters, the replicator and the loader (the ingest service then "
        "produces to Kafka), or leave them out (it writes the database). Default: as the "
        "platform was made; a new one has them.",
    ),
) -> None:
    """Start every part that is not running (harmless when all are)."""
    platform = _platform(ctx, env)
    with console.status("starting the local platform...", spinner="dots"):
        platform.up(kafka=kafka)
    _show(platform.status(), output, platform)


@app.command()
@traced_command
def down(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    purge: bool = typer.Option(False, "--purge", help="Also delete the state directory (all data)."),
) -> None:
    """Stop every part; data stays unless --purge."""
    platform = _platform(ctx, env)
    stopped = platform.down(purge=purge)
    what = ", ".join(stopped) if stopped else "nothing was running"
    console.print(f"stopped: {what}" + (f"; deleted {platform.state.root}" if purge else ""))


@app.command()
@traced_command
def status(ctx: typer.Context, env: str = ENV_OPTION, output: OutputFormat = OUTPUT_OPTION) -> None:
    """Each part, its address and its health; exit 1 if any part is down or unhealthy (an
    old database a cutover replaced is listed, kept or stopped as its run said, never a failure)."""
    platform = _platform(ctx, env)
    parts = platform.status()
    _show(parts, output, platform)
    if not all(part.healthy for part in parts if part.required):
        raise typer.Exit(ExitCode.FAILURE)


def _show(parts: list[PartStatus], output: OutputFormat, platform: LocalPlatform) -> None:
    if output is OutputFormat.json:
        print_json(
            {
                "state_dir": str(platform.state.root),
                "parts": [part.__dict__ for part in parts],
            }
        )
        return
    table = Table(
        "part", "state", "address", "pid", "detail", title=f"local platform ({platform.state.root})"
    )
    for part in parts:
        if part.healthy:
            state = "[green]healthy[/]"
        elif not part.required:  # an old server: stopped or not answering is not a failure
            state = "running" if part.running else "stopped"
        else:
            state = "[yellow]unhealthy[/]" if part.running else "[red]stopped[/]"
        table.add_row(part.name, state, part.address, str(part.pid or "-"), part.detail)
    console.print(table)
