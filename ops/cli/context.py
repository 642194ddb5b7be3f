"""Options every command shares, set once by the root callback."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import typer

from ops.aws.clients import AwsTarget
from ops.inventory import Environment, load_inventory
from ops.inventory.loader import default_inventory_path
from ops.local.state import StateDir


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass
class CliContext:
    inventory: Path
    state_dir: Path | None
    aws: AwsTarget

    def environment(self, name: str, file: Path | None = None) -> Environment:
        return load_inventory(file or self.inventory).environment(name)

    def state(self) -> StateDir:
        return StateDir(self.state_dir)


def cli_context(ctx: typer.Context) -> CliContext:
    found = ctx.find_object(CliContext)
    if found is None:  # a command invoked without the root callback (tests, embedding)
        found = CliContext(default_inventory_path(), None, AwsTarget())
    return found


# Options reused by several commands.
ENV_OPTION = typer.Option("local", "--env", "-e", help="Environment of the inventory.")
OUTPUT_OPTION = typer.Option(OutputFormat.text, "--output", "-o", help="text or json.")
