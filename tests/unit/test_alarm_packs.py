"""The alarm packs: what the seed requires, AWS's recommended defaults, overrides."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest

from alarms import alarm_catalog, override_problems
from alarms.composite import composites
from alarms.spec import AlarmSpec, Metric, graded_alarms
from ops.inventory import load_environment
from ops.inventory.components import Component
from ops.inventory.environment import Environment
from ops.inventory.loader import load_inventory
from ops.kinds.registry import KINDS, ingest_path
from ops.observe.providers.alarm_shape import alarm_properties
from tests.helpers import INVENTORY


def _by_name(env: Environment) -> dict[str, AlarmSpec]:
    return {a.name(env.prefix): a for a in alarm_catalog(env)}


@pytest.fixture(scope="module")
def prod() -> Environment:
    return load_environment("prod", INVENTORY)


def test_the_alarms_the_seed_names_exist(prod: Environment) -> None:
    alarms = _by_name(prod)
    assert "dataplat-prod-events-max-offset-lag-glue-financial-etl-warning" in alarms  # MSK consumer lag
    assert "dataplat-prod-ingest-financial-errors-critical" in alarms  # Lambda errors
    assert "dataplat-prod-etl-job-failures-critical" in alarms  # Glue job failures


def test_every_service_has_a_pack(prod: Environment) -> None:
    namespaces = {
        a.metric.namespace if a.metric else next(iter(a.inputs.values())).namespace
        for a in alarm_catalog(prod)
    }
    assert {
        "AWS/ApiGateway",
        "AWS/Lambda",
        "AWS/Kafka",
        "AWS/S3",
        "AWS/Events",
        "Glue",
        "AWS/ElasticMapReduce",
        "AWS/RDS",
        "AWS/DocDB",
        "AmazonMWAA",
        "AWS/MWAA",
        "ECS/ContainerInsights",
    } <= namespaces


def test_defaults_follow_aws_recommended_alarms(prod: Environment) -> None:
    alarms = _by_name(prod)
    cpu = alarms["dataplat-prod-warehouse-cpu-warning"]
    assert (cpu.threshold, cpu.evaluation_periods, cpu.treat_missing) == (90, 5, "breaching")
    heartbeat = alarms["dataplat-prod-airflow-scheduler-heartbeat-critical"]
    assert (heartbeat.comparison, heartbeat.threshold, heartbeat.period, heartbeat.treat_missing) == (
        "LessThanThreshold",
        1,
        300,
        "breaching",
    )
    urp = alarms["dataplat-prod-events-under-replicated-partitions-broker-6-critical"]
    assert (urp.threshold, urp.evaluation_periods) == (0, 15)  # Sum > 0 for 15 minutes
    storage = alarms["dataplat-prod-warehouse-free-storage-critical"]
    assert storage.threshold == 1000 * 1024**3 * 0.1  # 10% of prod's 1,000 GiB


def test_msk_cpu_is_metric_math_per_broker(prod: Environment) -> None:
    cpu = [a for a in alarm_catalog(prod) if a.component == "events" and a.key == "cpu"]
    assert len(cpu) == 6  # prod has 6 brokers
    assert cpu[0].expression == "m1 + m2"
    assert {m.name for m in cpu[0].inputs.values()} == {"CpuUser", "CpuSystem"}


def test_request_count_uses_an_anomaly_band(prod: Environment) -> None:
    (alarm,) = [a for a in alarm_catalog(prod) if a.key == "request-count-anomaly"]
    properties = alarm_properties(alarm, ["arn:aws:sns:us-east-1:1:t"])
    assert properties["ThresholdMetricId"] == "ad1"
    assert properties["Metrics"][1]["Expression"] == "ANOMALY_DETECTION_BAND(m1, 2)"
    assert "Threshold" not in properties


def test_the_dr_cluster_is_alarmed_in_its_region(prod: Environment) -> None:
    dr = {a.region for a in alarm_catalog(prod) if a.component in ("events_dr", "events_replicator")}
    assert dr == {"us-west-2"}


def test_the_composite_joins_the_ingest_path_signals(prod: Environment) -> None:
    kinds = {n: c.kind for n, c in prod.spec.components.items()}
    (composite,) = composites(prod.prefix, alarm_catalog(prod), kinds)
    assert composite.rule.count("ALARM(") == 4  # API 5XX, two Lambdas' errors, MSK offline partitions
    assert 'ALARM("dataplat-prod-ingest-api-5xx-rate-critical")' in composite.rule


def test_an_override_changes_one_alarm_and_keeps_the_rest(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = INVENTORY.read_text().replace(
        "      warehouse: {instance_class: db.t4g.micro,",
        "      warehouse: {alarms: {cpu: {threshold: 80, severity: critical},\n"
        "                           replica-lag: {enabled: false}},\n"
        "                  instance_class: db.t4g.micro,",
    )
    env = load_environment("local", write_inventory(text))
    alarms = _by_name(env)
    assert alarms["dataplat-local-warehouse-cpu-critical"].threshold == 80
    assert "dataplat-local-warehouse-cpu-warning" not in alarms
    assert not any(a.key == "replica-lag" and a.component == "warehouse" for a in alarms.values())
    assert (alarms["dataplat-local-warehouse-connections-warning"].threshold or 0) > 0  # untouched


def test_a_qualified_override_changes_one_broker_only(write_inventory) -> None:  # type: ignore[no-untyped-def]
    text = INVENTORY.read_text().replace(
        "      events: {broker_count: 3, storage_gib: 100}",
        "      events: {broker_count: 3, storage_gib: 100, alarms: {disk-used.broker-2: {threshold: 70}}}",
    )
    alarms = _by_name(load_environment("local", write_inventory(text)))
    assert alarms["dataplat-local-events-disk-used-broker-2-critical"].threshold == 70
    assert alarms["dataplat-local-events-disk-used-broker-1-critical"].threshold == 85


@pytest.mark.parametrize(
    ("override", "path", "message"),
    [
        ("{cpuu: {threshold: 1}}", "warehouse.alarms.cpuu", "did you mean 'cpu'"),
        ("{cpu: {severity: info}}", "warehouse.alarms.cpu.severity", None),
        ("{cpu: {datapoints_to_alarm: 9}}", "warehouse.alarms.cpu.datapoints_to_alarm", "more than the 5"),
    ],
)
def test_bad_overrides_are_found_without_aws(
    write_inventory: Callable[..., Path], override: str, path: str, message: str | None
) -> None:
    text = INVENTORY.read_text().replace(
        "      warehouse: {instance_class: db.t4g.micro,",
        f"      warehouse: {{alarms: {override},\n                  instance_class: db.t4g.micro,",
    )
    if "info" in override:
        text = text.replace("    info: {topic: alerts-info}\n", "")
    file = write_inventory(text)
    env = load_environment("local", file)
    problems = override_problems(env)
    assert len(problems) == 1
    (where, text_message) = problems[0]
    assert ".".join(str(p) for p in where).endswith(path)
    if message:
        assert message in text_message
    (line,) = str(load_inventory(file).invalid("local", problems)).splitlines()
    assert re.match(
        rf"^{re.escape(str(file))}:\d+: environments\.local\.components\.{re.escape(path)}: ", line
    )


def _disk_levels(key: str, warning: float | None = 70, critical: float | None = 85) -> list[AlarmSpec]:
    """The `events` cluster's data-log disk as a graded metric."""
    return graded_alarms(
        component="events",
        key=key,
        metric=Metric("AWS/Kafka", "KafkaDataLogsDiskUsed", {"Cluster Name": "c"}, "Maximum"),
        comparison="GreaterThanOrEqualToThreshold",
        periods=3,
        warning=warning,
        critical=critical,
        description="Data log disk filling up.",
    )


def test_a_metric_with_a_warning_and_a_critical_threshold_gives_two_alarms_of_one_key() -> None:
    warning, critical = _disk_levels("disk-used")
    assert (warning.severity, warning.threshold, critical.severity, critical.threshold) == (
        "warning",
        70,
        "critical",
        85,
    )
    assert warning.metric == critical.metric and warning.key == critical.key
    assert (
        warning.name("p") == "p-events-disk-used-warning"
        and critical.name("p") == "p-events-disk-used-critical"
    )
    only_critical = _disk_levels("disk-used", warning=None)
    assert [a.severity for a in only_critical] == ["critical"]


def test_every_kind_of_the_inventory_has_its_module_in_the_registry() -> None:
    union = get_args(Component)[0]  # Annotated[A | B | ..., discriminator]
    kinds = {get_args(model.model_fields["kind"].annotation)[0] for model in get_args(union)}
    assert kinds == set(KINDS)
    assert [k.kind for k in ingest_path()] == ["api_gateway", "lambda", "msk", "glue", "emr", "s3", "rds"]


def _with_graded_disk_alarm(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `events` cluster's kind as if it graded one metric: a warning and a critical level."""
    import alarms.catalog

    shipped = alarms.catalog.defaults

    def defaults(env: Environment, name: str, component: Component) -> list[AlarmSpec]:
        return shipped(env, name, component) + (_disk_levels("disk-graded") if name == "events" else [])

    monkeypatch.setattr(alarms.catalog, "defaults", defaults)


def _overridden(write_inventory: Callable[..., Path], overrides: str) -> Environment:
    text = INVENTORY.read_text().replace(
        "      events: {broker_count: 3, storage_gib: 100}",
        f"      events: {{broker_count: 3, storage_gib: 100, alarms: {overrides}}}",
    )
    return load_environment("local", write_inventory(text))


def test_one_level_of_a_graded_metric_is_overridden_by_its_severity(
    monkeypatch: pytest.MonkeyPatch, write_inventory: Callable[..., Path]
) -> None:
    _with_graded_disk_alarm(monkeypatch)
    env = _overridden(
        write_inventory, "{disk-graded.warning: {threshold: 60}, disk-graded: {evaluation_periods: 5}}"
    )
    assert override_problems(env) == []
    alarms = _by_name(env)
    warning = alarms["dataplat-local-events-disk-graded-warning"]
    critical = alarms["dataplat-local-events-disk-graded-critical"]
    assert (warning.threshold, critical.threshold) == (60, 85)  # one level changed
    assert warning.evaluation_periods == critical.evaluation_periods == 5  # the key's, for both


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ("{disk-graded: {threshold: 60}}", "threshold", "set it in 'disk-graded.warning' or"),
        ("{disk-graded.critical: {severity: warning}}", "severity", "their severities are fixed"),
        ("{disk-graded.info: {threshold: 60}}", None, "unknown alarm 'disk-graded.info'"),
    ],
)
def test_a_graded_metric_refuses_an_ambiguous_override(
    monkeypatch: pytest.MonkeyPatch,
    write_inventory: Callable[..., Path],
    overrides: str,
    field: str | None,
    message: str,
) -> None:
    _with_graded_disk_alarm(monkeypatch)
    ((path, text),) = override_problems(_overridden(write_inventory, overrides))
    assert path[-1] == field if field else str(path[-1]).startswith("disk-graded")
    assert message in text
