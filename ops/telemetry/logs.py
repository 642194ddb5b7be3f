"""Logging for people (rich, on stderr) or for machines (one JSON object a line)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the current trace and span ids when there is a span."""

    def format(self, record: logging.LogRecord) -> str:
        from opentelemetry import trace

        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = f"{context.trace_id:032x}"
            entry["span_id"] = f"{context.span_id:016x}"
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return json.dumps(entry, default=str)


def configure_logging(log_format: LogFormat = "text", level: str = "WARNING") -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler: logging.Handler
    if log_format == "json":
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(JsonFormatter())
        handler = stream
    else:
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Libraries that are chatty at INFO: keep them at WARNING unless asked for DEBUG.
    if level.upper() != "DEBUG":
        for noisy in ("botocore", "boto3", "urllib3", "httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # The OTLP exporter warns on every retry; its final error is enough.
        logging.getLogger("opentelemetry").setLevel(logging.ERROR)
