"""The components each ADOT distribution ships, by kind (the configuration's type strings).

The collector's set is aws-otel-collector's pkg/defaultcomponents (shared/reference has the
snapshot read); the Lambda layer's is aws-otel-lambda's adot/collector/lambdacomponents,
much smaller (no processor at all). A component of opentelemetry-collector-contrib that a
distribution does not ship fails there at start-up: `ops adot validate` says so first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["extensions", "receivers", "processors", "exporters", "connectors"]
KINDS: tuple[Kind, ...] = ("extensions", "receivers", "processors", "exporters", "connectors")
Signal = Literal["traces", "metrics", "logs"]


@dataclass(frozen=True)
class Distribution:
    name: str
    components: dict[Kind, frozenset[str]]

    def ships(self, kind: Kind, type_: str) -> bool:
        return type_ in self.components.get(kind, frozenset())


COLLECTOR = Distribution(
    "the ADOT collector",
    {
        "extensions": frozenset(
            {
                "awsproxy",
                "ecs_observer",
                "health_check",
                "pprof",
                "sigv4auth",
                "zpages",
                "memory_ballast",
                "file_storage",
            }
        ),
        "receivers": frozenset(
            {
                "awsecscontainermetrics",
                "awscontainerinsightreceiver",
                "awsxray",
                "statsd",
                "prometheus",
                "kafka",
                "jaeger",
                "zipkin",
                "otlp",
                "filelog",
            }
        ),
        "processors": frozenset(
            {
                "groupbytrace",
                "tail_sampling",
                "attributes",
                "resource",
                "probabilistic_sampler",
                "span",
                "filter",
                "metricstransform",
                "resourcedetection",
                "experimental_metricsgeneration",
                "cumulativetodelta",
                "deltatorate",
                "batch",
                "memory_limiter",
                "k8sattributes",
            }
        ),
        "exporters": frozenset(
            {
                "awsemf",
                "prometheusremotewrite",
                "prometheus",
                "file",
                "kafka",
                "debug",
                "logging",
                "otlp",
                "otlphttp",
                "awsxray",
                "loadbalancing",
                "awscloudwatchlogs",
            }
        ),
        "connectors": frozenset(),
    },
)

LAMBDA_LAYER = Distribution(
    "the ADOT Lambda layer",
    {
        "extensions": frozenset({"sigv4auth"}),
        "receivers": frozenset({"otlp"}),
        "processors": frozenset(),
        "exporters": frozenset(
            {"awsxray", "awsemf", "prometheus", "prometheusremotewrite", "logging", "otlp", "otlphttp"}
        ),
        "connectors": frozenset(),
    },
)

_ALL: frozenset[Signal] = frozenset({"traces", "metrics", "logs"})
_TRACES: frozenset[Signal] = frozenset({"traces"})
_METRICS: frozenset[Signal] = frozenset({"metrics"})
_LOGS: frozenset[Signal] = frozenset({"logs"})

# The signals each receiver, processor and exporter of the lists above takes: in a pipeline
# of another signal the collector refuses to start ("telemetry type is not supported").
# Where from: the components our collector build has (adot/builder.yaml) as its `components`
# command lists them (a signal with stability "Undefined" is one it does not take):
# receivers otlp, prometheus, awsecscontainermetrics; processors batch, memory_limiter;
# exporters debug, prometheusremotewrite (`prometheus_remote_write` there). Every other one,
# from its documentation in opentelemetry-collector-contrib (the README's status table):
# awsemf metrics, awsxray traces, resourcedetection all three, loadbalancing all three
# (metrics in development), probabilistic_sampler traces and logs.
SIGNALS: dict[Kind, dict[str, frozenset[Signal]]] = {
    "receivers": {
        "awsecscontainermetrics": _METRICS,
        "awscontainerinsightreceiver": _METRICS,
        "awsxray": _TRACES,
        "statsd": _METRICS,
        "prometheus": _METRICS,
        "kafka": _ALL,
        "jaeger": _TRACES,
        "zipkin": _TRACES,
        "otlp": _ALL,
        "filelog": _LOGS,
    },
    "processors": {
        "groupbytrace": _TRACES,
        "tail_sampling": _TRACES,
        "attributes": _ALL,
        "resource": _ALL,
        "probabilistic_sampler": frozenset({"traces", "logs"}),
        "span": _TRACES,
        "filter": _ALL,
        "metricstransform": _METRICS,
        "resourcedetection": _ALL,
        "experimental_metricsgeneration": _METRICS,
        "cumulativetodelta": _METRICS,
        "deltatorate": _METRICS,
        "batch": _ALL,
        "memory_limiter": _ALL,
        "k8sattributes": _ALL,
    },
    "exporters": {
        "awsemf": _METRICS,
        "prometheusremotewrite": _METRICS,
        "prometheus": _METRICS,
        "file": _ALL,
        "kafka": _ALL,
        "debug": _ALL,
        "logging": _ALL,
        "otlp": _ALL,
        "otlphttp": _ALL,
        "awsxray": _TRACES,
        "loadbalancing": _ALL,
        "awscloudwatchlogs": _LOGS,
    },
}

DISTRIBUTIONS = {"collector": COLLECTOR, "lambda": LAMBDA_LAYER}
