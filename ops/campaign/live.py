"""Live metrics while a campaign runs: a line for the person (users, requests/s, p95,
errors), a Prometheus endpoint (on loopback) and CloudWatch PutMetricData. A failing sink
warns once; it never stops a campaign."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from ops.campaign.backend import LiveStats

NAMESPACE = "PlatformOps/LoadTests"
FLUSH_EVERY_S = 10.0
LINE_EVERY_S = 2.0


class LiveSink(Protocol):
    def publish(self, live: LiveStats) -> None: ...

    def close(self) -> None: ...


def live_line(live: LiveStats) -> str:
    """One reading for the person: what a campaign's terminal line and CI log say."""
    p95 = f"{live.p95_ms:.0f} ms" if live.p95_ms is not None else "-"
    minutes, seconds = divmod(int(live.elapsed_s), 60)
    line = (
        f"live {minutes}:{seconds:02d}  {live.users} users  {live.rps:.1f} req/s  p95 {p95}  "
        f"{live.failures} errors ({live.fail_ratio:.1%})"
    )
    return line + (f"  {live.dropped} dropped" if live.dropped else "")


class LineSink:
    """The live line, one every 2 s at most: `show` redraws it in place on a terminal (a
    rich status) or prints it as a plain line (CI logs), as the command decides."""

    def __init__(
        self,
        show: Callable[[str], None],
        every_s: float = LINE_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.show = show
        self.every_s = every_s
        self.clock = clock
        self.shown_at: float | None = None

    def publish(self, live: LiveStats) -> None:
        now = self.clock()
        if self.shown_at is None or now - self.shown_at >= self.every_s:
            self.shown_at = now
            self.show(live_line(live))

    def close(self) -> None:
        pass


class PrometheusSink:
    """/metrics on 127.0.0.1:<port> for the campaign's length (scrape it, or watch Grafana)."""

    def __init__(self, campaign_id: str, port: int) -> None:
        self.registry = CollectorRegistry()
        labels = ["campaign"]
        self.gauges = {
            name: Gauge(f"ops_loadtest_{name}", text, labels, registry=self.registry)
            for name, text in (
                ("users", "Locust users running"),
                ("requests_per_second", "Requests per second (Locust's recent window)"),
                ("fail_ratio", "Failed requests / requests"),
                ("p50_ms", "Median response time, recent window"),
                ("p95_ms", "95th percentile response time, recent window"),
                ("requests", "Requests so far"),
                ("failures", "Failed requests so far"),
                ("dropped_iterations", "Open model: iterations with no free user so far"),
            )
        }
        self.campaign_id = campaign_id
        self.server, self.thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)
        self.port = self.server.server_port

    def publish(self, live: LiveStats) -> None:
        values = {
            "users": live.users,
            "requests_per_second": live.rps,
            "fail_ratio": live.fail_ratio,
            "p50_ms": live.p50_ms,
            "p95_ms": live.p95_ms,
            "requests": live.requests,
            "failures": live.failures,
            "dropped_iterations": live.dropped,
        }
        for name, value in values.items():
            if value is not None:
                self.gauges[name].labels(self.campaign_id).set(value)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class CloudWatchSink:
    """PutMetricData under PlatformOps/LoadTests, dimensions Environment and Campaign,
    buffered and sent every 10 s (and at the end)."""

    def __init__(self, cloudwatch: Any, environment: str, campaign: str, warn: Any) -> None:
        self.cloudwatch = cloudwatch
        self.dimensions = [
            {"Name": "Environment", "Value": environment},
            {"Name": "Campaign", "Value": campaign},
        ]
        self.buffer: list[dict[str, Any]] = []
        self.last_flush = 0.0
        self.warn = warn
        self.failed = False
        self.sent = 0

    def publish(self, live: LiveStats) -> None:
        now = datetime.now(UTC)
        for name, value, unit in (
            ("Users", live.users, "Count"),
            ("RequestsPerSecond", live.rps, "Count/Second"),
            ("FailRatio", live.fail_ratio, "None"),
            ("P95Latency", live.p95_ms, "Milliseconds"),
            ("DroppedIterations", live.dropped, "Count"),
        ):
            if value is not None:
                self.buffer.append(
                    {
                        "MetricName": name,
                        "Dimensions": self.dimensions,
                        "Timestamp": now,
                        "Value": float(value),
                        "Unit": unit,
                    }
                )
        if live.elapsed_s - self.last_flush >= FLUSH_EVERY_S:
            self.last_flush = live.elapsed_s
            self._flush()

    def _flush(self) -> None:
        batch, self.buffer = self.buffer, []
        if self.failed or not batch:
            return
        try:
            for start in range(0, len(batch), 500):  # PutMetricData takes up to 1,000 metrics
                self.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=batch[start : start + 500])
            self.sent += len(batch)
        except (ClientError, BotoCoreError) as error:
            self.failed = True
            self.warn(f"warning: live metrics to CloudWatch stopped: {error}")

    def close(self) -> None:
        self._flush()
