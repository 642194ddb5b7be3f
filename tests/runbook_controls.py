"""A runbook control for the crash tests: it kills the `ops` process at a chosen point of a
run, as a dead laptop would (SIGKILL), or stops it as an operator's Ctrl-C or a stopping
container would (SIGTERM, with `sigterm-` before the point).

Points: `before:<step>`, `after:<step>` (around the step, as the engine journals it) and
`during:<step>` (where the step calls `ctx.checkpoint`: the restore promoted but not yet
journaled, the middle of a wait). A subprocess gets it with `kill_at_env(point)`."""

from __future__ import annotations

import os
import signal

from ops.runbook.controls import CONTROLS_ENV, Control
from ops.runbook.model import RunContext, Step

KILL_AT_ENV = "OPS_TEST_KILL_AT"


class KillAt(Control):
    def __init__(self, point: str) -> None:
        self.point = point

    def _reached(self, where: str) -> None:
        if self.point == where:
            os.kill(os.getpid(), signal.SIGKILL)
        elif self.point == f"sigterm-{where}":
            os.kill(os.getpid(), signal.SIGTERM)

    def before_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"before:{step.id}")

    def after_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"after:{step.id}")

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        self._reached(f"during:{step.id}")


def kill_at() -> KillAt:
    """The control OPS_RUNBOOK_CONTROLS names: the point comes from OPS_TEST_KILL_AT."""
    return KillAt(os.environ.get(KILL_AT_ENV, ""))


def kill_at_env(point: str) -> dict[str, str]:
    """The variables that make an `ops runbook` process die at `point`."""
    return {CONTROLS_ENV: f"{__name__}:kill_at", KILL_AT_ENV: point}
