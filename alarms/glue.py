"""Glue: job failures (through an EventBridge rule on Glue Job State Change) and failed
tasks per job."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Glue
from ops.inventory.environment import Environment

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


def alarms(env: Environment, name: str, glue: Glue) -> list[AlarmSpec]:
    rule = {"RuleName": failure_rule_name(env, name)}
    found = [
        threshold_alarm(
            name,
            "job-failures",
            "critical",
            Metric("AWS/Events", "TriggeredRules", rule, "Sum"),
            "GreaterThanOrEqualToThreshold",
            1,
            1,
            missing="notBreaching",
            description="A Glue job run failed, timed out or errored (EventBridge Glue Job State Change).",
            source="the cdk-monitoring-constructs pattern: an EventBridge rule, alarmed on TriggeredRules",
        )
    ]
    for job in glue.jobs:
        dims = {"JobName": env.resource_name(job.name), "JobRunId": "ALL", "Type": "count"}
        found.append(
            threshold_alarm(
                name,
                "failed-tasks",
                "warning",
                Metric("Glue", "glue.driver.aggregate.numFailedTasks", dims, "Sum"),
                "GreaterThanThreshold",
                0,
                1,
                qualifier=job.name,
                missing="notBreaching",
                description=f"Spark tasks of {job.name} failed (retried tasks hide data skew and bad input).",
                source="platform-ops default: AWS gives no number",
            )
        )
    return found
