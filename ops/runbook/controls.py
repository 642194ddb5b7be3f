"""Controls: code the engine calls around each step of a run, as chaostoolkit's controls
are (to observe a run, or to test it: the crash tests kill the process at a chosen point).

A control's hooks run in the engine's process: `before_step` once the step is about to
start (after its approval and stop conditions), `after_step` once its outputs are
journaled, and `checkpoint` whenever the running step calls `ctx.checkpoint(name)` (inside
a long wait, or between what a step does and its journaling). An exception from a hook
stops the run as the step's own would.

`OPS_RUNBOOK_CONTROLS=module:callable[,module:callable...]` names controls for a process
that runs `ops runbook` or `ops drill`: each callable is called without arguments and
returns the control.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from ops.errors import BadInput

if TYPE_CHECKING:
    from ops.runbook.model import RunContext, Step

CONTROLS_ENV = "OPS_RUNBOOK_CONTROLS"


class Control:
    """Every hook does nothing: a control overrides the ones it needs."""

    def before_step(self, ctx: RunContext, step: Step) -> None:
        """The step is about to start."""

    def after_step(self, ctx: RunContext, step: Step) -> None:
        """The step completed and its outputs are journaled."""

    def checkpoint(self, ctx: RunContext, step: Step, name: str) -> None:
        """The running step passed the point it calls `name`."""


def load_control(reference: str) -> Control:
    """`module:callable` -> the control that callable returns."""
    module_name, _, attribute = reference.strip().partition(":")
    if not module_name or not attribute:
        raise BadInput(f"{CONTROLS_ENV}: {reference!r} is not module:callable")
    try:
        factory: Callable[[], Control] = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise BadInput(f"{CONTROLS_ENV}: cannot load {reference!r} ({error})") from error
    control = factory()
    if not isinstance(control, Control):
        raise BadInput(f"{CONTROLS_ENV}: {reference!r} did not return a runbook control")
    return control


def controls_from_environment() -> tuple[Control, ...]:
    """The controls OPS_RUNBOOK_CONTROLS names (none when it is unset)."""
    references = os.environ.get(CONTROLS_ENV, "")
    return tuple(load_control(ref) for ref in references.split(",") if ref.strip())
