"""A runbook control for the rollback tests: it fails the run at a chosen point, as a
step's own error would (an AWS call refused, a check that does not hold), so the tests can
stop a run after its cutover without breaking the emulator.

Points as in tests/runbook_controls.py: `before:<step>`, `after:<step>`, `during:<step>`.
A subprocess gets it with `fail_at_env(point)`."""

from __future__ import annotations

import os

from ops.errors import OpsError
from ops.runbook.controls import CONTROLS_ENV, Control
from ops.runbook.model import RunContext, Step

FAIL_AT_ENV = "OPS_TEST_FAIL_AT"


class FailAt(Control):
    def __init__(self, point: str) -> None:
        self.point = point

    def _reached(self, where: str) -> None:
        if self.point == where:
            raise OpsError(f"injected failure at {where}")

    def before_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"before:{step.id}")

    def after_step(self, ctx: RunContext, step: Step) -> None:
        self._reached(f"after:{step.id}")

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        self._reached(f"during:{step.id}")


def fail_at() -> FailAt:
    """The control OPS_RUNBOOK_CONTROLS names: the point comes from OPS_TEST_FAIL_AT."""
    return FailAt(os.environ.get(FAIL_AT_ENV, ""))


def fail_at_env(point: str) -> dict[str, str]:
    """The variables that make an `ops runbook` process fail at `point`."""
    return {CONTROLS_ENV: f"{__name__}:fail_at", FAIL_AT_ENV: point}
