"""What a Fargate campaign will start, read before anything starts: the task definitions
and the network that terraform/modules/loadtest made, the task sizes, and the price of the
whole launch (printed by a dry run, held against --max-cost)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.campaign.cost import Cost, TaskSize, estimate
from ops.campaign.spec import Campaign
from ops.contracts import loadtest_network_parameter
from ops.errors import OpsError
from ops.inventory.environment import Environment

MASTER_URL_ENV = "OPS_LOADTEST_MASTER_URL"
LIFETIME_MARGIN_S = 600.0  # start-up, shut-down and a slow upload on top of the duration


@dataclass(frozen=True)
class FargateLaunch:
    """What a campaign will start: printed by a dry run and priced before a launch."""

    cluster: str
    master_task: str  # task definition ARNs
    worker_task: str
    container: str
    master_size: TaskSize
    worker_size: TaskSize
    workers: int
    spot: bool
    subnets: list[str]
    security_groups: list[str]
    target_url: str
    results: str  # s3://bucket/<campaign id>/locust/
    lifetime_s: float

    def cost(self, duration_s: float, env: Environment) -> Cost:
        prices = env.spec.loadtest_settings.prices
        return estimate(self.master_size, self.worker_size, self.workers, duration_s, prices, self.spot)


def _task_definition(ecs: Any, family: str) -> dict[str, Any]:
    try:
        return ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]  # type: ignore[no-any-return]
    except ClientError as error:
        raise OpsError(
            f"task definition {family}: {error.response['Error']['Code']} "
            f"(apply terraform/modules/loadtest for this environment)"
        ) from error


def _network(ssm: Any, name: str) -> tuple[list[str], list[str]]:
    try:
        value = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        return list(value["subnets"]), list(value["security_groups"])
    except ClientError as error:
        raise OpsError(
            f"SSM parameter {name}: {error.response['Error']['Code']} "
            f"(terraform/modules/loadtest writes it; apply the module)"
        ) from error
    except (ValueError, KeyError, TypeError) as error:
        raise OpsError(f"SSM parameter {name}: not JSON with 'subnets' and 'security_groups'") from error


def refuse_made_up_addresses(aws: Any) -> None:
    """An emulator's tasks have made-up private addresses: never send traffic there."""
    if getattr(aws.target, "endpoint_url", None) and not os.environ.get(MASTER_URL_ENV):
        raise OpsError(
            f"against an AWS endpoint override the master's private IP is not reachable; "
            f"set {MASTER_URL_ENV} (a forwarded port on 127.0.0.1)"
        )


def prepare_launch(
    aws: Any, env: Environment, spec: Campaign, target_url: str, campaign_id: str
) -> FargateLaunch:
    """Read the task definitions and the network: what RunTask will be given."""
    refuse_made_up_addresses(aws)
    settings = env.spec.loadtest_settings
    if not settings.results_bucket:
        raise OpsError(
            f"loadtest_settings.results_bucket: environment {env.name} has none; the master uploads there"
        )
    ecs = aws.client("ecs")
    master = _task_definition(ecs, env.resource_name(settings.master_task))
    worker = _task_definition(ecs, env.resource_name(settings.worker_task))
    subnets, groups = _network(aws.client("ssm"), loadtest_network_parameter(env))
    worker_size = TaskSize(
        spec.fargate.worker_cpu or int(worker["cpu"]), spec.fargate.worker_memory or int(worker["memory"])
    )
    return FargateLaunch(
        cluster=env.resource_name(settings.cluster),
        master_task=master["taskDefinitionArn"],
        worker_task=worker["taskDefinitionArn"],
        container=settings.container,
        master_size=TaskSize(int(master["cpu"]), int(master["memory"])),
        worker_size=worker_size,
        workers=spec.workers,
        spot=spec.fargate.spot,
        subnets=subnets,
        security_groups=groups,
        target_url=target_url,
        results=f"s3://{env.resource_name(settings.results_bucket)}/{campaign_id}/locust/",
        lifetime_s=spec.total_duration + LIFETIME_MARGIN_S,
    )
