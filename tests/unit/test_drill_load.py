"""Drills under load, without Locust: the banded line chart, the steps' bands from a journal,
the load's seconds from Locust's stats history, the campaign's load over a fake backend
(started, stopped, cleaned up by the campaign engine), and the drill service around a fake
load: flowing before the first step, stopped after the teardown, whatever ended the drill."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from pydantic import BaseModel

from ops.campaign.backend import FinalStats, LiveStats
from ops.campaign.spec import Campaign
from ops.cli.drill_load import CampaignLoad, points_from_history
from ops.errors import OpsError
from ops.inventory.environment import Environment
from ops.inventory.loader import load_inventory
from ops.runbook.drill import DrillHost, read_history, run_drill
from ops.runbook.drill_load import LoadOutcome, LoadPoint, load_per_band, step_bands
from ops.runbook.model import Runbook, RunContext, Step, StepKind
from ops.state import StateDir
from ops.util.processes import wait_until
from tests.helpers import INVENTORY


# --- the steps as bands ------------------------------------------------------------------------
def _at(second: float) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=second)).isoformat()


def test_steps_are_bands_from_the_journal_then_the_teardown() -> None:
    origin = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    events = [
        {"at": _at(1), "event": "run-started"},
        {"at": _at(2), "event": "step-started", "step": "check"},
        {"at": _at(3), "event": "step-completed", "step": "check"},
        {"at": _at(3.5), "event": "step-started", "step": "restore"},
        {"at": _at(9), "event": "step-completed", "step": "restore"},
        {"at": _at(9.5), "event": "step-started", "step": "validate"},
        {"at": _at(10), "event": "step-failed", "step": "validate"},
        {"at": _at(12), "event": "step-rolled-back", "step": "restore"},
        {"at": _at(12.5), "event": "run-failed"},
    ]
    assert step_bands(events, origin, origin + 20) == [
        ("check", 2.0, 3.0),
        ("restore", 3.5, 9.0),
        ("validate", 9.5, 10.0),
        ("teardown", 10.0, 12.0),
    ]
    # A step cut short (SIGKILL-free interrupt, say) ends at the next entry.
    cut = [*events[:6], {"at": _at(11), "event": "step-rolled-back", "step": "restore"}]
    assert step_bands(cut, origin, origin + 20)[2] == ("validate", 9.5, 11.0)


def test_each_step_gets_the_worst_of_the_seconds_that_overlap_it() -> None:
    origin = 1000.0
    points = [
        LoadPoint(1001, 10, 0, 0.0, 20.0),
        LoadPoint(1002, 10, 5, 0.25, 80.0),
        LoadPoint(1003, 10, 0, 0.1, 50.0),
        LoadPoint(1004, 0, 0, None, None),
    ]
    restore, validate, idle = load_per_band(
        points, [("restore", 0.5, 2.2), ("validate", 2.5, 2.6), ("idle", 3.2, 3.9)], origin
    )
    assert (restore.seconds, restore.error_rate_max, restore.p95_max_ms) == (3, 0.25, 80.0)
    assert (validate.seconds, validate.error_rate_max, validate.p95_max_ms) == (1, 0.1, 50.0)
    assert (idle.seconds, idle.error_rate_max, idle.p95_max_ms) == (1, None, None)


# --- Locust's stats history --------------------------------------------------------------------
HEADER = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,95%,Total Request Count,Total Failure Count\n"


def test_seconds_from_the_stats_history_with_a_trailing_error_rate() -> None:
    rows = [(100, "N/A", 0, 0), (101, "N/A", 0, 0), (102, 30, 90, 0), (103, 30, 90, 0), (104, 40, 100, 10)]
    text = HEADER + "".join(f"{t},3,,Aggregated,0,0,{p95},{n},{f}\n" for t, p95, n, f in rows)
    text += "104,3,POST,/ingest,0,0,40,100,10\n"  # a row per endpoint (--csv-full-history): skipped
    points = points_from_history(text, window=3)
    assert [p.at for p in points] == [101, 102, 103, 104]
    assert [(p.requests, p.failures) for p in points] == [(0, 0), (90, 0), (0, 0), (10, 10)]
    assert [p.p95_ms for p in points] == [None, 30, 30, 40]
    # Over the 3 s before each second: none yet; 0 of 90; 0 of 90; 10 of 100 (101 -> 104).
    assert [p.error_rate for p in points] == [None, 0.0, 0.0, 0.1]
    assert points_from_history("") == []


# --- the campaign's load over a fake backend -----------------------------------------------------
class FakeBackend:
    """Live readings until the plan ends (`readings`) or until stopped."""

    name = "local"

    def __init__(self, readings: int | None) -> None:
        self.readings = readings
        self.stopped = threading.Event()
        self.cleaned = False
        # Its master "runs" (this process) until the plan ends or it is stopped.
        self.master: psutil.Process | None = psutil.Process() if readings is None else None

    def start(self) -> None:
        pass

    def scale(self, workers: int) -> None:
        pass

    def stream(self) -> Iterator[LiveStats]:
        count = 0
        while not self.stopped.is_set() and (self.readings is None or count < self.readings):
            count += 1
            yield LiveStats(count, 1, 10.0, 0.0, 5.0, 9.0, 10 * count, 0, 0)
            self.stopped.wait(0.01)

    def stop(self) -> None:
        self.stopped.set()

    def finish(self) -> FinalStats:
        stats = [
            {
                "num_requests": 30,
                "num_failures": 0,
                "response_times": {"5": 30},
                "start_time": 1.0,
                "last_request_timestamp": 2.0,
            }
        ]
        return FinalStats(stats=stats, history_csv="", arrivals={})

    def cleanup(self) -> None:
        self.cleaned = True

    def cost(self) -> None:
        return None


def _campaign_load(tmp_path: Path, backend: FakeBackend) -> CampaignLoad:
    env = load_inventory(INVENTORY).environment("local")
    spec = Campaign(name="fake", users=1, duration=60)
    load = CampaignLoad(spec, env, "http://127.0.0.1:9", tmp_path)
    load.backend = backend  # type: ignore[assignment]
    return load


def test_a_load_longer_than_the_drill_is_stopped_by_the_engine_and_cleaned_up(tmp_path: Path) -> None:
    backend = FakeBackend(readings=None)
    load = _campaign_load(tmp_path, backend)
    load.start()
    seen = load.stop()
    assert backend.stopped.is_set() and backend.cleaned
    assert (seen.requests, seen.failures, seen.slo_met, seen.stopped_by_drill) == (30, 0, True, True)
    assert (Path(seen.folder) / "results.json").exists()  # the campaign engine's own results


def test_a_load_shorter_than_the_drill_ends_by_itself(tmp_path: Path) -> None:
    backend = FakeBackend(readings=2)
    load = _campaign_load(tmp_path, backend)
    load.start()
    wait_until(lambda: not load._thread.is_alive(), 10, "the campaign's end")
    seen = load.stop()
    assert not backend.stopped.is_set() and backend.cleaned and seen.stopped_by_drill is False


def test_a_load_that_never_flows_fails_its_start(tmp_path: Path) -> None:
    load = _campaign_load(tmp_path, FakeBackend(readings=0))
    with pytest.raises(OpsError, match=r"^load fake-\S+ ended before its requests flowed"):
        load.start()


# --- the drill service around a load -------------------------------------------------------------
class _Params(BaseModel):
    pass


class OneStepRunbook(Runbook):
    name = "rds-pitr"
    summary = "one step that notes whether the load flows"
    params_model = _Params

    def __init__(self, load: FakeLoad) -> None:
        self.load = load

    def target(self, env: Environment, params: Any) -> str:
        return "one-step"

    def steps(self, env: Environment, params: Any) -> list[Step]:
        def act(ctx: RunContext) -> dict[str, Any]:
            self.load.calls.append("step")
            return {}

        return [Step("act", StepKind.ACTION, "act", (), act, None)]

    def outputs(self, ctx: RunContext) -> dict[str, Any]:
        return {"RecoveryTime": 1.0, "RPOSeconds": 0.0}

    def drill_params(self, env: Environment, component: str, at: datetime, drill_id: str) -> dict[str, Any]:
        return {}


class FakeLoad:
    campaign = "fake"
    campaign_id = "fake-20260101T000000Z-0000"

    def __init__(self, fail_at: str = "") -> None:
        self.calls: list[str] = []
        self.fail_at = fail_at

    def start(self) -> None:
        self.calls.append("start")
        if self.fail_at == "start":
            raise OpsError("load fake: no request within 90 s")

    def stop(self) -> LoadOutcome:
        self.calls.append("stop")
        if self.fail_at == "stop":
            raise OpsError("load fake: no verdict")
        point = LoadPoint(datetime.now(UTC).timestamp(), 10, 0, 0.0, 12.0)
        return LoadOutcome("fake", self.campaign_id, "folder", 60.0, True, 10, 0, True, [], points=[point])


class _CloudWatch:
    def put_metric_data(self, **_fields: Any) -> None:
        pass


class _Aws:
    def client(self, _name: str) -> _CloudWatch:
        return _CloudWatch()


def _drill(tmp_path: Path, load: FakeLoad) -> tuple[StateDir, Any]:
    env = load_inventory(INVENTORY).environment("local")
    state = StateDir(tmp_path / "state")
    runbook = OneStepRunbook(load)
    host = DrillHost(state, lambda _env: _Aws(), lambda _name: runbook, lambda _name: env)
    return state, run_drill(host, env, runbook, "warehouse", load)


def test_the_load_flows_before_the_first_step_and_stops_after_the_teardown(tmp_path: Path) -> None:
    load = FakeLoad()
    state, result = _drill(tmp_path, load)
    assert load.calls == ["start", "step", "stop"]
    assert result.success and result.load["campaign_id"] == load.campaign_id
    assert result.load["slo_met"] is True and result.load["stopped_by_drill"] is True
    (entry,) = read_history(state)
    assert entry["load"] == result.load and "points" not in entry["load"]
    html = Path(result.report).read_text()
    assert 'data-label="act"' in html and "What users saw during each step" in html


def test_a_load_that_does_not_start_fails_the_drill_and_is_still_stopped(tmp_path: Path) -> None:
    load = FakeLoad(fail_at="start")
    _, result = _drill(tmp_path, load)
    assert load.calls == ["start", "stop"]  # no step ran without its load
    assert (result.status, result.error) == ("failed", "load fake: no request within 90 s")


def test_a_load_that_fails_at_its_end_leaves_the_drill_as_it_was(tmp_path: Path) -> None:
    load = FakeLoad(fail_at="stop")
    _, result = _drill(tmp_path, load)
    assert result.success and result.load["error"] == "load fake: no verdict"
    assert Path(result.report).exists()
