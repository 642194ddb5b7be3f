"""Campaign files (loadtest/campaigns/*.yaml), validated like the inventory: one line per
problem naming the file, the line and the field."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from loadtest.shape import Plan, Stage
from ops.errors import BadInput
from ops.inventory.problems import Problem, data_path, describe, dotted
from ops.inventory.spec import Slo
from ops.inventory.types import Seconds as InventorySeconds
from ops.inventory.yamlsource import Path as DataPath
from ops.inventory.yamlsource import SourceDoc, plain, read_yaml

CAMPAIGNS_DIR = Path(__file__).resolve().parent.parent.parent / "loadtest" / "campaigns"


def _not_past_float(value: Any) -> Any:
    """An integer no float can hold (`1` and 400 zeros) is refused here: the inventory's
    duration parser converts it with float() and would raise OverflowError."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
        raise ValueError(f"a number of {len(str(abs(value)))} digits is not a finite duration")
    return value


# The inventory's durations ('90s', '5m', or seconds), guarded against integers past float.
Seconds = Annotated[InventorySeconds, BeforeValidator(_not_past_float)]


class AbortRule(BaseModel):
    """Stop the campaign when a live measure stays above a threshold for a window
    (k6's abortOnFail): p95 over Locust's last seconds, or the failure ratio."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)
    metric: Literal["p95_ms", "error_rate"]
    above: float = Field(ge=0, le=1e15)
    window: Seconds = Field(alias="for")


class StageSpec(BaseModel):
    """Ramp linearly to `target` (users, or iterations per second) over `duration`."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    duration: Seconds = Field(gt=0, le=24 * 3600)
    target: float = Field(ge=0, le=1_000_000)


class FargateOptions(BaseModel):
    """How the Fargate backend sizes and places the tasks (the task definitions' sizes when
    unset). The master always runs on demand: losing it loses the run."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    spot: bool = False  # workers on FARGATE_SPOT
    worker_cpu: Literal[256, 512, 1024, 2048, 4096, 8192, 16384] | None = None  # CPU units
    worker_memory: int | None = Field(default=None, ge=512, le=122880)  # MiB


class Campaign(BaseModel):
    """A campaign file. Closed model: `users` and `spawn_rate` held for `duration`, or
    `stages` of users. Open model: a constant `rate` (iterations per second) for `duration`,
    or `start_rate` and `stages` of rates; `max_users` carry the iterations (k6's maxVUs)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    description: str = ""
    target: Literal["ingest"] = "ingest"
    model: Literal["closed", "open"] = "closed"
    users: int | None = Field(default=None, ge=1, le=100_000)
    spawn_rate: float = Field(default=100, gt=0, le=100_000)
    rate: float | None = Field(default=None, gt=0, le=1_000_000)
    start_rate: float = Field(default=0, ge=0, le=1_000_000)
    max_users: int | None = Field(default=None, ge=1, le=100_000)
    stages: list[StageSpec] = []
    duration: Seconds | None = Field(default=None, gt=0, le=24 * 3600)
    workers: int = Field(default=1, ge=1, le=64)
    think_time: Seconds | None = None
    claim_share: float = Field(default=0.5, ge=0, le=1)
    seed: int = 0
    slo: Slo | None = None  # the environment's `slos.ingest` when absent
    abort: list[AbortRule] = []
    fargate: FargateOptions = FargateOptions()

    @model_validator(mode="after")
    def _one_load_shape(self) -> Campaign:
        if self.stages and self.duration is not None:
            raise ValueError("give either stages or duration, not both (stages have their own durations)")
        if not self.stages and self.duration is None:
            raise ValueError("give a duration (or stages)")
        if self.model == "closed":
            if self.rate is not None or self.max_users is not None:
                raise ValueError("rate and max_users belong to the open model (model: open)")
            if not self.stages and self.users is None:
                raise ValueError("a closed campaign needs users (or stages)")
        else:
            if self.users is not None or self.think_time is not None:
                raise ValueError("the open model sets a rate, not users or think_time; use max_users")
            if self.max_users is None:
                raise ValueError("an open campaign needs max_users (the users that carry the iterations)")
            if not self.stages and self.rate is None:
                raise ValueError("an open campaign needs a rate (or start_rate and stages)")
        return self

    @property
    def total_duration(self) -> float:
        return self.plan().duration

    @property
    def peak_users(self) -> int:
        if self.model == "open":
            return self.max_users or 0
        return int(max([self.users or 0, *(s.target for s in self.stages)]))

    def plan(self) -> Plan:
        """What the Locust processes follow (loadtest/shape.py)."""
        if self.model == "open":
            start = self.rate if self.rate is not None else self.start_rate
            stages = [Stage(s.duration, s.target) for s in self.stages] or [Stage(self.duration or 0, start)]
            return Plan("open", start, stages, max_users=self.max_users or 0, workers=self.workers)
        if self.stages:
            stages = [Stage(s.duration, s.target) for s in self.stages]
            return Plan("closed", 0, stages, spawn_rate=self.spawn_rate, workers=self.workers)
        users = float(self.users or 0)
        return Plan(
            "closed",
            users,
            [Stage(self.duration or 0, users)],
            spawn_rate=self.spawn_rate,
            workers=self.workers,
        )


def campaign_path(name_or_file: str) -> Path:
    path = Path(name_or_file)
    if path.suffix in (".yaml", ".yml"):
        return path
    return CAMPAIGNS_DIR / f"{name_or_file}.yaml"


def load_campaign(name_or_file: str) -> Campaign:
    path = campaign_path(name_or_file)
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CAMPAIGNS_DIR.glob("*.yaml")))
        raise BadInput(f"{path}: no such campaign (campaigns: {known})")
    doc = read_yaml(path)
    raw = plain(doc.data)
    try:
        return Campaign.model_validate(raw)
    except ValidationError as error:
        problems = []
        for detail in error.errors(include_url=False):
            where = data_path(raw, detail["loc"])
            problems.append(
                Problem(doc.file, _line_of(doc, where), dotted(where), describe(detail, Campaign))
            )
        raise BadInput("\n".join(str(p) for p in problems)) from None


def _line_of(doc: SourceDoc, path: DataPath) -> int:
    """The 1-based line of the deepest key on `path` the file has. A key a merge brought in
    (`<<: *defaults`) has no line of its own in the mapping that took it: the mapping's line
    stands for it (SourceDoc.line_of raised there)."""
    node, line = doc.data, 1
    for key in path:
        if isinstance(node, CommentedMap) and key in node:
            if isinstance(node.lc.data, dict) and key in node.lc.data:  # None: only merged keys
                line = node.lc.key(key)[0] + 1
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            line = node.lc.item(key)[0] + 1
            node = node[key]
        else:
            break
    return int(line)
