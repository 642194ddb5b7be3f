"""A runbook control for the local rollback tests: a step failure injected at a chosen point
(`before:<step>`), as a failed health check or an API error would stop the run there. A
subprocess gets it with `fail_at_env(point)`."""

from __future__ import annotations

import os

from ops.errors import OpsError
from ops.runbook.controls import CONTROLS_ENV, Control
from ops.runbook.model import RunContext, Step

FAIL_AT_ENV = "OPS_TEST_FAIL_AT"


class FailAt(Control):
    def __init__(self, point: str) -> None:
        self.point = point

    def before_step(self, ctx: RunContext, step: Step) -> None:
        if self.point == f"before:{step.id}":
            raise OpsError(f"injected failure before {step.id} (tests/local_controls.py)")


def fail_at() -> FailAt:
    """The control OPS_RUNBOOK_CONTROLS names: the point comes from OPS_TEST_FAIL_AT."""
    return FailAt(os.environ.get(FAIL_AT_ENV, ""))


def fail_at_env(point: str) -> dict[str, str]:
    """The variables that make an `ops runbook` process fail at `point`."""
    return {CONTROLS_ENV: f"{__name__}:fail_at", FAIL_AT_ENV: point}
