"""A span per command, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ops import TOOL_NAME, __version__
from ops.telemetry.otlp import export_timeout, otlp_configured, toolkit_resource

if TYPE_CHECKING:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

P = ParamSpec("P")
R = TypeVar("R")

_provider: TracerProvider | None = None
# The command the CLI is running (`ops local up`), for the command's metric.
current_command: str | None = None


def setup_tracing(trace_ids: bool = False) -> None:
    """Install the SDK's tracer provider once, when spans go somewhere: to an OTLP endpoint,
    or as trace ids into JSON logs (`trace_ids`). Otherwise OpenTelemetry's no-op tracer
    serves and the SDK is never imported: a command would wait for it for nothing."""
    global _provider
    if _provider is not None or not (trace_ids or otlp_configured("traces")):
        return
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    _provider = TracerProvider(resource=toolkit_resource())
    if otlp_configured("traces"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=export_timeout())))
    trace.set_tracer_provider(_provider)


def shutdown_tracing() -> None:
    """Flush spans before the process exits (a CLI lives shorter than the batch delay)."""
    if _provider is not None:
        _provider.shutdown()


def tracer() -> trace.Tracer:
    from opentelemetry import trace

    return trace.get_tracer(TOOL_NAME, __version__)


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span that records an exception and marks itself failed when one escapes."""
    from opentelemetry.trace import Status, StatusCode

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
        global current_command
        current_command = name
        with span(name, **{"ops.command": name}):
            return function(*args, **kwargs)

    return wrapper
