"""Options every command shares, set once by the root callback."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import typer

from ops.aws.clients import AwsTarget, ClientFactory
from ops.errors import BadInput
from ops.inventory import Environment, load_inventory
from ops.inventory.loader import default_inventory_path
from ops.local.emulator import emulator_target
from ops.local.platform import require_running
from ops.state import StateDir


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

    def aws_for(self, env: Environment) -> ClientFactory:
        """Clients for an environment: the emulator of the local platform, or AWS with the
        user's profile and region (the inventory's region by default), checked against the
        environment's account so that a wrong profile cannot touch another account."""
        if env.provider == "local":
            record = require_running(self.state())
            return ClientFactory(emulator_target(record.emulator_port, env.region))
        factory = ClientFactory(self.aws.with_defaults(region=env.region))
        if env.meta.account_id:
            account = factory.client("sts").get_caller_identity()["Account"]
            if account != env.meta.account_id:
                raise BadInput(
                    f"{env.source}: environments.{env.name}.account_id is {env.meta.account_id}, "
                    f"but the credentials are for account {account}; use the right --profile"
                )
        return factory


def cli_context(ctx: typer.Context) -> CliContext:
    found = ctx.find_object(CliContext)
    if found is None:  # a command invoked without the root callback (tests, embedding)
        found = CliContext(default_inventory_path(), None, AwsTarget())
    return found


# Options reused by several commands.
ENV_OPTION = typer.Option("local", "--env", "-e", help="Environment of the inventory.")
OUTPUT_OPTION = typer.Option(OutputFormat.text, "--output", "-o", help="text or json.")
