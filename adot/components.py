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

DISTRIBUTIONS = {"collector": COLLECTOR, "lambda": LAMBDA_LAYER}
