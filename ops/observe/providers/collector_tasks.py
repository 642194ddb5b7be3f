"""The gateway collectors' ECS task definitions (terraform/modules/adot runs them as a
service): the ADOT image, its configuration from the SSM parameter by `valueFrom`
(AOT_CONFIG_CONTENT), the AMP endpoint the same way, OTLP and health ports, logs.

A task definition is versioned: an update registers a new revision (the service picks it
up at its next deployment); a prune deregisters every active revision of the family."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from adot.generate import HEALTH_PORT, OTLP_GRPC_PORT, OTLP_HTTP_PORT
from ops.inventory.environment import Environment
from ops.observe.providers.base import AwsProvider
from ops.reconcile.model import Observed, Resource

COLLECTOR_TASK_KIND = "collector-task"
CONTAINER = "aws-otel-collector"


def parameter_arn(env: Environment, account: str, name: str) -> str:
    return f"arn:aws:ssm:{env.region}:{account}:parameter{name}"


def task_properties(
    family: str, image: str, config_arn: str, amp_arn: str, roles: dict[str, str], log_group: str, region: str
) -> dict[str, Any]:
    """The canonical form the plan compares: exactly what RegisterTaskDefinition is given."""
    container = {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        "secrets": [
            {"name": "AOT_CONFIG_CONTENT", "valueFrom": config_arn},
            {"name": "AMP_REMOTE_WRITE_URL", "valueFrom": amp_arn},
        ],
        "portMappings": [
            {"containerPort": p, "protocol": "tcp"} for p in (OTLP_GRPC_PORT, OTLP_HTTP_PORT, HEALTH_PORT)
        ],
        "healthCheck": {
            "command": ["/healthcheck"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 30,
        },
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": "collector",
            },
        },
    }
    return {
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "512",
        "memory": "1024",
        "executionRoleArn": roles["execution"],
        "taskRoleArn": roles["task"],
        "containerDefinitions": [container],
    }


class CollectorTasks(AwsProvider):
    kind = COLLECTOR_TASK_KIND
    title = "collector task definitions"
    write_rate = 1.0  # RegisterTaskDefinition: 1 a second sustained
    needs = frozenset({"ecs:RegisterTaskDefinition", "ecs:DeregisterTaskDefinition"})

    def read(self, desired: Sequence[Resource]) -> list[Observed]:
        ecs = self.client("ecs")
        families = {r.name for r in desired}
        families |= {
            f
            for f in ecs.list_task_definition_families(familyPrefix=self.env.prefix, status="ACTIVE")[
                "families"
            ]
        }
        observed = []
        for family in sorted(families):
            try:
                answer = ecs.describe_task_definition(taskDefinition=family, include=["TAGS"])
            except ClientError:
                continue  # no active revision
            tags = {t["key"]: t["value"] for t in answer.get("tags", [])}
            if family not in {r.name for r in desired} and not self.owns(tags):
                continue  # another family under our prefix (the load-test tasks): not ours to show
            definition = answer["taskDefinition"]
            arn = definition["taskDefinitionArn"]
            observed.append(self.observed(family, definition, tags, owned=self.owns(tags), arn=arn))
        return observed

    def canonical(self, described: dict[str, Any]) -> dict[str, Any]:
        """A described task definition in the form of task_properties (AWS adds defaults)."""
        keep = ("name", "image", "essential", "secrets", "portMappings", "healthCheck", "logConfiguration")
        containers = [
            {key: container[key] for key in keep if key in container}
            for container in described.get("containerDefinitions", [])
        ]
        for container in containers:
            container["portMappings"] = [
                {"containerPort": p["containerPort"], "protocol": p.get("protocol", "tcp")}
                for p in container.get("portMappings", [])
            ]
        return {
            "family": described["family"],
            "requiresCompatibilities": described.get("requiresCompatibilities", []),
            "networkMode": described.get("networkMode"),
            "cpu": str(described.get("cpu")),
            "memory": str(described.get("memory")),
            "executionRoleArn": described.get("executionRoleArn"),
            "taskRoleArn": described.get("taskRoleArn"),
            "containerDefinitions": containers,
        }

    def create(self, resource: Resource) -> None:
        # An update registers the same way: a new revision; the old one stays for rollbacks.
        tags = [{"key": k, "value": v} for k, v in sorted(self.tags_to_write(resource).items())]
        self.client("ecs").register_task_definition(**json.loads(json.dumps(resource.properties)), tags=tags)

    def delete(self, observed: Sequence[Observed]) -> None:
        ecs = self.client("ecs")
        for item in observed:
            pages = ecs.get_paginator("list_task_definitions").paginate(
                familyPrefix=item.name, status="ACTIVE"
            )
            for page in pages:
                for arn in page["taskDefinitionArns"]:
                    if arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == item.name:
                        ecs.deregister_task_definition(taskDefinition=arn)
