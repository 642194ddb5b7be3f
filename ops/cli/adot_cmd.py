"""`ops adot render | validate`: the collectors' configurations from the inventory, and the
check ADOT itself lacks."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from ops.cli.context import ENV_OPTION, OUTPUT_OPTION, OutputFormat, cli_context
from ops.cli.output import console, print_json
from ops.errors import BadInput
from ops.telemetry.tracing import traced_command

app = typer.Typer(help="ADOT collector configurations: render and validate.", no_args_is_help=True)


class DistributionName(StrEnum):
    collector = "collector"
    lambda_ = "lambda"


class TierName(StrEnum):
    standard = "standard"
    advanced = "advanced"


@app.command()
@traced_command
def validate(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Collector configuration files (YAML)."),
    distribution: DistributionName = typer.Option(
        DistributionName.collector, "--distribution", help="collector (ECS, EC2) or lambda (the layer)."
    ),
    tier: TierName = typer.Option(
        TierName.advanced, "--tier", help="The SSM parameter tier it must fit: standard 4 KB, advanced 8 KB."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Check configurations against the components the distribution ships, pipeline
    references, processor order, required exporter settings and the SSM limits; exit 2
    with one line per problem."""
    from adot.components import DISTRIBUTIONS
    from adot.validate import validate_text
    from ops.util.safe_yaml import YamlRefused, read_text

    lines: list[str] = []
    for file in files:
        try:
            text = read_text(file)
        except YamlRefused as refused:
            lines.append(f"{file}:{refused.line}: (yaml): {refused.reason}")
            continue
        except (OSError, UnicodeDecodeError) as error:
            lines.append(f"{file}: cannot read: {getattr(error, 'strerror', None) or error}")
            continue
        problems = validate_text(text, DISTRIBUTIONS[distribution.value], tier.value)
        lines += [problem.render(str(file)) for problem in problems]
    if lines:
        raise BadInput("\n".join(lines))
    if output is OutputFormat.json:
        print_json({"valid": [str(f) for f in files]})
    else:
        console.print(
            f"[green]valid[/]: {', '.join(str(f) for f in files)} ({distribution.value}, {tier.value} tier)"
        )


@app.command()
@traced_command
def render(
    ctx: typer.Context,
    env: str = ENV_OPTION,
    out: Path | None = typer.Option(
        None, "--out", help="Write <collector>.yaml files here instead of printing."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """The configuration of every collector of the environment, generated from the inventory."""
    from adot.generate import collector_configs

    configs = collector_configs(cli_context(ctx).environment(env))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, (_, text, _) in configs.items():
            (out / f"{name}.yaml").write_text(text)
    if output is OutputFormat.json:
        print_json({name: {"mode": c.mode, "yaml": text} for name, (c, text, _) in configs.items()})
        return
    for name, (collector, text, _) in configs.items():
        if out is not None:
            console.print(f"{out / f'{name}.yaml'} ({collector.mode}, {len(text.encode())} bytes)")
        else:
            console.print(f"# --- {name} ({collector.mode}) ---", markup=False)
            console.print(text, markup=False, highlight=False)
