"""Collector configurations generated from the inventory, one per collector of the `adot`
component: the gateway service on ECS Fargate, the sidecar of ECS tasks, the Lambda layer.

Every pipeline with processors starts with memory_limiter and ends with batch (ADOT's
guidance: refuse data before running out of memory; batch what is left). Values known only
at deploy time come from the environment (`${env:NAME}`), filled by the task definition:
AMP_REMOTE_WRITE_URL (terraform/modules/observability's AMP workspace) and, for the
gateway's Prometheus scrape, INGEST_METRICS_TARGET."""

from __future__ import annotations

import io
import re
from typing import Any, NamedTuple

from ruamel.yaml import YAML

from ops.inventory.components import Adot, Collector
from ops.inventory.environment import Environment
from ops.telemetry.metrics import FAMILIES

OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318  # the toolkit's own spans go here (OTEL_EXPORTER_OTLP_ENDPOINT)
HEALTH_PORT = 13133


def emf_log_group(env: Environment) -> str:
    """Where awsemf writes its metrics (kept with the environment's retention by `ops observe`)."""
    return f"/{env.platform}/{env.name}/adot/metrics"


def metrics_namespace(env: Environment) -> str:
    return f"{env.platform.capitalize()}/{env.name.capitalize()}/Otel"


def _otlp(host: str) -> dict[str, Any]:
    return {
        "protocols": {
            "grpc": {"endpoint": f"{host}:{OTLP_GRPC_PORT}"},
            "http": {"endpoint": f"{host}:{OTLP_HTTP_PORT}"},
        }
    }


# The ingest service's Prometheus metrics (scraped by the gateway), by their labels.
INGEST_DECLARATION = {
    "dimensions": [["record_type", "outcome"], ["record_type"]],
    "metric_name_selectors": ["^ingest_"],
}


def gateway_metric_declarations() -> list[dict[str, Any]]:
    """What the gateway's awsemf makes CloudWatch metrics of: the toolkit's own metrics and the
    ingest service's, each with its own attributes as dimensions. Without declarations every
    attribute, resource ones included (a task ARN), would be a dimension: a metric per task."""
    toolkit = [
        {"dimensions": [list(family.attributes)], "metric_name_selectors": [f"^{re.escape(family.prefix)}"]}
        for family in FAMILIES
    ]
    return [*toolkit, INGEST_DECLARATION]


def _exporters(env: Environment, collector: Collector) -> dict[str, Any]:
    awsemf: dict[str, Any] = {
        "region": env.region,
        "namespace": metrics_namespace(env),
        "log_group_name": emf_log_group(env),
        "log_stream_name": f"{collector.name}/{{TaskId}}" if collector.mode != "lambda" else collector.name,
        "resource_to_telemetry_conversion": {"enabled": True},
    }
    if collector.mode == "gateway":
        awsemf["metric_declarations"] = gateway_metric_declarations()
    return {
        "awsxray": {"region": env.region},
        "awsemf": awsemf,
        "prometheusremotewrite": {
            "endpoint": "${env:AMP_REMOTE_WRITE_URL}",
            "auth": {"authenticator": "sigv4auth"},
            "resource_to_telemetry_conversion": {"enabled": True},
        },
    }


PROCESSORS = {
    "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 25},
    "resourcedetection": {"detectors": ["env", "ecs"], "timeout": "2s", "override": False},
    "batch/traces": {"timeout": "1s", "send_batch_size": 256},
    "batch/metrics": {"timeout": "30s", "send_batch_size": 1024},
}


def _pipelines(metrics_receivers: list[str], with_processors: bool) -> dict[str, Any]:
    def processors(batch: str) -> dict[str, Any]:
        return {"processors": ["memory_limiter", "resourcedetection", batch]} if with_processors else {}

    return {
        "traces": {"receivers": ["otlp"], **processors("batch/traces"), "exporters": ["awsxray"]},
        "metrics": {
            "receivers": metrics_receivers,
            **processors("batch/metrics"),
            "exporters": ["awsemf", "prometheusremotewrite"],
        },
    }


def collector_config(env: Environment, collector: Collector) -> dict[str, Any]:
    sigv4 = {"region": env.region, "service": "aps"}
    if collector.mode == "lambda":  # the layer ships no processor and a few components
        return {
            "extensions": {"sigv4auth": sigv4},
            "receivers": {"otlp": _otlp("localhost")},
            "exporters": _exporters(env, collector),
            "service": {
                "extensions": ["sigv4auth"],
                "pipelines": _pipelines(["otlp"], with_processors=False),
            },
        }
    receivers: dict[str, Any] = {"otlp": _otlp("0.0.0.0" if collector.mode == "gateway" else "localhost")}
    if collector.mode == "gateway":
        receivers["prometheus"] = {
            "config": {
                "scrape_configs": [
                    {
                        "job_name": "ingest",
                        "scrape_interval": "30s",
                        "metrics_path": "/metrics/",
                        "static_configs": [{"targets": ["${env:INGEST_METRICS_TARGET}"]}],
                    }
                ]
            }
        }
    else:
        receivers["awsecscontainermetrics"] = {"collection_interval": "30s"}
    return {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_PORT}"}, "sigv4auth": sigv4},
        "receivers": receivers,
        "processors": dict(PROCESSORS),
        "exporters": _exporters(env, collector),
        "service": {
            "extensions": ["health_check", "sigv4auth"],
            "pipelines": _pipelines(
                [name for name in receivers if name != "otlp"] + ["otlp"], with_processors=True
            ),
        },
    }


def render(config: dict[str, Any]) -> str:
    """YAML text, stable for a given configuration (what is stored and fingerprinted)."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(config, out)
    return out.getvalue()


class GeneratedConfig(NamedTuple):
    collector: Collector
    text: str  # the YAML
    component: str  # the inventory's adot component that has the collector


def collector_configs(env: Environment) -> dict[str, GeneratedConfig]:
    """Every collector of the environment, by its name."""
    found: dict[str, GeneratedConfig] = {}
    for component_name, component in env.components_of(Adot).items():
        for collector in component.collectors:
            text = render(collector_config(env, collector))
            found[collector.name] = GeneratedConfig(collector, text, component_name)
    return found
