"""The least-privilege IAM policy of a runbook: exactly the AWS actions its steps name."""

from __future__ import annotations

from typing import Any

from ops.inventory.environment import Environment
from ops.runbook.model import Step

# Step calls name AWS actions as `<service>:<Operation>`; other calls (postgres:, http:)
# are not AWS's and need no policy.
AWS_SERVICES = {
    "ssm",
    "cloudwatch",
    "rds",
    "kafka",
    "sns",
    "s3",
    "dynamodb",
    "route53",
    "secretsmanager",
    "sts",
}


def policy(steps: list[Step], env: Environment, account: str = "*") -> dict[str, Any]:
    actions = sorted({call for step in steps for call in step.calls if call.split(":", 1)[0] in AWS_SERVICES})
    statements: list[dict[str, Any]] = []
    ssm = [a for a in actions if a.startswith("ssm:")]
    if ssm:  # the endpoint parameters of this environment, nothing else
        statements.append(
            {
                "Sid": "EndpointParameters",
                "Effect": "Allow",
                "Action": ssm,
                "Resource": f"arn:aws:ssm:{env.region}:{account}:parameter/{env.platform}/{env.name}/*",
            }
        )
    others = [a for a in actions if not a.startswith("ssm:")]
    if others:  # these Describe/List actions take no resource-level permissions
        statements.append({"Sid": "ReadOnlyDescribes", "Effect": "Allow", "Action": others, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}
