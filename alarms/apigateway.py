"""API Gateway: error rates, latency, and an anomaly band on the request count."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, anomaly_alarm, lookup, threshold_alarm
from ops.inventory.components import ApiGateway
from ops.inventory.environment import Environment


def alarms(env: Environment, name: str, api: ApiGateway) -> list[AlarmSpec]:
    api_name = env.resource_name(api.api_name)
    if api.api_type == "http":
        # HTTP APIs report 4xx/5xx by ApiId, which is looked up by name at plan time.
        dims = {"ApiId": lookup("apigatewayv2", api_name), "Stage": api.stage}
        client_errors, server_errors = "4xx", "5xx"
    else:
        dims = {"ApiName": api_name, "Stage": api.stage}
        client_errors, server_errors = "4XXError", "5XXError"

    def metric(metric_name: str, stat: str, period: int = 60) -> Metric:
        return Metric("AWS/ApiGateway", metric_name, dims, stat, period)

    return [
        threshold_alarm(
            name,
            "4xx-rate",
            "warning",
            metric(client_errors, "Average"),
            "GreaterThanThreshold",
            0.05,
            5,
            description="More than 5% of ingest requests are rejected as client errors (bad payloads, auth).",
        ),
        threshold_alarm(
            name,
            "5xx-rate",
            "critical",
            metric(server_errors, "Average"),
            "GreaterThanThreshold",
            0.05,
            3,
            description="More than 5% of ingest requests fail on the server side: records are being lost.",
        ),
        threshold_alarm(
            name,
            "latency-p90",
            "warning",
            metric("Latency", "p90"),
            "GreaterThanOrEqualToThreshold",
            2500,
            5,
            description="p90 latency of the ingest API is at or above 2.5 s.",
        ),
        threshold_alarm(
            name,
            "integration-latency-p90",
            "warning",
            metric("IntegrationLatency", "p90"),
            "GreaterThanOrEqualToThreshold",
            2000,
            5,
            description="p90 latency of the Lambda integrations is at or above 2 s.",
        ),
        anomaly_alarm(
            name,
            "request-count-anomaly",
            metric("Count", "SampleCount", 300),
            "LessThanLowerThreshold",
            10,
            missing="breaching",
            description="Ingest traffic fell below its usual band: upstream producers may have stopped.",
            source="AWS recommended (Count below a baseline: an anomaly band, 2 standard deviations)",
        ),
    ]
