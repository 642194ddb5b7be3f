"""Campaign results without running load: histograms, percentiles, regressions, and the
report (cost included) that a run writes and `ops loadtest report` reads back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

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

    def __init__(self, cost: CampaignCost | None) -> None:
        self.billed = cost

    def start(self) -> None:
        pass

    def scale(self, workers: int) -> None:
        pass

    def stream(self) -> Iterator[LiveStats]:
        return iter(())

    def stop(self) -> None:
        pass

    def finish(self) -> FinalStats:
        return FinalStats([_stats({10: 100})], "", {})

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


def test_nothing_billed_means_no_cost_anywhere(tmp_path: Path) -> None:
    folder = tmp_path / "local-1"
    _run(folder, None)  # the local backend's answer
    assert "cost" not in json.loads((folder / "results.json").read_text())
    assert "cost" not in json.loads((folder / "report.json").read_text())
    assert "Cost" not in (folder / "report.md").read_text()
