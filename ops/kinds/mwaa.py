"""MWAA: the scheduler's heartbeat, queued tasks' age, and container CPU/memory."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Mwaa
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind

AIRFLOW_LOGS = ("DAGProcessing", "Scheduler", "Task", "WebServer", "Worker")

PERIOD = 300  # the console's recommended set uses 5-minute periods


class MwaaKind(ComponentKind[Mwaa]):
    kind = "mwaa"

    def aws_names(self, env: Environment, mwaa: Mwaa) -> list[str]:
        return [env.resource_name(mwaa.environment_name)]

    def settings(self, mwaa: Mwaa) -> str:
        return f"Airflow {mwaa.airflow_version}, {mwaa.environment_class}"

    def log_groups(self, env: Environment, name: str, mwaa: Mwaa) -> list[str]:
        base = f"airflow-{env.resource_name(mwaa.environment_name)}"  # MWAA picks these names
        return [f"{base}-{log}" for log in AIRFLOW_LOGS]

    def alarms(self, env: Environment, name: str, mwaa: Mwaa) -> list[AlarmSpec]:
        environment = env.resource_name(mwaa.environment_name)
        scheduler = {"Environment": environment, "Function": "Scheduler"}
        queue = {"Environment": environment}
        cluster = {"Environment": environment, "Cluster": "BaseWorker"}
        return [
            threshold_alarm(
                component=name,
                key="scheduler-heartbeat",
                severity="critical",
                metric=Metric("AmazonMWAA", "SchedulerHeartbeat", scheduler, "Sum", PERIOD),
                comparison="LessThanThreshold",
                threshold=1,
                periods=2,
                missing="breaching",
                description="The Airflow scheduler stopped heart-beating: no DAG runs are being scheduled.",
            ),
            threshold_alarm(
                component=name,
                key="oldest-task-age",
                severity="warning",
                metric=Metric("AWS/MWAA", "ApproximateAgeOfOldestTask", queue, "Maximum", PERIOD),
                comparison="GreaterThanThreshold",
                threshold=1800,
                periods=3,
                description="A task has waited in the queue for more than 30 minutes: workers are saturated.",
            ),
            threshold_alarm(
                component=name,
                key="worker-cpu",
                severity="warning",
                metric=Metric("AWS/MWAA", "CPUUtilization", cluster, "Average", PERIOD),
                comparison="GreaterThanThreshold",
                threshold=95,
                periods=6,
                description="Worker CPU above 95%.",
            ),
            threshold_alarm(
                component=name,
                key="worker-memory",
                severity="warning",
                metric=Metric("AWS/MWAA", "MemoryUtilization", cluster, "Average", PERIOD),
                comparison="GreaterThanThreshold",
                threshold=95,
                periods=6,
                description="Worker memory above 95%.",
            ),
        ]


KIND = MwaaKind()
