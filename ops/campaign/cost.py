"""What a Fargate campaign costs: estimated from the task sizes before a launch, and
measured from the tasks' own start and stop times after it. Fargate bills vCPU and memory
per second, with a one-minute minimum per task; FARGATE_SPOT at a discount."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ops.inventory.spec import FargatePrices

MINIMUM_S = 60.0
STARTUP_S = 90.0  # image pull and start-up, billed too


@dataclass(frozen=True)
class TaskSize:
    cpu_units: int  # 1024 = 1 vCPU
    memory_mib: int


@dataclass(frozen=True)
class Cost:
    vcpu_hours: float
    gb_hours: float
    usd: float

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.vcpu_hours + other.vcpu_hours, self.gb_hours + other.gb_hours, self.usd + other.usd)

    def payload(self) -> dict[str, float]:
        return {
            "vcpu_hours": round(self.vcpu_hours, 4),
            "gb_hours": round(self.gb_hours, 4),
            "usd": round(self.usd, 4),
        }


NONE = Cost(0.0, 0.0, 0.0)


@dataclass(frozen=True)
class CampaignCost:
    """What a campaign cost, as its backend answers: the estimate made before the launch
    (none on attach) and what was billed (none when the provider could not say why)."""

    estimate: Cost | None
    actual: Cost | None
    unknown: str = ""  # why the actual cost is unknown, for a warning
    note: str = ""  # said beside the figures in every form (why nothing was billed)

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "estimate": self.estimate.payload() if self.estimate else None,
            "actual": self.actual.payload() if self.actual else None,
        }
        if self.note:
            payload["note"] = self.note
        return payload


def nothing_billed(why: str) -> CampaignCost:
    """A run no provider bills (processes on this machine): $0, with the reason, so every
    form of the report still says what it cost."""
    return CampaignCost(NONE, NONE, note=f"nothing billed: {why}")


def task_cost(size: TaskSize, seconds: float, prices: FargatePrices, spot: bool) -> Cost:
    hours = max(seconds, MINIMUM_S) / 3600
    vcpu_hours, gb_hours = size.cpu_units / 1024 * hours, size.memory_mib / 1024 * hours
    usd = vcpu_hours * prices.vcpu_hour + gb_hours * prices.gb_hour
    return Cost(vcpu_hours, gb_hours, usd * (1 - prices.spot_discount) if spot else usd)


def estimate(
    master: TaskSize, worker: TaskSize, workers: int, duration_s: float, prices: FargatePrices, spot: bool
) -> Cost:
    """Before a launch: every task for the campaign's duration plus its start-up."""
    seconds = duration_s + STARTUP_S
    total = task_cost(master, seconds, prices, spot=False)
    for _ in range(workers):
        total += task_cost(worker, seconds, prices, spot)
    return total


def actual(
    tasks: list[dict[str, Any]],
    prices: FargatePrices,
    sizes: dict[str, TaskSize],
    launched_at: datetime,
    now: datetime | None = None,
) -> Cost:
    """After a launch: each task's billed time, from its start (or our launch, when the API
    does not say) to its stop (or now), at its own size (or the size we asked for)."""
    total = NONE
    for task in tasks:
        began = task.get("pullStartedAt") or task.get("startedAt") or task.get("createdAt") or launched_at
        ended = task.get("stoppedAt") or now or datetime.now(UTC)
        size = sizes.get(task["taskArn"], TaskSize(0, 0))
        if task.get("cpu") and task.get("memory"):
            size = TaskSize(int(task["cpu"]), int(task["memory"]))
        spot = task.get("capacityProviderName") == "FARGATE_SPOT"
        total += task_cost(size, (ended - began).total_seconds(), prices, spot)
    return total
