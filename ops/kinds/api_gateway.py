"""API Gateway, the public ingest API: error rates, latency, and an anomaly band on the
request count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alarms.spec import AlarmSpec, Metric, anomaly_alarm, lookup, threshold_alarm
from ops.inventory.components import ApiGateway
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory


class ApiGatewayKind(ComponentKind[ApiGateway]):
    kind = "api_gateway"
    ingest_stage = 1
    overview_panels = 2
    ingest_path_signals = frozenset({"5xx-rate"})

    def aws_names(self, env: Environment, api: ApiGateway) -> list[str]:
        return [env.resource_name(api.api_name)]

    def settings(self, api: ApiGateway) -> str:
        return f"{api.api_type} API, stage {api.stage}, {len(api.routes)} routes"

    def log_groups(self, env: Environment, name: str, api: ApiGateway) -> list[str]:
        return [f"/{env.platform}/{env.name}/apigateway/{env.resource_name(api.api_name)}"]

    def seed(self, factory: ClientFactory, env: Environment, name: str, api: ApiGateway) -> dict[str, str]:
        client = factory.client("apigatewayv2")
        api_name = env.resource_name(api.api_name)
        for item in client.get_apis().get("Items", []):
            if item["Name"] == api_name:
                return {"api_id": item["ApiId"]}
        created = client.create_api(Name=api_name, ProtocolType="HTTP", Tags=env.ownership_tags())
        return {"api_id": created["ApiId"]}

    def alarms(self, env: Environment, name: str, api: ApiGateway) -> list[AlarmSpec]:
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
                component=name,
                key="4xx-rate",
                severity="warning",
                metric=metric(client_errors, "Average"),
                comparison="GreaterThanThreshold",
                threshold=0.05,
                periods=5,
                description=(
                    "More than 5% of ingest requests are rejected as client errors (bad payloads, auth)."
                ),
            ),
            threshold_alarm(
                component=name,
                key="5xx-rate",
                severity="critical",
                metric=metric(server_errors, "Average"),
                comparison="GreaterThanThreshold",
                threshold=0.05,
                periods=3,
                description=(
                    "More than 5% of ingest requests fail on the server side: records are being lost."
                ),
            ),
            threshold_alarm(
                component=name,
                key="latency-p90",
                severity="warning",
                metric=metric("Latency", "p90"),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=2500,
                periods=5,
                description="p90 latency of the ingest API is at or above 2.5 s.",
            ),
            threshold_alarm(
                component=name,
                key="integration-latency-p90",
                severity="warning",
                metric=metric("IntegrationLatency", "p90"),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=2000,
                periods=5,
                description="p90 latency of the Lambda integrations is at or above 2 s.",
            ),
            anomaly_alarm(
                component=name,
                key="request-count-anomaly",
                metric=metric("Count", "SampleCount", 300),
                comparison="LessThanLowerThreshold",
                periods=10,
                missing="breaching",
                description="Ingest traffic fell below its usual band: upstream producers may have stopped.",
                source="AWS recommended (Count below a baseline: an anomaly band, 2 standard deviations)",
            ),
        ]


KIND = ApiGatewayKind()
