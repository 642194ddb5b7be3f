"""Glue, the ETL jobs: job failures (through an EventBridge rule on Glue Job State Change)
and failed tasks per job."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Glue
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind
from ops.kinds.seeding import exists, service_role

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory

FAILED_STATES = ("FAILED", "TIMEOUT", "ERROR")


def failure_rule_name(env: Environment, name: str) -> str:
    return env.resource_name(f"{name}-job-failures")


def failure_rule_pattern(env: Environment, glue: Glue) -> dict[str, object]:
    """The EventBridge pattern that matches a failed run of one of our jobs."""
    return {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {
            "state": list(FAILED_STATES),
            "jobName": sorted(env.resource_name(job.name) for job in glue.jobs),
        },
    }


class GlueKind(ComponentKind[Glue]):
    kind = "glue"
    ingest_stage = 4
    overview_panels = 1

    def aws_names(self, env: Environment, glue: Glue) -> list[str]:
        return [env.resource_name(job.name) for job in glue.jobs]

    def settings(self, glue: Glue) -> str:
        return f"{len(glue.jobs)} jobs"

    def log_groups(self, env: Environment, name: str, glue: Glue) -> list[str]:
        return [f"/{env.platform}/{env.name}/glue/{env.resource_name(job.name)}" for job in glue.jobs]

    def event_rules(self, env: Environment, name: str, glue: Glue) -> dict[str, dict[str, Any]]:
        rule: dict[str, Any] = {
            "EventPattern": json.dumps(failure_rule_pattern(env, glue)),
            "State": "ENABLED",
            "Description": f"Failed runs of {name}'s Glue jobs; alarmed by {env.prefix}-{name}-job-failures",
        }
        return {failure_rule_name(env, name): rule}

    def seed(self, factory: ClientFactory, env: Environment, name: str, glue: Glue) -> dict[str, str]:
        client = factory.client("glue")
        role = service_role(factory, env, "glue", "glue.amazonaws.com")
        jobs: dict[str, str] = {}
        for job in glue.jobs:
            job_name = env.resource_name(job.name)
            if not exists(lambda n=job_name: client.get_job(JobName=n)):  # type: ignore[misc]
                client.create_job(
                    Name=job_name,
                    Role=role,
                    GlueVersion=job.glue_version,
                    WorkerType=job.worker_type,
                    NumberOfWorkers=job.number_of_workers,
                    Command={"Name": "glueetl", "ScriptLocation": f"s3://{job_name}/scripts/{job.name}.py"},
                    Tags=env.ownership_tags(),
                )
            jobs[job.name] = job_name
        return jobs

    def alarms(self, env: Environment, name: str, glue: Glue) -> list[AlarmSpec]:
        rule = {"RuleName": failure_rule_name(env, name)}
        found = [
            threshold_alarm(
                component=name,
                key="job-failures",
                severity="critical",
                metric=Metric("AWS/Events", "TriggeredRules", rule, "Sum"),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=1,
                periods=1,
                missing="notBreaching",
                description=(
                    "A Glue job run failed, timed out or errored (EventBridge Glue Job State Change)."
                ),
                source=(
                    "the cdk-monitoring-constructs pattern: an EventBridge rule, alarmed on TriggeredRules"
                ),
            )
        ]
        for job in glue.jobs:
            dims = {"JobName": env.resource_name(job.name), "JobRunId": "ALL", "Type": "count"}
            found.append(
                threshold_alarm(
                    component=name,
                    key="failed-tasks",
                    severity="warning",
                    metric=Metric("Glue", "glue.driver.aggregate.numFailedTasks", dims, "Sum"),
                    comparison="GreaterThanThreshold",
                    threshold=0,
                    periods=1,
                    qualifier=job.name,
                    missing="notBreaching",
                    description=(
                        f"Spark tasks of {job.name} failed (retried tasks hide data skew and bad input)."
                    ),
                    source="platform-ops default: AWS gives no number",
                )
            )
        return found


KIND = GlueKind()
