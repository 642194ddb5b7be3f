"""ADOT collector configurations: every generated one passes `ops adot validate`; broken ones
exit 2 with one line per problem, naming the file, the line and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from ruamel.yaml import YAML

from adot.components import COLLECTOR, LAMBDA_LAYER, SIGNALS
from adot.generate import collector_configs
from adot.validate import validate_text
from ops.inventory.loader import load_inventory
from ops.local.ingest.app import Metrics as IngestMetrics
from ops.telemetry import metrics as toolkit_metrics
from tests.helpers import INVENTORY, run_main

GOOD = """\
extensions:
  sigv4auth: {region: us-east-1, service: aps}
receivers:
  otlp: {protocols: {http: {endpoint: 0.0.0.0:4318}}}
processors:
  memory_limiter: {check_interval: 1s, limit_percentage: 80}
  batch: {}
exporters:
  awsxray: {region: us-east-1}
  prometheusremotewrite:
    endpoint: ${env:AMP_REMOTE_WRITE_URL}
    auth: {authenticator: sigv4auth}
service:
  extensions: [sigv4auth]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [awsxray]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [prometheusremotewrite]
"""


@pytest.mark.parametrize("env", ["local", "staging", "prod"])
def test_every_generated_configuration_passes_validate(env: str, tmp_path: Path) -> None:
    configs = collector_configs(load_inventory(INVENTORY).environment(env))
    assert {g.collector.mode for g in configs.values()} == {"gateway", "sidecar", "lambda"}
    for name, (collector, text, _) in configs.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        distribution = "lambda" if collector.mode == "lambda" else "collector"
        result = run_main("adot", "validate", str(path), "--distribution", distribution, "--tier", "standard")
        assert result.code == 0, result.err


def test_the_generated_processors_run_memory_limiter_first_and_batch_last() -> None:
    configs = collector_configs(load_inventory(INVENTORY).environment("staging"))
    text = configs["gateway"].text
    assert validate_text(text, COLLECTOR) == []
    lambda_text = configs["lambda-layer"].text
    assert "processors" not in lambda_text  # the Lambda layer ships none
    assert validate_text(text, LAMBDA_LAYER) != []  # the gateway's components are not all in the layer


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in GOOD
    path = tmp_path / "collector.yaml"
    path.write_text(GOOD.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("old", "new", "line", "says"),
    [
        (
            "receivers:\n  otlp:",
            "receivers:\n  kafkametrics: {}\n  otlp:",
            4,
            "receivers.kafkametrics: 'kafkametrics' is not shipped by the ADOT collector",
        ),
        (
            "      receivers: [otlp]\n      processors: [memory_limiter, batch]\n      exporters: [awsxray]",
            "      receivers: [otlp, zipkin]\n      processors: [memory_limiter, batch]\n"
            "      exporters: [awsxray]",
            17,
            "service.pipelines.traces.receivers: 'zipkin' is not defined under receivers",
        ),
        (
            "      processors: [memory_limiter, batch]\n      exporters: [awsxray]",
            "      processors: [batch]\n      exporters: [awsxray]",
            18,
            "service.pipelines.traces.processors: memory_limiter must come first, not 'batch'",
        ),
        (
            "    auth: {authenticator: sigv4auth}\n",
            "",
            10,
            "exporters.prometheusremotewrite.auth.authenticator: required",
        ),
        (
            "  awsxray: {region: us-east-1}",
            "  awsxray: {region: us-east-1, comment: '{{resolve}}'}",
            9,
            "(value): '{{ }}' is SSM's parameter-reference syntax",
        ),
        (
            "  awsxray: {region: us-east-1}\n",
            "  awsxray: {region: us-east-1}\n  awsemf: {log_group_name: /x, metric_declarations: "
            "[{dimensions: [[a]], metric_name_selectors: ['^ops\\.(']}]}\n",
            10,
            "exporters.awsemf.metric_declarations[0].metric_name_selectors: '^ops\\\\.(' is not a regex",
        ),
        # What the collector refuses at start-up (tests/integration/test_collector.py agrees).
        # Each names a different field: the integration test names a case by its field.
        (
            "      processors: [memory_limiter, batch]\n      exporters: [awsxray]",
            "      procesors: [memory_limiter, batch]\n      exporters: [awsxray]",
            18,
            "service.pipelines.traces.procesors: unknown key (receivers, processors, exporters)",
        ),
        (
            "  extensions: [sigv4auth]\n",
            "  extensions: [sigv4auth]\n  extension: [sigv4auth]\n",
            15,
            "service.extension: unknown key (extensions, pipelines, telemetry)",
        ),
        (
            "      processors: [memory_limiter, batch]\n      exporters: [prometheusremotewrite]",
            "      processors: [memory_limiter, batch, batch]\n      exporters: [prometheusremotewrite]",
            22,
            "service.pipelines.metrics.processors: 'batch' is listed more than once: list it once",
        ),
        (
            "      exporters: [awsxray]",
            "      exporters: [awsxray, prometheusremotewrite]",
            19,
            "service.pipelines.traces.exporters: 'prometheusremotewrite' does not take traces, only metrics",
        ),
        (
            "  batch: {}\n",
            "  batch: {}\n  batch/: {}\n",
            8,
            "processors.batch/: the name after '/' is empty: name it (batch/NAME) or drop the '/'",
        ),
        (
            "    traces:\n",
            "    traces/:\n",
            16,
            "service.pipelines.traces/: the name after '/' is empty: name it (traces/NAME) or drop the '/'",
        ),
        (
            "      exporters: [prometheusremotewrite]",
            "      exporters: prometheusremotewrite",
            23,
            "service.pipelines.metrics.exporters: must be a list, not a string: write [prometheus",
        ),
    ],
)
def test_a_broken_configuration_exits_2_with_one_line(
    tmp_path: Path, old: str, new: str, line: int, says: str
) -> None:
    path = _broken(tmp_path, old, new)
    result = run_main("adot", "validate", str(path))
    assert result.code == 2
    (problem,) = result.err.strip().splitlines()
    assert problem == f"error: {path}:{line}: {says}" or problem.startswith(f"error: {path}:{line}: {says}")


def _problems(*edits: tuple[str, str]) -> list[str]:
    text = GOOD
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return [f"{p.line}: {p.path}: {p.message}" for p in validate_text(text, COLLECTOR)]


def test_a_receiver_in_a_pipeline_of_a_signal_it_does_not_take() -> None:
    # Two edits (define it, use it): the parametrized cases above are one edit each.
    problems = _problems(
        ("receivers:\n", "receivers:\n  awsecscontainermetrics: {}\n"),
        ("      receivers: [otlp]\n", "      receivers: [otlp, awsecscontainermetrics]\n"),
    )
    assert problems == [
        "18: service.pipelines.traces.receivers: 'awsecscontainermetrics' does not take traces, "
        "only metrics: use it in a metrics pipeline"
    ]


def test_a_processor_twice_is_refused_and_a_receiver_or_exporter_twice_is_not() -> None:
    """As the collector does (v0.165): it refuses only a processor a pipeline lists twice."""
    assert _problems(("[otlp]", "[otlp, otlp]"), ("[awsxray]", "[awsxray, awsxray]")) == []
    assert _problems(("[memory_limiter, batch]", "[memory_limiter, memory_limiter, batch]")) == [
        "18: service.pipelines.traces.processors: 'memory_limiter' is listed more than once: list it once"
    ]


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "processors: [memory_limiter, batch]",
            "processors: batch",
            "must be a list, not a string: write [batch]",
        ),
        ("receivers: [otlp]", "receivers: {otlp: {}}", "must be a list, not a mapping"),
        (
            "  extensions: [sigv4auth]",
            "  extensions: sigv4auth",
            "must be a list, not a string: write [sigv4auth]",
        ),
    ],
)
def test_a_list_given_as_something_else_is_one_problem_not_one_per_letter(
    old: str, new: str, says: str
) -> None:
    (problem,) = _problems((old, new))
    assert problem.endswith(says)


def test_every_pipeline_component_of_each_distribution_has_its_signals() -> None:
    for distribution in (COLLECTOR, LAMBDA_LAYER):
        for kind in ("receivers", "processors", "exporters"):
            assert distribution.components[kind] <= set(SIGNALS[kind]), (distribution.name, kind)


def test_a_configuration_too_large_for_its_ssm_tier_is_refused(tmp_path: Path) -> None:
    line = "  attributes/pad{0}: {{actions: [{{key: k{0}, value: '{1}', action: insert}}]}}\n"
    padding = "".join(line.format(i, "x" * 60) for i in range(48))
    path = _broken(tmp_path, "  batch: {}\n", "  batch: {}\n" + padding)
    assert run_main("adot", "validate", str(path), "--tier", "advanced").code == 0
    standard = run_main("adot", "validate", str(path), "--tier", "standard")
    assert standard.code == 2
    (problem,) = standard.err.strip().splitlines()
    assert ": (size): " in problem and "over the SSM standard tier's 4096" in problem


def test_several_files_report_every_problem_and_a_missing_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = _broken(tmp_path, "receivers:\n  otlp:", "receivers:\n  kafkametrics: {}\n  otlp:")
    result = run_main("adot", "validate", str(good), str(bad), str(tmp_path / "missing.yaml"))
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 2 and str(bad) in lines[0] and "missing.yaml: cannot read" in lines[1]


def _dimension_sets(
    declarations: list[dict[str, Any]], name: str, attributes: set[str]
) -> set[frozenset[str]]:
    """awsemf's rule: a declaration applies to a metric one of its selectors matches; each of
    its dimension sets whose names the metric carries becomes a set of CloudWatch dimensions."""
    return {
        frozenset(dimensions)
        for declaration in declarations
        if any(re.search(selector, name) for selector in declaration["metric_name_selectors"])
        for dimensions in declaration["dimensions"]
        if set(dimensions) <= attributes
    }


def _gateway_declarations() -> list[dict[str, Any]]:
    text = collector_configs(load_inventory(INVENTORY).environment("prod"))["gateway"].text
    exporter = YAML(typ="safe").load(text)["exporters"]["awsemf"]
    return list(exporter["metric_declarations"])


def test_the_toolkit_metrics_become_cloudwatch_metrics_through_the_gateway(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each metric the toolkit records is declared on the gateway's awsemf with all of its
    attributes as dimensions (undeclared, awsemf would keep it out of CloudWatch metrics)."""
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    monkeypatch.setattr(toolkit_metrics, "_meter", lambda: meter)
    toolkit_metrics.record_command("ops drill run", 1.5, 0)
    toolkit_metrics.record_drill("prod", "warehouse", "rds-pitr", 9.0, 2.0, True)
    results = {"requests": 10, "failures": 0, "latency_ms": {"p95": 12.0}, "slo_met": True}
    toolkit_metrics.record_campaign("smoke", "prod", "fargate", results)
    data = reader.get_metrics_data()
    assert data is not None
    emitted = {
        (metric.name, frozenset(point.attributes or {}))
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        for point in metric.data.data_points
    }
    assert len(emitted) == 8  # 1 command, 3 drill, 4 campaign metrics
    declarations = _gateway_declarations()
    for name, attributes in emitted:
        assert _dimension_sets(declarations, name, set(attributes)) == {attributes}, name


def test_the_ingest_service_metrics_become_cloudwatch_metrics_through_the_gateway() -> None:
    metrics = IngestMetrics()
    metrics.records.labels("event", "accepted").inc()
    metrics.latency.labels("event").observe(0.01)
    samples = [s for family in metrics.registry.collect() for s in family.samples]
    assert {s.name for s in samples} >= {"ingest_records_total", "ingest_request_duration_seconds_bucket"}
    declarations = _gateway_declarations()
    for sample in samples:
        labels = frozenset(sample.labels) - {"le"}  # the collector turns buckets into one histogram
        assert labels in _dimension_sets(declarations, sample.name, set(labels)), sample.name


def test_render_writes_each_collector_file_and_json_names_its_mode(tmp_path: Path) -> None:
    result = run_main("adot", "render", "--env", "prod", "--out", str(tmp_path / "out"))
    assert result.code == 0, result.err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["ecs-sidecar.yaml", "gateway.yaml", "lambda-layer.yaml"]
    assert validate_text((tmp_path / "out" / "gateway.yaml").read_text(), COLLECTOR) == []
    as_json = run_main("adot", "render", "--env", "prod", "-o", "json")
    modes = {name: entry["mode"] for name, entry in json.loads(as_json.out).items()}
    assert modes == {"gateway": "gateway", "ecs-sidecar": "sidecar", "lambda-layer": "lambda"}
