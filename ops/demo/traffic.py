"""A bounded burst of real ingest traffic (loopback only), with per-request latencies."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtest.payloads import PayloadGenerator
from ops.contracts import PATHS

# The id field of each record type.
KEYS = {"financial_transaction": "transaction_id", "insurance_claim": "claim_id"}


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


class PacedTraffic:
    """Records posted at about `rate` a second from `workers` threads until `stop()` or
    `limit` seconds (bounded load), for runs that move the ingest path under traffic: the
    id and type of each acknowledged record, the moments of acknowledgements (the longest
    stretch without one is the write unavailability clients saw) and the refusals by status."""

    def __init__(
        self, base_url: str, generator: PayloadGenerator, rate: float, workers: int = 4, limit: float = 300
    ) -> None:
        self.base_url = base_url
        self.generator = generator
        self.rate = rate
        self.limit = limit
        self.acknowledged: dict[str, str] = {}  # id -> record type
        self.acknowledged_on: dict[str, str] = {}  # id -> the cluster the ingest service named
        self.refused: dict[str, int] = {}  # id -> status (0: no answer)
        self._moments: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._next = itertools.count()
        self._started = 0.0
        self._threads = [threading.Thread(target=self._work, args=(n,), daemon=True) for n in range(workers)]

    def __enter__(self) -> PacedTraffic:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._started = time.monotonic()  # before the threads: they pace from it
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def wait_for(self, count: int, timeout: float = 60) -> bool:
        """Until `count` records are acknowledged (False after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while self.count() < count and time.monotonic() < deadline and not self._stop.is_set():
            time.sleep(0.05)
        return self.count() >= count

    def longest_gap(self, since: float = 0.0) -> float:
        """The longest time between two acknowledgements after `since` (monotonic), s."""
        with self._lock:
            moments = sorted(m for m in self._moments if m >= since)
        return max((b - a for a, b in itertools.pairwise(moments)), default=0.0)

    def _work(self, worker: int) -> None:
        # Each worker sends at rate/workers, staggered; a slow stretch (a held producer, a
        # busy broker) is not made up by a burst afterwards.
        interval = len(self._threads) / self.rate
        next_at = self._started + worker * interval / len(self._threads)
        with httpx.Client(base_url=self.base_url, timeout=20) as client:
            while not self._stop.is_set() and time.monotonic() - self._started < self.limit:
                self._stop.wait(max(0.0, next_at - time.monotonic()))
                next_at = max(next_at + interval, time.monotonic() - interval)
                self.send_one(client, next(self._next))

    def send_one(self, client: httpx.Client, index: int) -> None:
        """Post record `index` (even: a financial transaction, odd: a claim) and keep its answer."""
        record_type = "financial_transaction" if index % 2 == 0 else "insurance_claim"
        with self._lock:  # the generator is not thread-safe
            payload = getattr(self.generator, record_type)()
        record_id = str(payload[KEYS[record_type]])
        cluster, status = "", 0
        try:
            response = client.post(PATHS[record_type], json=payload)
            status = response.status_code
            if 200 <= status < 300:
                cluster = str(response.json().get("cluster", ""))
        except (httpx.HTTPError, ValueError):
            status = 0
        with self._lock:
            if 200 <= status < 300:
                self.acknowledged[record_id] = record_type
                self.acknowledged_on[record_id] = cluster
                self._moments.append(time.monotonic())
            else:
                self.refused[record_id] = status
