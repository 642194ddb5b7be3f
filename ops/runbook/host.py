"""What a command lends the runbook services: where state lives, how to reach AWS for an
environment, how to show progress, and who the person at the terminal is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ops.runbook.engine import ProgressCallback
from ops.state import StateDir

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory
    from ops.inventory.environment import Environment


@dataclass
class RunHost:
    state: StateDir
    aws_for: Callable[[Environment], ClientFactory]
    progress: ProgressCallback | None = None
    # Asks the person at the terminal to approve a step: their name, or None (no one there).
    ask: Callable[[str], str | None] | None = None
    # Who runs or approves, by their own word (`--as`): the local world's identity; on AWS
    # the identity is the caller's (STS).
    operator: str | None = None
