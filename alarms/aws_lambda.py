"""Lambda: errors, throttles, duration against the timeout, concurrency."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Lambda
from ops.inventory.environment import Environment

ACCOUNT_CONCURRENCY_QUOTA = 1000  # the default per-region quota


def alarms(env: Environment, name: str, fn: Lambda) -> list[AlarmSpec]:
    dims = {"FunctionName": env.resource_name(fn.function_name)}

    def metric(metric_name: str, stat: str) -> Metric:
        return Metric("AWS/Lambda", metric_name, dims, stat)

    return [
        threshold_alarm(
            name,
            "errors",
            "critical",
            metric("Errors", "Sum"),
            "GreaterThanThreshold",
            5,
            3,
            missing="notBreaching",
            description="The ingest function raised more than 5 errors a minute for 3 minutes.",
            source="AWS recommended shape (Sum > T, 3 of 3); T = 5 is platform-ops' default",
        ),
        threshold_alarm(
            name,
            "throttles",
            "warning",
            metric("Throttles", "Sum"),
            "GreaterThanOrEqualToThreshold",
            5,
            5,
            missing="notBreaching",
            description="Invocations are throttled: concurrency is exhausted.",
            source="AWS recommended shape (Sum >= T, 5 of 5); T = 5 is platform-ops' default",
        ),
        threshold_alarm(
            name,
            "duration-p90",
            "warning",
            metric("Duration", "p90"),
            "GreaterThanThreshold",
            fn.timeout_seconds * 1000 * 0.8,
            15,
            description="p90 duration is above 80% of the function's timeout: timeouts are near.",
            source="AWS recommended shape (p90 > T, 15 of 15); T = 80% of timeout_seconds",
        ),
        threshold_alarm(
            name,
            "concurrency",
            "warning",
            metric("ConcurrentExecutions", "Maximum"),
            "GreaterThanThreshold",
            ACCOUNT_CONCURRENCY_QUOTA * 0.9,
            10,
            description="Concurrent executions above 90% of the account's default quota (1,000).",
        ),
    ]
