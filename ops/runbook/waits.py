"""Waits that learn: how often to poll for something to be ready (a restore, a failover, a
reboot), from how long the same kind of wait took before.

Without history the poll is geometric (1 s, x1.5, at most 10 s). With history, the wait
looks once at once (the thing may be ready already, on a resumed run), sleeps until the
shortest duration seen (less a margin), then spends the calls boto3's waiter would have
made (one per 30 s of the median duration) evenly over the range of durations seen, the
last just past the longest; past it, history was wrong and the geometric poll takes over. Each wait that ends
ready is recorded, by kind and size, in `<state>/waits/history.jsonl`: the next wait of
that kind and size learns from it.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.state import StateDir

FIRST_POLL_S = 1.0
GROWTH = 1.5
MAX_POLL_S = 10.0
# The call budget with history: what boto3's waiters spend (a poll every 30 s), so learning
# costs no more calls than the waiter while noticing sooner.
BUDGET_INTERVAL_S = 30.0
MIN_POLL_S = 1.0
# Durations seen are a sample: the range polled reaches this share of the median beyond them.
MARGIN = 0.01
KEPT = 20  # the last waits of a kind and size that count


def geometric() -> Iterator[float]:
    delay = FIRST_POLL_S
    while True:
        yield delay
        delay = min(delay * GROWTH, MAX_POLL_S)


def poll_delays(history: list[float]) -> Iterator[float]:
    """The sleeps between polls (the first poll is at once), for a wait whose earlier
    durations were `history` (seconds; empty: none known). With history: the polls a 30 s
    waiter would make in the median time, spread evenly over the range the durations
    span (widened by a margin), the last at its end; past it, the geometric poll."""
    if not history:
        yield from geometric()
        return
    median = statistics.median(history)
    earliest, latest = min(history) - MARGIN * median, max(history) + MARGIN * median
    polls = max(1, int(median // BUDGET_INTERVAL_S))
    step = max(MIN_POLL_S, (latest - earliest) / polls)
    first = max(0.0, latest - step * (polls - 1))  # the last poll lands on the longest seen
    if first > 0:
        yield first
    for _ in range(polls - 1):
        yield step
    yield from geometric()


@dataclass(frozen=True)
class WaitHistory:
    """The durations of earlier waits, by kind (`rds-instance available`) and size (what
    makes one faster than another: an instance class and storage)."""

    path: Path

    @classmethod
    def of(cls, state: StateDir) -> WaitHistory:
        return cls(state.root / "waits" / "history.jsonl")

    def durations(self, kind: str, size: str) -> list[float]:
        if not self.path.exists():
            return []
        found: list[float] = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry: Any = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash
            if isinstance(entry, dict) and entry.get("kind") == kind and entry.get("size") == size:
                seconds = entry.get("seconds")
                if isinstance(seconds, int | float) and seconds >= 0:
                    found.append(float(seconds))
        return found[-KEPT:]

    def record(self, kind: str, size: str, seconds: float) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "kind": kind,
            "size": size,
            "seconds": round(seconds, 3),
            "at": datetime.now(UTC).isoformat(),
        }
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
            out.flush()
            os.fsync(out.fileno())
