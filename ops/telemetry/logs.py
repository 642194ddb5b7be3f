"""Logging for people (rich, on stderr) or for machines (one JSON object a line).

No level prints a credential, token or password:
- the wire loggers (botocore, boto3, s3transfer, urllib3, httpx, httpcore) stay at WARNING
  whatever `--log-level` says, unless named in `OPS_LOG_WIRE` (e.g. `OPS_LOG_WIRE=botocore`
  with `--log-level debug`): their debug output is request headers and bodies;
- every line passes `RedactSecrets` first: the values of the credential variables of this
  process (AWS keys and session token, PGPASSWORD, OPS_GRAFANA_TOKEN), Authorization and
  security-token headers, AWS access key ids, bearer tokens and `password`/`secret`/`token`
  fields are replaced by `[redacted]`, in the message and in a traceback's text.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["text", "json"]

WIRE_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "httpx", "httpcore")
WIRE_ENV = "OPS_LOG_WIRE"
# Variables whose values are secrets wherever they show up.
SECRET_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "PGPASSWORD",
    "OPS_GRAFANA_TOKEN",
)
REDACTED = "[redacted]"
_KEY = (
    r"(?:authorization|x-amz-security-token|x-amz-credential|security_?token|session_?token|"
    r"secret_?access_?key|secret_?string|secret|password|passwd|api_?key|token)"
)
_PATTERNS = (
    # key: value, key=value, "key": "value", 'Key': b'value' (headers, bodies, query strings)
    re.compile(rf"(?i)(\b{_KEY}['\"]?\s*[:=]\s*b?['\"]?)([^'\"\s,&}}]+(?: [^'\"\s,&}}]+)?)"),
    re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),  # an AWS access key id
    re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"\bglsa_[A-Za-z0-9_]+"),  # a Grafana service account token
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with `secrets` (exact values) and anything shaped like a credential redacted."""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


def secrets_of_environment() -> tuple[str, ...]:
    """The values of this process's credential variables (long enough to be one)."""
    values = (os.environ.get(name, "") for name in SECRET_VARIABLES)
    return tuple(sorted({v for v in values if len(v) >= 8}, key=len, reverse=True))


class RedactSecrets(logging.Filter):
    """Redacts each record before any handler formats it."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: show its template, never fail the command
            message = str(record.msg)
        record.msg, record.args = redact(message, self.secrets), None
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, self.secrets)
        return True


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
    handler.addFilter(RedactSecrets(secrets_of_environment()))
    root.addHandler(handler)
    root.setLevel(level.upper())
    # The wire loggers print headers and bodies at DEBUG (and are chatty at INFO): WARNING,
    # whatever the level, unless asked for by name.
    wanted = {name.strip() for name in os.environ.get(WIRE_ENV, "").split(",") if name.strip()}
    for wire in WIRE_LOGGERS:
        logging.getLogger(wire).setLevel(level.upper() if wire in wanted else logging.WARNING)
    if level.upper() != "DEBUG":
        # The OTLP exporter warns on every retry; its final error is enough.
        logging.getLogger("opentelemetry").setLevel(logging.ERROR)
