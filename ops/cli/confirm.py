"""One confirmation for changes to a protected environment: a prompt in a terminal, the
`--auto-approve` flag elsewhere (CI, cron)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from ops.errors import BadInput, ExitCode, OpsError

if TYPE_CHECKING:
    from ops.inventory.environment import Environment


def confirm_protected(env: Environment, question: str, what: str) -> None:
    if not sys.stdin.isatty():
        raise BadInput(
            f"environment {env.name!r} is protected: review the plan and pass --auto-approve, "
            f"or run it in a terminal to confirm"
        )
    if not typer.confirm(f"{question} (protected environment {env.name!r})"):
        raise OpsError(f"not {what}: confirmation declined", ExitCode.FAILURE)
