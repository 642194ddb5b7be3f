"""Campaign results without running load: histograms, percentiles, regressions."""

from __future__ import annotations

import json
from pathlib import Path

from ops.campaign.compare import compare
from ops.campaign.results import summarize
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
