"""Waits that learn (ops/runbook/waits.py, runbooks/common/rds_wait.py): the poll schedule
with and without history, and a wait that records how long it took so that the next one of
the same kind and size polls by it. Time is a simulated clock; the describe answers are a
function of it."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from ops.errors import OpsError
from ops.runbook.waits import BUDGET_INTERVAL_S, MARGIN, WaitHistory, geometric, poll_delays
from runbooks.common.rds_wait import Learning, poll_status

KIND = "rds-instance restore available"


class Restore:
    """An instance that is `creating` until `ready_at` on a clock that moves when slept."""

    def __init__(self, ready_at: float, size: tuple[str, int] = ("db.r6g.large", 200)) -> None:
        self.now, self.ready_at, self.calls, self.size = 0.0, ready_at, 0, size

    def describe(self, _identifier: str) -> dict[str, Any]:
        self.calls += 1
        status = "available" if self.now >= self.ready_at else "creating"
        return {
            "DBInstanceStatus": status,
            "Engine": "postgres",
            "DBInstanceClass": self.size[0],
            "AllocatedStorage": self.size[1],
        }

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def wait(self, learning: Learning | None, timeout: float = 7200) -> float:
        """How late the restore was noticed."""
        poll_status(self.describe, "db", ("available",), timeout, lambda: self.now, self.sleep, learning)
        return self.now - self.ready_at


def test_without_history_the_poll_is_geometric() -> None:
    assert list(itertools.islice(poll_delays([]), 7)) == [1.0, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10.0]


@pytest.mark.parametrize("median", [20.0, 95.0, 600.0, 1800.0])
def test_with_history_the_polls_are_the_waiters_budget_over_the_range_seen_the_last_on_the_longest(
    median: float,
) -> None:
    history = [median * 0.96, median, median * 1.04]
    delays = poll_delays(history)
    budget = max(1, int(median // BUDGET_INTERVAL_S))
    times = list(itertools.accumulate(itertools.islice(delays, budget)))
    margin = MARGIN * median
    assert times[-1] == pytest.approx(max(history) + margin)  # the last just past the longest seen
    assert times[0] >= min(history) - margin - 1e-9
    after = list(itertools.islice(delays, 3))
    assert after == list(itertools.islice(geometric(), 3))  # past the longest: geometric again


def test_a_wait_records_its_duration_and_the_next_of_that_kind_and_size_polls_by_it(tmp_path: Path) -> None:
    learning = Learning(WaitHistory(tmp_path / "history.jsonl"), KIND)
    first = Restore(ready_at=600)
    first.wait(learning)
    size = "postgres/db.r6g.large/200"
    assert learning.history.durations(KIND, size) == [pytest.approx(first.now)]
    second = Restore(ready_at=605)
    late = second.wait(learning)
    # Learned: no more calls than a 30 s waiter (21 in 600 s; the geometric wait made 65),
    # noticed within the spacing of its polls (3 s here).
    assert second.calls <= 600 // 30 + 1 < first.calls and late <= 3.0 + 1e-9
    # Another size learns nothing from it; neither does another kind.
    assert learning.history.durations(KIND, "postgres/db.r6g.2xlarge/1000") == []
    assert learning.history.durations("rds-instance rename available", size) == []


def test_history_that_was_wrong_falls_back_to_the_geometric_poll(tmp_path: Path) -> None:
    learning = Learning(WaitHistory(tmp_path / "history.jsonl"), KIND)
    size = "postgres/db.r6g.large/200"
    for seconds in (60.0, 62.0, 61.0):
        learning.history.record(KIND, size, seconds)
    late = Restore(ready_at=300).wait(learning)  # five times longer than ever seen
    assert late <= 10.0  # polled at most 10 s apart once past what history said


def test_the_timeout_still_holds_when_history_says_longer(tmp_path: Path) -> None:
    learning = Learning(WaitHistory(tmp_path / "history.jsonl"), KIND)
    learning.history.record(KIND, "postgres/db.r6g.large/200", 5000.0)
    restore = Restore(ready_at=10_000)
    with pytest.raises(OpsError, match="was not available within 600 s"):
        restore.wait(learning, timeout=600)
    assert restore.now == pytest.approx(600)  # it slept to the deadline, not to the 5000 s seen


def test_a_cut_or_foreign_line_in_the_history_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history = WaitHistory(path)
    history.record(KIND, "s", 12.0)
    with path.open("a") as out:
        out.write(
            '{"kind": "' + KIND + '", "size": "s", "seconds": -4}\n[1, 2]\n{"kind": "' + KIND + '", "si'
        )
    assert history.durations(KIND, "s") == [12.0]
