"""A span per command, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from ops import TOOL_NAME, __version__

P = ParamSpec("P")
R = TypeVar("R")

_provider: TracerProvider | None = None
EXPORT_TIMEOUT_SECONDS = 2.0


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

        # A CLI must not hang on an unreachable collector: a short export timeout unless
        # the standard variable sets one.
        timeout = float(os.environ.get("OTEL_EXPORTER_OTLP_TIMEOUT", EXPORT_TIMEOUT_SECONDS))
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=timeout)))
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


def command_name(context: Any) -> str | None:
    """`ops local up`, whatever the program was called (`ops`, `python -m ops`)."""
    names: list[str] = []
    current: Any = context
    while current is not None:
        names.append(current.info_name or "")
        current = current.parent
    if not names:
        return None
    names[-1] = "ops"
    return " ".join(reversed(names))


def traced_command(function: Callable[P, R]) -> Callable[P, R]:
    """Run a CLI command inside a span named by its command path, e.g. `ops local up`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        # Typer hands every command its context as `ctx` (Typer vendors its own click,
        # so click.get_current_context would not see it).
        context = kwargs.get("ctx")
        name = command_name(context if hasattr(context, "info_name") else None)
        name = name or f"ops {function.__name__}"
        with span(name, **{"ops.command": name}):
            return function(*args, **kwargs)

    return wrapper
