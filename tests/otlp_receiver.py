"""Test double of an OpenTelemetry collector's OTLP/HTTP receiver: a real HTTP server on
loopback that decodes the real protobuf payloads the toolkit's exporters send (/v1/traces,
/v1/metrics). No collector binary can be installed here (see docs/testing.md)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

PAYLOADS: dict[str, type[Message]] = {
    "/v1/traces": ExportTraceServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
}


@dataclass(frozen=True)
class Point:
    """One data point: a gauge's or a sum's value, or a histogram's count."""

    service: str
    metric: str
    unit: str
    attributes: dict[str, Any]
    value: float


class _Handler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        payload = PAYLOADS.get(self.path)
        if payload is None:
            self.send_response(404)
        else:
            request = payload()
            request.ParseFromString(body)
            self.server.received.setdefault(self.path, []).append(request)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class OtlpReceiver(HTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: dict[str, list[Any]] = {}

    @property
    def endpoint(self) -> str:
        """What OTEL_EXPORTER_OTLP_ENDPOINT names."""
        return f"http://127.0.0.1:{self.server_port}"

    def spans(self) -> list[tuple[str, str, int]]:
        """(service.name, span name, status code) of every span received."""
        found = []
        for request in self.received.get("/v1/traces", []):
            for resource_spans in request.resource_spans:
                service = _attributes(resource_spans.resource.attributes)["service.name"]
                for scope in resource_spans.scope_spans:
                    found += [(service, s.name, s.status.code) for s in scope.spans]
        return found

    def points(self, metric: str) -> list[Point]:
        found = []
        for request in self.received.get("/v1/metrics", []):
            for resource_metrics in request.resource_metrics:
                service = _attributes(resource_metrics.resource.attributes)["service.name"]
                for scope in resource_metrics.scope_metrics:
                    for m in scope.metrics:
                        if m.name == metric:
                            found += [
                                Point(service, m.name, m.unit, _attributes(p.attributes), v)
                                for p, v in _values(m)
                            ]
        return found


def _any_value(value: AnyValue) -> Any:
    return getattr(value, value.WhichOneof("value") or "string_value")


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _any_value(pair.value) for pair in pairs}


def _values(metric: Any) -> list[tuple[Any, float]]:
    kind = metric.WhichOneof("data")
    if kind == "histogram":
        return [(p, float(p.count)) for p in metric.histogram.data_points]
    points = getattr(metric, kind).data_points
    return [(p, p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)) for p in points]


@contextmanager
def otlp_receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
