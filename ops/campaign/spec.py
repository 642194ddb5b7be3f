"""Campaign files (loadtest/campaigns/*.yaml), validated like the inventory: one line per
problem naming the file, the line and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ops.errors import BadInput
from ops.inventory.problems import data_path, describe, problem_at
from ops.inventory.spec import Slo
from ops.inventory.types import Seconds
from ops.inventory.yamlsource import plain, read_yaml

CAMPAIGNS_DIR = Path(__file__).resolve().parent.parent.parent / "loadtest" / "campaigns"


class AbortRule(BaseModel):
    """Stop the campaign when a live measure stays above a threshold for a window
    (k6's abortOnFail): p95 over Locust's last seconds, or the failure ratio."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    metric: Literal["p95_ms", "error_rate"]
    above: float = Field(ge=0)
    window: Seconds = Field(alias="for")


class Campaign(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    description: str = ""
    target: Literal["ingest"] = "ingest"
    model: Literal["closed"] = "closed"
    users: int = Field(ge=1, le=100_000)
    spawn_rate: float = Field(gt=0)
    duration: Seconds = Field(le=24 * 3600)
    workers: int = Field(default=1, ge=1, le=64)
    think_time: Seconds | None = None
    claim_share: float = Field(default=0.5, ge=0, le=1)
    seed: int = 0
    slo: Slo | None = None  # the environment's `slos.ingest` when absent
    abort: list[AbortRule] = []


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
        lines = [
            str(problem_at(doc, data_path(raw, d["loc"]), describe(d, Campaign)))
            for d in error.errors(include_url=False)
        ]
        raise BadInput("\n".join(lines)) from None
