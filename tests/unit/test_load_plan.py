"""The load plan's arithmetic (loadtest/shape.py) and the campaign file's load shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.shape import Plan, Stage
from ops.campaign.spec import load_campaign
from ops.errors import BadInput

stages = st.lists(st.builds(Stage, st.floats(0.5, 120), st.floats(0, 5000)), min_size=1, max_size=6)


def test_a_ramp_and_a_hold_are_k6_ramping_arrival_rate() -> None:
    plan = Plan("open", 10, [Stage(10, 50), Stage(60, 50)], max_users=10)
    assert plan.level_at(0) == 10 and plan.level_at(5) == 30 and plan.level_at(40) == 50
    assert plan.arrivals_by(10) == 300  # (10 + 50) / 2 * 10
    assert plan.arrivals_by(70) == 300 + 3000 and plan.arrivals_by(500) == 3300
    assert plan.stage_of(9.9) == 0 and plan.stage_of(10) == 1


@given(start=st.floats(0, 5000), stages=stages, a=st.floats(0, 800), b=st.floats(0, 800))
def test_arrivals_never_decrease_and_add_up_stage_by_stage(
    start: float, stages: list[Stage], a: float, b: float
) -> None:
    plan = Plan("open", start, stages, max_users=1)
    low, high = sorted((a, b))
    assert plan.arrivals_by(low) <= plan.arrivals_by(high) + 1e-6
    total = sum(plan.arrivals_by(end) - plan.arrivals_by(begin) for begin, end in plan.stage_bounds())
    assert total == pytest.approx(plan.arrivals_by(plan.duration), rel=1e-9, abs=1e-6)
    assert Plan.from_json(plan.to_json()) == plan


def _campaign(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("name: c\n" + text)
    return path


def test_the_simple_closed_form_is_one_held_stage(tmp_path: Path) -> None:
    spec = load_campaign(str(_campaign(tmp_path, "users: 8\nspawn_rate: 4\nduration: 30s\n")))
    assert spec.plan() == Plan("closed", 8, [Stage(30, 8)], spawn_rate=4)
    assert spec.total_duration == 30 and spec.peak_users == 8


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("model: open\nrate: 10\nduration: 5s\n", "an open campaign needs max_users"),
        ("model: open\nmax_users: 3\nduration: 5s\n", "needs a rate"),
        ("model: open\nrate: 5\nmax_users: 3\nusers: 2\nduration: 5s\n", "not users"),
        ("users: 3\nrate: 10\nduration: 5s\n", "belong to the open model"),
        ("users: 3\nduration: 5s\nstages: [{duration: 2s, target: 3}]\n", "either stages or duration"),
        ("users: 3\n", "give a duration"),
    ],
)
def test_a_campaign_with_a_mixed_up_load_shape_is_one_line(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(BadInput) as raised:
        load_campaign(str(_campaign(tmp_path, text)))
    (line,) = str(raised.value).splitlines()
    assert says in line and str(tmp_path / "c.yaml") in line


def test_every_shipped_campaign_is_valid_and_smoke_stays_short() -> None:
    from ops.campaign.spec import CAMPAIGNS_DIR

    names = sorted(p.stem for p in CAMPAIGNS_DIR.glob("*.yaml"))
    assert {"smoke", "ramp", "cutover-peak"} <= set(names)
    for name in names:
        assert load_campaign(name).total_duration > 0
    assert load_campaign("smoke").total_duration < 30  # `ops demo` runs it
