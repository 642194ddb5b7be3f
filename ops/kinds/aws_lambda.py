"""Lambda, the ingest functions: errors, throttles, duration against the timeout,
concurrency."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Lambda
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind
from ops.kinds.seeding import service_role

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory

ACCOUNT_CONCURRENCY_QUOTA = 1000  # the default per-region quota


class LambdaKind(ComponentKind[Lambda]):
    kind = "lambda"
    ingest_stage = 2
    overview_panels = 2
    ingest_path_signals = frozenset({"errors"})

    def aws_names(self, env: Environment, fn: Lambda) -> list[str]:
        return [env.resource_name(fn.function_name)]

    def settings(self, fn: Lambda) -> str:
        target = fn.produces_to
        return f"{fn.memory_mb} MB, {fn.timeout_seconds} s -> {target.cluster}/{target.topic}"

    def log_groups(self, env: Environment, name: str, fn: Lambda) -> list[str]:
        return [f"/aws/lambda/{env.resource_name(fn.function_name)}"]

    def seed(self, factory: ClientFactory, env: Environment, name: str, fn: Lambda) -> dict[str, str]:
        client = factory.client("lambda")
        function = env.resource_name(fn.function_name)
        try:
            return {"arn": client.get_function(FunctionName=function)["Configuration"]["FunctionArn"]}
        except client.exceptions.ResourceNotFoundException:
            pass
        created = client.create_function(
            FunctionName=function,
            Runtime="python3.12",
            Role=service_role(factory, env, "ingest-lambda", "lambda.amazonaws.com"),
            Handler="handler.handler",
            Code={"ZipFile": _placeholder_zip()},
            MemorySize=fn.memory_mb,
            Timeout=fn.timeout_seconds,
            Tags=env.ownership_tags(),
        )
        return {"arn": created["FunctionArn"]}

    def alarms(self, env: Environment, name: str, fn: Lambda) -> list[AlarmSpec]:
        dims = {"FunctionName": env.resource_name(fn.function_name)}

        def metric(metric_name: str, stat: str) -> Metric:
            return Metric("AWS/Lambda", metric_name, dims, stat)

        return [
            threshold_alarm(
                component=name,
                key="errors",
                severity="critical",
                metric=metric("Errors", "Sum"),
                comparison="GreaterThanThreshold",
                threshold=5,
                periods=3,
                missing="notBreaching",
                description="The ingest function raised more than 5 errors a minute for 3 minutes.",
                source="AWS recommended shape (Sum > T, 3 of 3); T = 5 is platform-ops' default",
            ),
            threshold_alarm(
                component=name,
                key="throttles",
                severity="warning",
                metric=metric("Throttles", "Sum"),
                comparison="GreaterThanOrEqualToThreshold",
                threshold=5,
                periods=5,
                missing="notBreaching",
                description="Invocations are throttled: concurrency is exhausted.",
                source="AWS recommended shape (Sum >= T, 5 of 5); T = 5 is platform-ops' default",
            ),
            threshold_alarm(
                component=name,
                key="duration-p90",
                severity="warning",
                metric=metric("Duration", "p90"),
                comparison="GreaterThanThreshold",
                threshold=fn.timeout_seconds * 1000 * 0.8,
                periods=15,
                description="p90 duration is above 80% of the function's timeout: timeouts are near.",
                source="AWS recommended shape (p90 > T, 15 of 15); T = 80% of timeout_seconds",
            ),
            threshold_alarm(
                component=name,
                key="concurrency",
                severity="warning",
                metric=metric("ConcurrentExecutions", "Maximum"),
                comparison="GreaterThanThreshold",
                threshold=ACCOUNT_CONCURRENCY_QUOTA * 0.9,
                periods=10,
                description="Concurrent executions above 90% of the account's default quota (1,000).",
            ),
        ]


def _placeholder_zip() -> bytes:
    """The emulator needs code to create a function; the real ingest code ships elsewhere."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'statusCode': 202}\n")
    return buffer.getvalue()


KIND = LambdaKind()
