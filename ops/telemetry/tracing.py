"""A span per command, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import click
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from ops import TOOL_NAME, __version__

P = ParamSpec("P")
R = TypeVar("R")

_provider: TracerProvider | None = None


def exporter_configured() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup_tracing() -> None:
    """Install the tracer provider once; add the OTLP exporter only when configured."""
    global _provider
    if _provider is not None:
        return
    resource = Resource.create({"service.name": TOOL_NAME, "service.version": __version__})
    _provider = TracerProvider(resource=resource)
    if exporter_configured():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(_provider)


def shutdown_tracing() -> None:
    """Flush spans before the process exits (a CLI lives shorter than the batch delay)."""
    if _provider is not None:
        _provider.shutdown()


def tracer() -> trace.Tracer:
    return trace.get_tracer(TOOL_NAME, __version__)


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span that records an exception and marks itself failed when one escapes."""
    with tracer().start_as_current_span(name, record_exception=True) as current:
        for key, value in attributes.items():
            if value is not None:
                current.set_attribute(key, value)
        try:
            yield current
        except SystemExit as stop:
            if stop.code not in (0, None):
                current.set_status(Status(StatusCode.ERROR, f"exit {stop.code}"))
            raise


def traced_command(function: Callable[P, R]) -> Callable[P, R]:
    """Run a CLI command inside a span named by its command path, e.g. `ops local up`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        context = click.get_current_context(silent=True)
        name = context.command_path if context else function.__name__
        with span(name, **{"ops.command": name}):
            return function(*args, **kwargs)

    return wrapper
