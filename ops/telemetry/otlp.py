"""What the toolkit's spans and metrics share: the resource that names the toolkit, when an
OTLP exporter is configured (OpenTelemetry's standard variables), and the export timeout."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ops import TOOL_NAME, __version__

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

# A CLI must not hang on an unreachable collector: a short export timeout unless the
# standard variable sets one.
EXPORT_TIMEOUT_SECONDS = 2.0


def toolkit_resource() -> Resource:
    # The SDK loads only when an exporter or JSON logs need it.
    from opentelemetry.sdk.resources import Resource

    return Resource.create({"service.name": TOOL_NAME, "service.version": __version__})


def otlp_configured(signal: str) -> bool:
    """`signal` is "traces" or "metrics": the shared endpoint or the signal's own."""
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT")
    )


def export_timeout() -> float:
    return float(os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT", EXPORT_TIMEOUT_SECONDS))
