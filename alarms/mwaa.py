"""MWAA: the scheduler's heartbeat, queued tasks' age, and container CPU/memory."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Mwaa
from ops.inventory.environment import Environment

PERIOD = 300  # the console's recommended set uses 5-minute periods


def alarms(env: Environment, name: str, mwaa: Mwaa) -> list[AlarmSpec]:
    environment = env.resource_name(mwaa.environment_name)
    scheduler = {"Environment": environment, "Function": "Scheduler"}
    queue = {"Environment": environment}
    cluster = {"Environment": environment, "Cluster": "BaseWorker"}
    return [
        threshold_alarm(
            name,
            "scheduler-heartbeat",
            "critical",
            Metric("AmazonMWAA", "SchedulerHeartbeat", scheduler, "Sum", PERIOD),
            "LessThanThreshold",
            1,
            2,
            missing="breaching",
            description="The Airflow scheduler stopped heart-beating: no DAG runs are being scheduled.",
        ),
        threshold_alarm(
            name,
            "oldest-task-age",
            "warning",
            Metric("AWS/MWAA", "ApproximateAgeOfOldestTask", queue, "Maximum", PERIOD),
            "GreaterThanThreshold",
            1800,
            3,
            description="A task has waited in the queue for more than 30 minutes: workers are saturated.",
        ),
        threshold_alarm(
            name,
            "worker-cpu",
            "warning",
            Metric("AWS/MWAA", "CPUUtilization", cluster, "Average", PERIOD),
            "GreaterThanThreshold",
            95,
            6,
            description="Worker CPU above 95%.",
        ),
        threshold_alarm(
            name,
            "worker-memory",
            "warning",
            Metric("AWS/MWAA", "MemoryUtilization", cluster, "Average", PERIOD),
            "GreaterThanThreshold",
            95,
            6,
            description="Worker memory above 95%.",
        ),
    ]
