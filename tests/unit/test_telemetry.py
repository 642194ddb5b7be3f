"""Toolkit telemetry: a span per command over OTLP/HTTP, and JSON logs with trace ids.

The OTLP receiver (tests/otlp_receiver.py) is a test double of a collector: a real HTTP
server on loopback that decodes the real protobuf payloads the exporters send.
"""

from __future__ import annotations

import json
import logging

from opentelemetry import trace

from ops.telemetry.logs import JsonFormatter
from ops.telemetry.tracing import setup_tracing, span
from ops.util.ports import free_port
from tests.helpers import INVENTORY, run_cli
from tests.otlp_receiver import OtlpReceiver


def test_every_command_is_a_span_exported_over_otlp(otlp: OtlpReceiver) -> None:
    result = run_cli(
        "inventory", "validate", "--file", str(INVENTORY), env={"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint}
    )
    assert result.code == 0, result.err
    assert ("platform-ops", "ops inventory validate", 0) in otlp.spans()


def test_a_failed_command_is_an_error_span(otlp: OtlpReceiver) -> None:
    result = run_cli("inventory", "show", "--env", "qa", env={"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint})
    assert result.code == 2
    (span_found,) = [s for s in otlp.spans() if s[1] == "ops inventory show"]
    assert span_found[2] == 2  # STATUS_CODE_ERROR


def test_every_command_records_its_duration_and_exit_code_over_otlp(otlp: OtlpReceiver) -> None:
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint}
    assert run_cli("inventory", "validate", "--file", str(INVENTORY), env=endpoint).code == 0
    assert run_cli("inventory", "show", "--env", "qa", env=endpoint).code == 2
    points = otlp.points("ops.command.duration")
    seen = {(p.service, p.attributes["ops.command"], p.attributes["ops.exit_code"], p.unit) for p in points}
    assert seen == {
        ("platform-ops", "ops inventory validate", 0, "s"),
        ("platform-ops", "ops inventory show", 2, "s"),
    }
    assert [p.value for p in points] == [1.0, 1.0]  # one run of each


def test_an_unreachable_collector_changes_nothing_of_the_command() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    variables = {"OTEL_EXPORTER_OTLP_ENDPOINT": closed}
    result = run_cli("inventory", "validate", "--file", str(INVENTORY), env=variables)
    assert result.code == 0 and "Traceback" not in result.err


def test_json_logs_carry_the_trace_and_span_ids() -> None:
    setup_tracing(trace_ids=True)  # as `--log-format json` does
    formatter = JsonFormatter()
    with span("unit-test-span"):
        context = trace.get_current_span().get_span_context()
        record = logging.LogRecord("ops.test", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        entry = json.loads(formatter.format(record))
    assert entry["message"] == "hello world"
    assert entry["level"] == "info"
    assert entry["trace_id"] == f"{context.trace_id:032x}"
    assert entry["span_id"] == f"{context.span_id:016x}"
