"""Campaign results: one histogram merged from every endpoint and worker (Locust's master
merges the workers' histograms; percentiles are never averaged), and the SLO verdict."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ops.inventory.spec import Slo


@dataclass(frozen=True)
class Summary:
    requests: int
    failures: int
    duration_s: float
    histogram: dict[float, int]  # response time (ms, as Locust buckets it) -> count

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def throughput_rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the merged histogram."""
        target = max(1, round(q / 100 * self.requests + 0.5))
        seen = 0
        for value in sorted(self.histogram):
            seen += self.histogram[value]
            if seen >= target:
                return value
        return max(self.histogram, default=0.0)


def summarize(stats: list[dict[str, Any]]) -> Summary:
    histogram: Counter[float] = Counter()
    for entry in stats:
        for value, count in entry.get("response_times", {}).items():
            histogram[float(value)] += int(count)
    starts = [e["start_time"] for e in stats if e.get("num_requests")]
    ends = [e["last_request_timestamp"] for e in stats if e.get("last_request_timestamp")]
    return Summary(
        requests=sum(e.get("num_requests", 0) for e in stats),
        failures=sum(e.get("num_failures", 0) for e in stats),
        duration_s=(max(ends) - min(starts)) if starts and ends else 0.0,
        histogram=dict(histogram),
    )


def check_slo(
    slo: Slo, p95: float, p99: float, error_rate: float, throughput_rps: float
) -> list[tuple[str, str, str, bool]]:
    """(measure, objective, measured, met) for each of the SLO's thresholds."""
    return [
        ("p95 latency", f"<= {slo.p95_ms:g} ms", f"{p95:.1f} ms", p95 <= slo.p95_ms),
        ("p99 latency", f"<= {slo.p99_ms:g} ms", f"{p99:.1f} ms", p99 <= slo.p99_ms),
        ("error rate", f"<= {slo.error_rate:.2%}", f"{error_rate:.2%}", error_rate <= slo.error_rate),
        (
            "throughput",
            f">= {slo.min_throughput_rps:g} req/s",
            f"{throughput_rps:.0f} req/s",
            throughput_rps >= slo.min_throughput_rps,
        ),
    ]


def checks_payload(checks: list[tuple[str, str, str, bool]]) -> list[dict[str, Any]]:
    return [dict(zip(("measure", "objective", "measured", "met"), c, strict=True)) for c in checks]


def results_payload(summary: Summary, checks: list[tuple[str, str, str, bool]]) -> dict[str, Any]:
    """What a campaign reports (results.json, the demo's report)."""
    return {
        "requests": summary.requests,
        "failures": summary.failures,
        "throughput_rps": round(summary.throughput_rps, 1),
        "load_seconds": round(summary.duration_s, 1),
        "latency_ms": {f"p{q}": summary.percentile(q) for q in (50, 95, 99)},
        "slo": checks_payload(checks),
        "slo_met": all(ok for *_, ok in checks),
    }


def verdict(summary: Summary, slo: Slo) -> list[tuple[str, str, str, bool]]:
    return check_slo(
        slo, summary.percentile(95), summary.percentile(99), summary.error_rate, summary.throughput_rps
    )
