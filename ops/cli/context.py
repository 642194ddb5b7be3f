"""Options every command shares, set once by the root callback.

Every command module imports this one at start-up, `ops --help` included: what a method
needs (the inventory's models, boto3, the local platform) it imports when it runs."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ops.aws.clients import AwsTarget
from ops.errors import BadInput
from ops.state import StateDir

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory
    from ops.inventory import Environment


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


@dataclass
class CliContext:
    inventory_option: Path | None  # --inventory (or OPS_INVENTORY); None: the default file
    state_dir: Path | None
    aws: AwsTarget

    @property
    def inventory(self) -> Path:
        # The loader brings the inventory's models: only commands that read the inventory pay.
        from ops.inventory.loader import default_inventory_path

        return self.inventory_option or default_inventory_path()

    def environment(self, name: str, file: Path | None = None) -> Environment:
        """An environment of the inventory, refused (exit 2) when a name derived from it is
        one AWS would refuse: before any command acts on it."""
        from ops.inventory import load_inventory
        from ops.kinds.naming import naming_problems

        inventory = load_inventory(file or self.inventory)
        env = inventory.environment(name)
        problems = naming_problems(env)
        if problems:
            raise inventory.invalid(name, problems)
        return env

    def state(self) -> StateDir:
        """The state folder, refused (exit 2, nothing written) when it cannot hold state."""
        state = StateDir(self.state_dir)
        problem = state.problem()
        if problem:
            raise BadInput(
                f"state folder {state.root} {problem}; pass --state-dir (or OPS_STATE_DIR) with a "
                "folder you can write to"
            )
        return state

    def aws_for(self, env: Environment) -> ClientFactory:
        """Clients for an environment: the emulator of the local platform, or AWS with the
        user's profile and region (the inventory's region by default), checked against the
        environment's account so that a wrong profile cannot touch another account."""
        from ops.aws.clients import ClientFactory

        if env.provider == "local":
            from ops.local.emulator import emulator_target
            from ops.local.platform import require_running

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
        found = CliContext(None, None, AwsTarget())
    return found


# Options reused by several commands.
ENV_OPTION = typer.Option("local", "--env", "-e", help="Environment of the inventory.")
OUTPUT_OPTION = typer.Option(OutputFormat.text, "--output", "-o", help="text or json.")
