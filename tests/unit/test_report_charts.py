"""The reports' charts (matplotlib's SVG, inlined) and the values written for people:
structure a browser can query, one time axis across charts, gaps, bands, marks, scales."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from ops.report import human
from ops.report.charts import GanttBar, banded_line_chart, bar_chart, gantt_chart, history_chart, time_chart

SVG = "{http://www.w3.org/2000/svg}"


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _group(root: ET.Element, gid: str) -> ET.Element:
    (found,) = [g for g in root.iter(f"{SVG}g") if g.get("id") == gid]
    return found


def _xs(group: ET.Element) -> list[float]:
    """The x coordinates of a group's path (its first path)."""
    path = next(group.iter(f"{SVG}path")).get("d", "")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return numbers[0::2]


def test_bands_and_lines_share_one_time_axis_across_charts() -> None:
    bands = [("check", 0.0, 2.0), ("restore", 2.0, 8.0), ("teardown", 8.0, 10.0)]
    first = _tree(banded_line_chart([2, 4, 6, 8], {"p95 ms": [10, 20, 40, 30]}, bands, "ms", x_max=10))
    restore = _group(first, "band-2")
    assert restore.get("data-label") == "restore"
    assert restore.find(f"{SVG}title").text == "2. restore: 2.0 s to 8.0 s"  # type: ignore[union-attr]
    left, right = min(_xs(restore)), max(_xs(restore))
    line = _xs(_group(first, "series-0"))
    assert line[0] == pytest.approx(left, abs=0.01) and line[-1] == pytest.approx(right, abs=0.01)
    # Another chart of the same run: its bands at the same places.
    other = _tree(banded_line_chart([1, 2], {"error rate %": [0, 5]}, bands, "%", x_max=10))
    assert _xs(_group(other, "band-2")) == pytest.approx(_xs(restore))


def test_a_gap_breaks_a_line() -> None:
    svg = time_chart([1, 2, 3, 4, 5, 6], {"error rate %": [None, 1, 2, None, 3, 4]}, "%")
    path = next(_group(_tree(svg), "series-0").iter(f"{SVG}path")).get("d", "")
    assert path.count("M") == 2  # two stretches, not one line through the gap


def test_a_chart_has_axes_units_a_legend_and_a_threshold_as_text() -> None:
    start = datetime(2026, 12, 6, 11, 2, 3, tzinfo=UTC)
    svg = time_chart(
        [0, 1, 2],
        {"requests/s": [10, 12, 11]},
        "requests per second",
        right={"users": [1, 2, 2]},
        right_unit="users",
        thresholds={"SLO p95": 250},
        start=start,
    )
    root = _tree(svg)
    assert root.get("class") == "chart" and root.get("data-chart") == "time"
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert {"requests per second", "users", "requests/s", "SLO p95 (250)"} <= texts
    assert "seconds from the start (2026-12-06 11:02:03 UTC)" in texts
    assert _group(root, "series-r0").get("data-series") == "users"  # on its own axis
    assert _group(root, "threshold-0").get("data-threshold") == "SLO p95"


def test_nothing_to_draw_is_no_chart() -> None:
    assert time_chart([], {}, "ms") == ""
    assert bar_chart([], [], "s") == ""
    assert gantt_chart([], {}) == ""
    assert history_chart([], {}, None, "s") == ""


def test_a_gantt_chart_has_a_bar_per_step_by_kind_and_the_cutover_marked() -> None:
    bars = [
        GanttBar("check", 0, 0.3, "check"),
        GanttBar("approve", 0.3, 4, "approval"),
        GanttBar("restore", 4.3, 20, "action"),
        GanttBar("wait", 24.3, 5, "wait", failed=True),
    ]
    root = _tree(gantt_chart(bars, {"cutover": 29.3}))
    steps = [g for g in root.iter(f"{SVG}g") if g.get("data-step")]
    assert [(g.get("data-step"), g.get("data-kind")) for g in steps] == [
        ("check", "check"),
        ("approve", "approval"),
        ("restore", "action"),
        ("wait", "wait"),
    ]
    assert _group(root, "mark-0").get("data-mark") == "cutover"
    assert "restore (action): from +4.3 s, 20 s" in {t.text for t in root.iter(f"{SVG}title")}


def test_a_far_objective_puts_the_history_on_a_log_scale_so_both_show() -> None:
    when = [datetime(2026, 12, 1, tzinfo=UTC) + timedelta(days=d) for d in range(3)]
    root = _tree(history_chart(when, {"RTO": [4.0, 5.0, None]}, 1800, "seconds"))
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert "objective (30 min)" in texts and {"1 s", "10 s"} <= texts  # log ticks, as durations
    path = next(_group(root, "series-0").iter(f"{SVG}path")).get("d", "")
    ys = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)][1::2]
    assert abs(ys[0] - ys[1]) > 3  # 4 s and 5 s apart, where a linear scale to 30 min merges them


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "-"),
        (0, "0 s"),
        (0.0123, "12.3 ms"),
        (1.154798, "1.15 s"),
        (59.9, "59.9 s"),
        (95, "1 min 35 s"),
        (1800, "30 min"),
        (7260, "2 h 1 min"),
        (float("inf"), "unknown"),
    ],
)
def test_durations_are_written_for_people(value: float | None, shown: str) -> None:
    assert human.seconds(value) == shown


def test_values_are_spelled_out_never_a_repr() -> None:
    assert human.value({"financial_transactions": 360, "insurance_claims": 12}) == (
        "financial_transactions: 360, insurance_claims: 12"
    )
    assert human.value([1.0, True, None]) == "1, yes, -"
    assert human.percent(0.01234) == "1.23%"
