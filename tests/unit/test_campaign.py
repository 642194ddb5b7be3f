"""Campaign results without running load: histograms, percentiles, regressions, and the
report (cost included) that a run writes and `ops loadtest report` reads back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.campaign.backend import FinalStats, LiveStats
from ops.campaign.compare import compare
from ops.campaign.cost import CampaignCost, Cost
from ops.campaign.engine import run_campaign
from ops.campaign.results import summarize
from ops.campaign.spec import Campaign
from ops.inventory.spec import Slo
from tests.helpers import run_main


def _stats(times: dict[int, int], failures: int = 0) -> dict[str, object]:
    return {
        "num_requests": sum(times.values()),
        "num_failures": failures,
        "response_times": {str(k): v for k, v in times.items()},
        "start_time": 100.0,
        "last_request_timestamp": 110.0,
    }


def test_endpoints_are_merged_as_histograms_not_averaged_percentiles() -> None:
    # 90 fast transactions and 10 slow claims: the p95 of the whole is slow, although the
    # transactions' own p95 is fast (averaging the two p95s would say 55 ms).
    summary = summarize([_stats({10: 90}), _stats({100: 10})])
    assert summary.requests == 100 and summary.throughput_rps == 10.0
    assert summary.percentile(50) == 10 and summary.percentile(95) == 100


def _results(p95: float, p99: float, rps: float, failures: int = 0) -> dict[str, object]:
    return {
        "latency_ms": {"p95": p95, "p99": p99},
        "throughput_rps": rps,
        "requests": 1000,
        "failures": failures,
    }


def test_a_regression_is_named_and_a_small_change_is_not() -> None:
    rows = {
        name: ok for name, _, _, ok in compare(_results(22, 30, 700), _results(20, 29, 720), tolerance=0.10)
    }
    assert all(rows.values())
    rows = {name: ok for name, _, _, ok in compare(_results(30, 30, 500, 50), _results(20, 29, 720), 0.10)}
    assert rows == {
        "p95 latency ms": False,
        "p99 latency ms": True,
        "throughput req/s": False,
        "error rate": False,
    }


def test_compare_exits_4_on_a_regression(tmp_path: Path) -> None:
    for name, data in (("base", _results(20, 29, 720)), ("slow", _results(40, 60, 700))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(data))
    assert run_main("loadtest", "compare", str(tmp_path / "base"), str(tmp_path / "base")).code == 0
    assert run_main("loadtest", "compare", str(tmp_path / "slow"), str(tmp_path / "base")).code == 4
    missing = run_main("loadtest", "compare", str(tmp_path / "nope"), str(tmp_path / "base"))
    assert missing.code == 2 and "no such campaign run" in missing.err


class _FinishedBackend:
    """A backend whose run is already over: its final statistics and what it cost."""

    name = "stand-in"

    def __init__(self, cost: CampaignCost | None, final: FinalStats | None = None) -> None:
        self.billed = cost
        self.final = final or FinalStats([_stats({10: 100})], "", {})

    def start(self) -> None:
        pass

    def scale(self, workers: int) -> None:
        pass

    def stream(self) -> Iterator[LiveStats]:
        return iter(())

    def stop(self) -> None:
        pass

    def finish(self) -> FinalStats:
        return self.final

    def cleanup(self) -> None:
        pass

    def cost(self) -> CampaignCost | None:
        return self.billed


def _run(folder: Path, cost: CampaignCost | None) -> None:
    spec = Campaign(name="priced", users=1, duration=1.0)
    slo = Slo(p95_ms=50, p99_ms=100, error_rate=0.01)
    run_campaign(spec, _FinishedBackend(cost), folder.name, folder, slo)


def test_the_report_in_every_form_carries_the_cost_the_backend_answers(tmp_path: Path) -> None:
    folder = tmp_path / "priced-1"
    _run(folder, CampaignCost(estimate=Cost(0.5, 1.0, 0.03), actual=Cost(0.25, 0.5, 0.0151)))
    expected = {
        "estimate": {"vcpu_hours": 0.5, "gb_hours": 1.0, "usd": 0.03},
        "actual": {"vcpu_hours": 0.25, "gb_hours": 0.5, "usd": 0.0151},
    }
    assert json.loads((folder / "results.json").read_text())["cost"] == expected
    assert json.loads((folder / "report.json").read_text())["cost"] == expected
    markdown = (folder / "report.md").read_text()
    assert "## Cost" in markdown and "| estimate | $0.03 | 0.50 | 1.00 |" in markdown
    assert "| actual | $0.02 | 0.25 | 0.50 |" in markdown
    page = (folder / "report.html").read_text()
    assert "<h2>Cost</h2>" in page and "<td>$0.02</td>" in page
    # `ops loadtest report` reads the same results back, cost included.
    shown = run_main("loadtest", "report", str(folder))
    assert shown.code == 0, shown.err
    assert "cost: $0.02 (estimated $0.03)" in shown.out


def test_an_attached_run_has_no_estimate_and_an_unknown_actual_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "priced-2"
    _run(folder, CampaignCost(estimate=None, actual=None, unknown="AccessDenied"))
    assert json.loads((folder / "report.json").read_text())["cost"] == {"estimate": None, "actual": None}
    assert "| estimate | none |  |  |" in (folder / "report.md").read_text()
    assert "| actual | unknown |  |  |" in (folder / "report.md").read_text()


def test_nothing_billed_is_a_zero_cost_with_its_reason_in_every_form(tmp_path: Path) -> None:
    from ops.campaign.local_backend import LocalBackend

    folder = tmp_path / "local-1"
    spec = Campaign(name="local", users=1, duration=1.0)
    _run(folder, LocalBackend(spec, "http://127.0.0.1:9", folder).cost())  # starts nothing
    note = "nothing billed: Locust ran as processes on this machine"
    zero = {"vcpu_hours": 0.0, "gb_hours": 0.0, "usd": 0.0}
    assert json.loads((folder / "report.json").read_text())["cost"] == {
        "estimate": zero,
        "actual": zero,
        "note": note,
    }
    markdown = (folder / "report.md").read_text()
    assert "| actual | $0.00 | 0.00 | 0.00 |" in markdown and note in markdown
    page = (folder / "report.html").read_text()
    assert "<td>$0.00</td>" in page and note in page
    shown = run_main("loadtest", "report", str(folder))
    assert f"cost: $0.00 ({note})" in shown.out


def hrefs(page: str) -> list[str]:
    """The links of an HTML page, however the writer quotes them."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Anchors(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(value or "" for name, value in attrs if tag == "a" and name == "href")

    Anchors().feed(page)
    return found


def test_the_report_links_locusts_own_report_or_says_why_it_is_absent(tmp_path: Path) -> None:
    spec = Campaign(name="linked", users=1, duration=1.0)
    slo = Slo(p95_ms=50, p99_ms=100, error_rate=0.01)
    present = FinalStats([_stats({10: 100})], "", {}, locust_report="locust-report.html")
    run_campaign(spec, _FinishedBackend(None, present), "linked-1", tmp_path / "linked-1", slo)
    folder = tmp_path / "linked-1"
    assert json.loads((folder / "report.json").read_text())["locust_report"] == {
        "path": "locust-report.html",
        "absent": None,
    }
    assert "](locust-report.html)" in (folder / "report.md").read_text()  # relative, as in HTML
    assert "locust-report.html" in hrefs((folder / "report.html").read_text())
    why = "the master did not upload it; see its log group"
    absent = FinalStats([_stats({10: 100})], "", {}, locust_report_absent=why)
    run_campaign(spec, _FinishedBackend(None, absent), "linked-2", tmp_path / "linked-2", slo)
    folder = tmp_path / "linked-2"
    assert json.loads((folder / "report.json").read_text())["locust_report"] == {"path": None, "absent": why}
    assert f"| none | {why} |" in (folder / "report.md").read_text()
    assert "locust-report.html" not in hrefs((folder / "report.html").read_text())


def test_the_live_line_is_shown_every_two_seconds_at_most() -> None:
    from ops.campaign.live import LineSink

    clock = [100.0]
    shown: list[str] = []
    sink = LineSink(shown.append, clock=lambda: clock[0])
    reading = LiveStats(65.0, 10, 512.34, 0.01, 8.0, 14.2, 6000, 60, 0)
    for step in (0.0, 1.0, 0.9, 0.2, 1.0):  # readings at 100, 101, 101.9, 102.1, 103.1 s
        clock[0] += step
        sink.publish(reading)
    assert len(shown) == 2  # at 100 and 102.1 s
    assert shown[0] == "live 1:05  10 users  512.3 req/s  p95 14 ms  60 errors (1.0%)"


def test_ui_on_fargate_without_a_port_forward_is_refused_before_any_launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPS_LOADTEST_MASTER_URL", raising=False)
    args = ("loadtest", "run", "smoke", "--env", "staging", "--backend", "fargate", "--ui")
    result = run_main(*args, env={"OPS_STATE_DIR": str(tmp_path / "state")})
    assert result.code == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith("error: --ui: ") and "set OPS_LOADTEST_MASTER_URL" in line
    assert not (tmp_path / "state" / "loadtests").exists()  # nothing launched, nothing remembered
