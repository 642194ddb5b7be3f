"""Toolkit telemetry: a span per command over OTLP/HTTP, and JSON logs with trace ids.

The OTLP receiver here is a test double of a collector: a real HTTP server on loopback
that decodes the real protobuf payloads the exporter sends.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ops.telemetry.logs import JsonFormatter
from ops.telemetry.tracing import setup_tracing, span
from tests.helpers import INVENTORY, run_cli


class _Receiver(BaseHTTPRequestHandler):
    requests: list[ExportTraceServiceRequest]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.server.requests.append(request)  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _spans(server: HTTPServer) -> list[tuple[str, str, int]]:
    found = []
    for request in server.requests:  # type: ignore[attr-defined]
        for resource_spans in request.resource_spans:
            service = next(
                a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"
            )
            for scope in resource_spans.scope_spans:
                found += [(service, s.name, s.status.code) for s in scope.spans]
    return found


def test_every_command_is_a_span_exported_over_otlp(otlp_receiver: HTTPServer) -> None:
    endpoint = f"http://127.0.0.1:{otlp_receiver.server_port}"
    result = run_cli(
        "inventory", "validate", "--file", str(INVENTORY), env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    )
    assert result.code == 0, result.err
    assert ("platform-ops", "ops inventory validate", 0) in _spans(otlp_receiver)


def test_a_failed_command_is_an_error_span(otlp_receiver: HTTPServer) -> None:
    endpoint = f"http://127.0.0.1:{otlp_receiver.server_port}"
    result = run_cli("inventory", "show", "--env", "qa", env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
    assert result.code == 2
    (span_found,) = [s for s in _spans(otlp_receiver) if s[1] == "ops inventory show"]
    assert span_found[2] == 2  # STATUS_CODE_ERROR


def test_json_logs_carry_the_trace_and_span_ids() -> None:
    setup_tracing()
    formatter = JsonFormatter()
    with span("unit-test-span"):
        context = trace.get_current_span().get_span_context()
        record = logging.LogRecord("ops.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        entry = json.loads(formatter.format(record))
    assert entry["message"] == "hello world"
    assert entry["level"] == "info"
    assert entry["trace_id"] == f"{context.trace_id:032x}"
    assert entry["span_id"] == f"{context.span_id:016x}"
