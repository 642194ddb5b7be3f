"""A bounded burst of real ingest traffic (loopback only), with per-request latencies."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtest.payloads import PayloadGenerator
from ops.contracts import PATHS


@dataclass
class BurstResult:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    failed: int = 0
    rejected_as_expected: int = 0
    wrongly_accepted: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def throughput_rps(self) -> float:
        return self.sent / self.duration_s if self.duration_s else 0.0

    @property
    def error_rate(self) -> float:
        valid = self.accepted + self.duplicates + self.failed
        return self.failed / valid if valid else 0.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of raw samples."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def send_burst(base_url: str, generator: PayloadGenerator, count: int, concurrency: int = 8) -> BurstResult:
    """Send `count` valid records (half each type) and the generator's invalid ones."""
    valid: list[tuple[str, dict[str, Any]]] = []
    for index in range(count):
        if index % 2 == 0:
            valid.append(("financial_transaction", generator.financial_transaction()))
        else:
            valid.append(("insurance_claim", generator.insurance_claim()))
    invalid = generator.invalid_records()
    result = BurstResult()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=base_url, timeout=10, limits=limits) as client:
        started = time.perf_counter()
        pool = ThreadPoolExecutor(max_workers=concurrency)
        try:
            outcomes = list(pool.map(lambda item: _post(client, *item), valid))
        finally:
            # On an interrupt, drop the queued requests instead of sending them all.
            pool.shutdown(wait=True, cancel_futures=True)
        result.duration_s = time.perf_counter() - started
        for status, outcome, latency in outcomes:
            result.sent += 1
            result.latencies_ms.append(latency)
            if status == 200 and outcome == "accepted":
                result.accepted += 1
            elif status == 200:
                result.duplicates += 1
            else:
                result.failed += 1
        for record_type, payload, what in invalid:
            status, _, _ = _post(client, record_type, payload)
            if 400 <= status < 500:
                result.rejected_as_expected += 1
            else:
                result.wrongly_accepted.append(f"{what} (HTTP {status})")
    return result


def _post(client: httpx.Client, record_type: str, payload: dict[str, Any]) -> tuple[int, str, float]:
    started = time.perf_counter()
    try:
        response = client.post(PATHS[record_type], json=payload)
    except httpx.HTTPError:
        return 0, "error", (time.perf_counter() - started) * 1000
    latency = (time.perf_counter() - started) * 1000
    outcome = response.json().get("outcome", "") if response.status_code == 200 else ""
    return response.status_code, outcome, latency
