"""Runbooks and their steps."""

from __future__ import annotations

import itertools
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from ops.errors import BadInput
from ops.inventory.environment import Environment
from ops.state import StateDir

if TYPE_CHECKING:
    from ops.runbook.controls import Control


class StepKind(StrEnum):
    CHECK = "check"  # reads only; runs in a dry run too
    ACTION = "action"  # changes something; may have a rollback
    WAIT = "wait"  # polls until a condition holds
    VERIFY = "verify"  # checks the outcome of actions
    APPROVAL = "approval"  # a person says go (protected environments)


@dataclass
class RunContext:
    """What a step sees: the run, its parameters, and what earlier steps produced."""

    run_id: str
    env: Environment
    params: Any
    state: StateDir
    execute: bool
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    approver: str | None = None
    started_at: str = ""  # when the run (its first attempt) started: RTO counts from here
    # The ClientFactory of a cloud environment; locally, the emulator's, made by the provider
    # on first use and kept here so that the steps and the stop conditions share one session.
    aws: Any = None
    controls: tuple[Control, ...] = ()
    step: Step | None = None  # the step that runs now (set by the engine)
    # What steps noted before they finished (see `note`), by step; from the journal.
    notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Journals a note of the running step (set by the engine).
    record_note: Callable[[str, dict[str, Any]], None] | None = None
    # Shows what a wait last observed, and how long it is expected to take (set by the
    # engine from the command's progress display; None: nobody watches).
    watcher: Callable[[Step, str, float | None], None] | None = None

    def watch(self, observed: str, expected: float | None = None) -> None:
        """A wait's last observation (a status, a lag) and its expected duration in seconds
        (from the wait history), for the live line of the terminal."""
        if self.step is not None and self.watcher is not None:
            self.watcher(self.step, observed, expected)

    def output(self, step: str, key: str) -> Any:
        return self.outputs[step][key]

    def note(self, **fields: Any) -> None:
        """Journal what the running step is about to change (the value it replaces), before
        it changes it: if the run stops inside the step, its rollback undoes the change from
        the note, and a resumed step reads it back with `noted`. Never a secret."""
        if self.step is None:
            return
        self.notes.setdefault(self.step.id, {}).update(fields)
        if self.record_note is not None:
            self.record_note(self.step.id, fields)

    def noted(self, key: str, default: Any = None) -> Any:
        """What the running step noted under `key` in an earlier attempt (or this one)."""
        if self.step is None:
            return default
        return self.notes.get(self.step.id, {}).get(key, default)

    def checkpoint(self, name: str) -> None:
        """A point inside the running step the controls may act at (a long wait's start,
        a change made but not journaled yet)."""
        if self.step is None:
            return
        for control in self.controls:
            control.checkpoint(self, self.step, name)


StepFunction = Callable[[RunContext], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    title: str
    calls: tuple[str, ...]  # the API calls or commands it makes: the plan and the IAM policy
    run: StepFunction
    # Undoes the step; may return what it kept (journaled with the rollback), e.g. a
    # final snapshot of a deleted database.
    rollback: Callable[[RunContext], dict[str, Any] | None] | None = None
    # Needs the source alive (a health check of the old primary, a graceful drain):
    # skipped in an unplanned run, where the source is dead (an MSK region failover).
    needs_source: bool = False
    # The calls its rollback makes: the IAM policy grants them too (a role that can change
    # something but not undo it leaves a run half done).
    rollback_calls: tuple[str, ...] = ()

    @property
    def runs_in_dry_run(self) -> bool:
        return self.kind is StepKind.CHECK


@dataclass(frozen=True)
class StopCondition:
    """Checked before every action and wait: a reason to stop (and roll back), or None.
    E.g. an alarm that fires, replication lag over the objective."""

    name: str
    check: Callable[[RunContext], str | None]
    calls: tuple[str, ...] = ()  # what the check calls, for the IAM policy (as a step's calls)


@dataclass(frozen=True)
class IamGrant:
    """Where a runbook's AWS calls act, for its IAM policy: names of one AWS resource type
    (`<service>:<type>` as AWS's Service Authorization Reference names it: `rds:db`,
    `ssm:parameter`, `secretsmanager:Secret`), each the part of the ARN after its fixed
    prefix (globs allowed), for the listed actions only."""

    resource: str
    names: tuple[str, ...]
    actions: tuple[str, ...]
    # (IAM condition operator, key, values), e.g. ("StringEquals", "cloudwatch:namespace", (...,))
    condition: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    # The resources' region when not the environment's (a DR cluster, its replicator).
    region: str | None = None


def mode_values(annotation: Any) -> tuple[Any, ...] | None:
    """The values a mode parameter takes (a Literal's or a bool's), None for any other."""
    if annotation is bool:
        return (True, False)
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return None


class Runbook(ABC):
    name: str
    summary: str
    params_model: type[BaseModel]
    # Values for required parameters that no step's calls depend on (a target time), so
    # that every mode can be enumerated without them (`ops runbook iam`).
    placeholders: ClassVar[dict[str, Any]] = {}

    @abstractmethod
    def target(self, env: Environment, params: Any) -> str:
        """What the run acts on: one run per target at a time (the lock's key)."""

    @abstractmethod
    def steps(self, env: Environment, params: Any) -> list[Step]: ...

    def outputs(self, ctx: RunContext) -> dict[str, Any]:
        """The run's outputs for its report (RecoveryTime, RecoveryPoint...)."""
        return {}

    def stop_conditions(self, env: Environment, params: Any) -> list[StopCondition]:
        return []

    def objective_component(self, env: Environment, params: Any) -> str | None:
        """The inventory component whose DR objectives the run's RTO and RPO answer to."""
        component = getattr(params, "component", None)
        return component if isinstance(component, str) else None

    def objectives(self, env: Environment, params: Any) -> dict[str, Any]:
        """The objectives the run is judged by (journaled at its start, so that its report
        can be made again from the journal alone): component, rto and rpo in seconds."""
        component = self.objective_component(env, params)
        objective = env.spec.objectives.get(component) if component else None
        if objective is None:
            return {}
        return {"component": component, "rto": objective.rto, "rpo": objective.rpo}

    def unplanned(self, params: Any) -> bool:
        """True when the run must not touch the source (it is down)."""
        return bool(getattr(params, "unplanned", False))

    # --- drills: runs that prove an objective and never touch production traffic --------
    # The component kinds a drill of this runbook exercises (none: it has no drill).
    drills: ClassVar[frozenset[str]] = frozenset()

    def drill_params(self, env: Environment, component: str, at: datetime, drill_id: str) -> dict[str, Any]:
        raise BadInput(f"runbook {self.name} has no drill")

    # --- every mode: what the IAM policy covers ----------------------------------------
    def grants(self, env: Environment, params: Any) -> list[IamGrant]:
        """The resources its AWS calls act on, with these parameters (the IAM policy)."""
        return []

    def modes(self, given: dict[str, Any]) -> list[BaseModel]:
        """The parameters of every mode: each combination of the Literal and bool
        parameters, the others at their default (a required one at its placeholder);
        `given` fixes any of them (a narrowing)."""
        fields = self.params_model.model_fields
        unknown = sorted(set(given) - set(fields))
        if unknown:
            raise BadInput(f"--param {unknown[0]}: unknown parameter; known: {', '.join(fields)}")
        fixed = {**self.placeholders, **given}
        varying = {
            name: choices
            for name, info in fields.items()
            if name not in fixed and (choices := mode_values(info.annotation)) is not None
        }
        modes = []
        for values in itertools.product(*varying.values()):
            raw = {**fixed, **dict(zip(varying, values, strict=True))}
            try:
                modes.append(self.params_model.model_validate(raw))
            except ValidationError as error:
                detail = error.errors(include_url=False)[0]
                where = ".".join(str(p) for p in detail["loc"]) or "params"
                raise BadInput(f"--param {where}: {detail['msg']}") from None
        return modes

    def all_steps(self, env: Environment, given: dict[str, Any]) -> list[tuple[BaseModel, list[Step]]]:
        """The steps of every mode the environment supports, with each mode's parameters.
        A mode the environment refuses (an Aurora rename swap) is left out, unless the
        narrowing leaves no other: then its refusal is the answer."""
        found: list[tuple[BaseModel, list[Step]]] = []
        refusals: list[BadInput] = []
        for params in self.modes(given):
            try:
                found.append((params, self.steps(env, params)))
            except BadInput as refusal:
                refusals.append(refusal)
        if not found and refusals:
            raise refusals[0]
        return found
