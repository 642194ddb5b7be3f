"""The toolkit's own metrics over OTLP/HTTP, beside its spans and to the same endpoint: the
gateway collector's metrics pipeline carries them to CloudWatch (awsemf) and AMP.

Only what is worth a graph or an alarm: each command's duration and exit code, each drill's
recovery time, recovery point and verdict, each campaign's requests, failures, p95 and
verdict. Without an OTLP endpoint the instruments are OpenTelemetry's no-op ones. Drills
still publish to CloudWatch directly as well: their alarms must not depend on a collector."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ops import TOOL_NAME, __version__
from ops.telemetry.otlp import export_timeout, otlp_configured, toolkit_resource

if TYPE_CHECKING:
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider


@dataclass(frozen=True)
class Family:
    """Metrics whose names start with `prefix`, each recorded with exactly `attributes`. The
    gateway collector's awsemf exporter makes CloudWatch metrics of them with those
    attributes as dimensions (adot/generate.py declares them)."""

    prefix: str
    attributes: tuple[str, ...]

    def labels(self, *values: str | int) -> dict[str, str | int]:
        return dict(zip(self.attributes, values, strict=True))


COMMANDS = Family("ops.command.", ("ops.command", "ops.exit_code"))
DRILLS = Family("ops.drill.", ("ops.environment", "ops.component", "ops.runbook"))
CAMPAIGNS = Family("ops.loadtest.", ("ops.environment", "ops.campaign", "ops.loadtest.backend"))
FAMILIES = (COMMANDS, DRILLS, CAMPAIGNS)

_provider: MeterProvider | None = None
# A command lives shorter than any export interval: what it recorded is sent at shutdown.
EXPORT_INTERVAL_MS = 60_000


def setup_metrics() -> None:
    global _provider
    if _provider is not None or not otlp_configured("metrics"):
        return
    # The SDK is imported only when it is used: every command would pay for it.
    from opentelemetry import metrics
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(timeout=export_timeout()), export_interval_millis=EXPORT_INTERVAL_MS
    )
    _provider = MeterProvider(resource=toolkit_resource(), metric_readers=[reader])
    metrics.set_meter_provider(_provider)


def shutdown_metrics() -> None:
    """Export what was recorded (the reader's last collection) and stop."""
    if _provider is not None:
        _provider.shutdown()


def _meter() -> metrics.Meter:
    from opentelemetry import metrics

    return metrics.get_meter(TOOL_NAME, __version__)


def record_command(command: str, seconds: float, exit_code: int) -> None:
    attributes = COMMANDS.labels(command, exit_code)
    _meter().create_histogram("ops.command.duration", unit="s").record(seconds, attributes)


def _gauges(values: dict[str, tuple[float | None, str]], attributes: dict[str, str | int]) -> None:
    for name, (value, unit) in values.items():
        if value is not None:
            _meter().create_gauge(name, unit=unit).set(value, attributes)


def record_drill(
    environment: str,
    component: str,
    runbook: str,
    rto_seconds: float | None,
    rpo_seconds: float | None,
    objectives_met: bool,
) -> None:
    """RTO and RPO are None when the drill did not get that far."""
    attributes = DRILLS.labels(environment, component, runbook)
    _gauges(
        {
            "ops.drill.recovery_time": (rto_seconds, "s"),
            "ops.drill.recovery_point": (rpo_seconds, "s"),
            "ops.drill.objectives_met": (1.0 if objectives_met else 0.0, "1"),
        },
        attributes,
    )


def record_campaign(campaign: str, environment: str, backend: str, results: dict[str, Any]) -> None:
    """`results`: the campaign's results.json (requests, failures, latency_ms, slo_met)."""
    attributes = CAMPAIGNS.labels(environment, campaign, backend)
    _meter().create_counter("ops.loadtest.requests").add(int(results["requests"]), attributes)
    _meter().create_counter("ops.loadtest.failures").add(int(results["failures"]), attributes)
    _gauges(
        {
            "ops.loadtest.latency_p95": (results["latency_ms"].get("p95"), "ms"),
            "ops.loadtest.slo_met": (1.0 if results["slo_met"] else 0.0, "1"),
        },
        attributes,
    )
