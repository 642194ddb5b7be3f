"""Where a campaign sends its load: the ingest path of the environment, from the inventory
(locally the ingest service; on AWS the ingest API's stage URL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ops.errors import OpsError
from ops.inventory.components import ApiGateway
from ops.inventory.environment import Environment


def ingest_url(env: Environment, aws: Any, local_ingest_url: Callable[[], str]) -> str:
    """`local_ingest_url` is the local platform's answer, asked only for a local environment
    (the composition root knows the platform; an engine does not)."""
    if env.provider == "local":
        return local_ingest_url()
    apis = [c for c in env.spec.components.values() if isinstance(c, ApiGateway)]
    if not apis:
        raise OpsError(f"environment {env.name} has no api_gateway component: no ingest path to load")
    api = apis[0]
    name = env.resource_name(api.api_name)
    if api.api_type == "http":
        for item in aws.client("apigatewayv2").get_apis().get("Items", []):
            if item["Name"] == name:
                return f"{item['ApiEndpoint']}/{api.stage}"
    else:
        for item in aws.client("apigateway").get_rest_apis().get("items", []):
            if item["name"] == name:
                return f"https://{item['id']}.execute-api.{env.region}.amazonaws.com/{api.stage}"
    raise OpsError(f"API {name} not found in {env.name} (deployed by the platform's Terraform?)")
