"""A runbook's step table: each step declared once, in order, with what it says and the
calls it makes on each provider (local, aws), the provider's method that undoes it and the
calls that undo makes. A provider is an object with a method per step
(`runbooks/<name>/local.py`, `aws.py`); the table turns into the steps of one provider's run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ops.runbook.model import RunContext, Step, StepKind


@dataclass(frozen=True)
class Says:
    """A step on one provider: its title, the calls it makes and the calls its undo makes
    (the plan and the IAM policy)."""

    title: str
    calls: tuple[str, ...] = ()
    undo_calls: tuple[str, ...] = ()


def always(_params: Any) -> bool:
    return True


# What a step says on a provider: fixed, or from the provider (when its calls depend on
# the parameters).
Saying = Says | Callable[[Any], Says]


@dataclass(frozen=True)
class StepRow:
    """One step. The provider's method that runs it is named after it (`check-source`:
    `check_source`); an approval runs nothing. A provider the row says nothing for
    (`local`, `aws`) has no such step."""

    id: str
    kind: StepKind
    local: Saying | None = None
    aws: Saying | None = None
    undo: str | None = None  # the provider's method that rolls the step back
    when: Callable[[Any], bool] = always  # from the parameters: is the step in the plan
    needs_source: bool = False  # skipped by an unplanned run (ops.runbook.model.Step)

    def says(self, provider_name: str, provider: object) -> Says | None:
        says: Saying | None = getattr(self, provider_name)
        if says is None or isinstance(says, Says):
            return says
        return says(provider)


def _nothing(_ctx: RunContext) -> dict[str, Any]:
    return {}


def steps_of(table: Sequence[StepRow], provider_name: str, provider: object, params: Any) -> list[Step]:
    """The steps of a run on `provider` (named `provider_name`) with these parameters."""
    steps = []
    for row in table:
        says = row.says(provider_name, provider) if row.when(params) else None
        if says is None:
            continue
        run = _nothing if row.kind is StepKind.APPROVAL else getattr(provider, row.id.replace("-", "_"))
        undo = getattr(provider, row.undo) if row.undo else None
        steps.append(
            Step(
                row.id,
                row.kind,
                says.title,
                says.calls,
                run,
                undo,
                needs_source=row.needs_source,
                rollback_calls=says.undo_calls,
            )
        )
    return steps
