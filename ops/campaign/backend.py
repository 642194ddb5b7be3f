"""The one interface every campaign backend serves (local processes, Fargate tasks):
start, scale, stream live statistics, stop, collect the final statistics, and say what
the run cost."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ops.campaign.cost import CampaignCost

# The Locust master's timings, on any backend: users finish the request in flight within
# STOP_TIMEOUT_S; the master quits AUTOQUIT_S after the run, once the workers' final reports
# are in (loadtest/locustfile.py sends them).
STOP_TIMEOUT_S = 2
AUTOQUIT_S = 1

# What a backend saves of a started campaign (processes, tasks), for `ops loadtest attach`.
ATTACH_FILE = "campaign.json"
# Locust's own HTML report (the master's --html), beside ours in the campaign's folder.
LOCUST_REPORT = "locust-report.html"


@dataclass(frozen=True)
class LiveStats:
    """One reading of the master's live statistics (Locust's /stats/requests)."""

    elapsed_s: float
    users: int
    rps: float
    fail_ratio: float
    p50_ms: float | None
    p95_ms: float | None
    requests: int
    failures: int
    dropped: int  # open model: iterations with no free user so far


@dataclass
class FinalStats:
    stats: list[dict[str, Any]]  # Locust's --json per-endpoint statistics, histograms included
    history_csv: str  # Locust's stats history (one Aggregated row per second)
    arrivals: dict[str, Any]  # open model: per-stage expected, started, dropped
    locust_report: str = ""  # Locust's own HTML report, a file in the campaign's folder; "" when absent
    locust_report_absent: str = ""  # why it is absent


class Backend(Protocol):
    name: str  # "local" or "fargate", as `--backend` names it

    def start(self) -> None: ...

    def scale(self, workers: int) -> None: ...

    def stream(self) -> Iterator[LiveStats]: ...

    def stop(self) -> None: ...

    def finish(self) -> FinalStats: ...

    def cleanup(self) -> None: ...

    def cost(self) -> CampaignCost | None:
        """What the run cost, asked once it is over (nothing billed is an answer too: a zero
        cost with its reason); None when the backend cannot say, and the report has no cost."""
        ...


def read_live(web: str, elapsed_s: float, dropped_before: int = 0) -> LiveStats | None:
    """The master's live statistics, or None while it is starting or finishing."""
    try:
        report = httpx.get(f"{web}/stats/requests", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return None
    if report.get("state") not in ("running", "spawning"):
        return None
    total: dict[str, Any] = next((s for s in report.get("stats", []) if s.get("name") == "Aggregated"), {})
    percentiles = report.get("current_response_time_percentiles") or {}
    dropped = dropped_before
    try:
        arrivals = httpx.get(f"{web}/ops/arrivals", timeout=2).json()
        dropped = sum(stage["dropped"] for stage in arrivals.get("stages", []))
    except (httpx.HTTPError, ValueError):
        pass
    return LiveStats(
        elapsed_s=elapsed_s,
        users=int(report.get("user_count") or 0),
        rps=float(report.get("total_rps") or 0.0),
        fail_ratio=float(report.get("fail_ratio") or 0.0),
        p50_ms=percentiles.get("response_time_percentile_0.5"),
        p95_ms=percentiles.get("response_time_percentile_0.95"),
        requests=int(total.get("num_requests") or 0),
        failures=int(total.get("num_failures") or 0),
        dropped=dropped,
    )
