"""Drills on a schedule: an EventBridge Scheduler schedule per drill (runbook and component)
that starts the toolkit's image as an ECS task running `ops drill run NAME --env E
--component C` on the drills cluster that terraform/modules/drills makes.

The names the module makes are derived here, once, from the environment's prefix (the
module uses the same suffixes; tests/unit/test_terraform.py compares them):

- cluster and task definition family `<prefix>-drills`, its container `ops`;
- roles `<prefix>-drills-task` (the runbooks' IAM), `<prefix>-drills-execution` (image and
  logs) and `<prefix>-drills-scheduler` (RunTask of the family, PassRole of the two);
- log group `/<platform>/<env>/drills`, the network SSM parameter `/<platform>/<env>/drills/network`;
- the schedule group `<prefix>-drills` (the toolkit's schedules: only those in it are listed),
  each schedule `<prefix>-drill-<runbook>-<component>`.

Scheduler tags schedule groups, not schedules: the group carries the ownership tags.
The cron and time-zone rules are ops/runbook/cron.py. Nothing here calls AWS before the
input is valid."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ops.errors import BadInput, OpsError
from ops.inventory.environment import Environment
from ops.runbook.model import Runbook

# --- the names terraform/modules/drills makes ------------------------------------------------
DRILLS = "drills"  # cluster, family, schedule group: <prefix>-drills
CONTAINER = "ops"  # the task definition's one container (ENTRYPOINT ["ops"])
TASK_ROLE = "drills-task"
EXECUTION_ROLE = "drills-execution"
SCHEDULER_ROLE = "drills-scheduler"
SCHEDULE_INFIX = "drill"  # <prefix>-drill-<runbook>-<component>

NAME_RULE = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")  # Scheduler's rule for schedule and group names
MAX_RETRIES = 3  # RunTask refused (capacity, throttling): tried again, never more than this
MAX_EVENT_AGE_S = 3600  # a drill more than an hour late is not started at all


@dataclass(frozen=True)
class DrillNames:
    cluster: str
    family: str
    container: str
    task_role: str
    execution_role: str
    scheduler_role: str
    log_group: str
    network_parameter: str
    group: str


def drill_names(env: Environment) -> DrillNames:
    return DrillNames(
        cluster=env.resource_name(DRILLS),
        family=env.resource_name(DRILLS),
        container=CONTAINER,
        task_role=env.resource_name(TASK_ROLE),
        execution_role=env.resource_name(EXECUTION_ROLE),
        scheduler_role=env.resource_name(SCHEDULER_ROLE),
        log_group=env.parameter_name(DRILLS),
        network_parameter=env.parameter_name(DRILLS, "network"),
        group=env.resource_name(DRILLS),
    )


def schedule_name(env: Environment, runbook: str, component: str) -> str:
    """The schedule's name, checked against Scheduler's rule (1-64 of [0-9a-zA-Z-_.])."""
    name = f"{env.prefix}-{SCHEDULE_INFIX}-{runbook}-{component}"
    if not NAME_RULE.match(name):
        raise BadInput(
            f"--component {component!r}: the schedule name {name!r} breaks Scheduler's rule "
            f"(1-64 characters of 0-9 a-z A-Z - _ .; it is {len(name)}); "
            "drill a component with a shorter name"
        )
    return name


# --- what is drilled ---------------------------------------------------------------------------
def drill_component(env: Environment, runbook: Runbook, component: str | None, drillable: str = "") -> str:
    """The component a scheduled drill exercises: the one given (it must be of a kind the
    runbook drills), else the environment's only one of such a kind."""
    if not runbook.drills:
        known = f" (drills: {drillable})" if drillable else ""
        raise BadInput(f"runbook {runbook.name} has no drill{known}; schedule a runbook that has one")
    kinds = "/".join(sorted(runbook.drills))
    fitting = sorted(n for n, c in env.spec.components.items() if c.kind in runbook.drills)
    if component is None:
        if len(fitting) == 1:
            return fitting[0]
        raise BadInput(
            f"--component: {runbook.name} drills {kinds} components; name one of {env.name}'s: "
            f"{', '.join(fitting) or 'none'}"
        )
    found = env.spec.components.get(component)
    if found is None:
        raise BadInput(
            f"--component {component!r}: not a component of {env.name} ({runbook.name} drills: "
            f"{', '.join(fitting) or 'none'})"
        )
    if found.kind not in runbook.drills:
        raise BadInput(
            f"--component {component!r}: {runbook.name} drills {kinds} components; {component} is "
            f"{found.kind} (try: {', '.join(fitting) or 'none'})"
        )
    return component


@dataclass(frozen=True)
class DrillSchedule:
    """A validated schedule: what to drill, when."""

    runbook: str
    component: str
    cron: str  # Scheduler's cron(...)
    timezone: str


@dataclass(frozen=True)
class DrillTarget:
    """What the schedule starts, read from what terraform/modules/drills made."""

    task_definition: str  # the family's ARN without revision: the latest ACTIVE one at each run
    subnets: list[str]
    security_groups: list[str]

    @property
    def arn_parts(self) -> tuple[str, str, str]:
        """(partition, region, account) of the task definition."""
        parts = self.task_definition.split(":")
        return parts[1], parts[3], parts[4]


def drill_command(env: Environment, runbook: str, component: str) -> list[str]:
    """The container's command (the image's entrypoint is `ops`)."""
    return ["drill", "run", runbook, "--env", env.name, "--component", component]


def schedule_request(env: Environment, drill: DrillSchedule, target: DrillTarget) -> dict[str, Any]:
    """CreateSchedule's (and UpdateSchedule's, which replaces the whole schedule) parameters."""
    names = drill_names(env)
    partition, region, account = target.arn_parts
    overrides = {
        "containerOverrides": [
            {"name": names.container, "command": drill_command(env, drill.runbook, drill.component)}
        ]
    }
    return {
        "Name": schedule_name(env, drill.runbook, drill.component),
        "GroupName": names.group,
        "Description": f"platform-ops: ops {' '.join(drill_command(env, drill.runbook, drill.component))}",
        "ScheduleExpression": drill.cron,
        "ScheduleExpressionTimezone": drill.timezone,
        "State": "ENABLED",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": f"arn:{partition}:ecs:{region}:{account}:cluster/{names.cluster}",
            "RoleArn": f"arn:{partition}:iam::{account}:role/{names.scheduler_role}",
            "EcsParameters": {
                "TaskDefinitionArn": target.task_definition,
                "TaskCount": 1,
                "LaunchType": "FARGATE",
                "NetworkConfiguration": {
                    "awsvpcConfiguration": {
                        "Subnets": list(target.subnets),
                        "SecurityGroups": list(target.security_groups),
                        "AssignPublicIp": "DISABLED",
                    }
                },
            },
            # For an ECS target, Scheduler passes Input as RunTask's overrides.
            "Input": json.dumps(overrides, sort_keys=True),
            "RetryPolicy": {"MaximumEventAgeInSeconds": MAX_EVENT_AGE_S, "MaximumRetryAttempts": MAX_RETRIES},
        },
    }


_COMPARED = ("Description", "ScheduleExpression", "ScheduleExpressionTimezone", "State", "FlexibleTimeWindow")


def differences(actual: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """The fields of `desired` the schedule read back does not hold (fields Scheduler adds
    with their defaults are not differences; Input is compared as JSON)."""
    found = [key for key in _COMPARED if not _covers(actual.get(key), desired[key])]
    target, wanted = dict(actual.get("Target") or {}), dict(desired["Target"])
    if _json(target.pop("Input", None)) != _json(wanted.pop("Input")):
        found.append("Target.Input")
    found += [f"Target.{key}" for key, value in wanted.items() if not _covers(target.get(key), value)]
    return found


def _json(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _covers(actual: Any, desired: Any) -> bool:
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(_covers(actual.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(desired)
            and all(_covers(a, d) for a, d in zip(actual, desired, strict=True))
        )
    return bool(actual == desired)


# --- reading what the module made ----------------------------------------------------------------
def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def read_target(aws: Any, env: Environment) -> DrillTarget:
    """The drills task definition (its family's ARN) and the network the module wrote."""
    from botocore.exceptions import ClientError

    names = drill_names(env)
    try:
        found = aws.client("ecs").describe_task_definition(taskDefinition=names.family)["taskDefinition"]
    except ClientError as error:
        raise OpsError(
            f"task definition {names.family}: {_code(error)} (apply terraform/modules/drills for {env.name})"
        ) from None
    arn = str(found["taskDefinitionArn"]).rsplit(":", 1)[0]  # without the revision
    try:
        value = json.loads(
            aws.client("ssm").get_parameter(Name=names.network_parameter)["Parameter"]["Value"]
        )
        subnets, groups = [str(s) for s in value["subnets"]], [str(g) for g in value["security_groups"]]
    except ClientError as error:
        raise OpsError(
            f"SSM parameter {names.network_parameter}: {_code(error)} "
            f"(terraform/modules/drills writes it; apply the module for {env.name})"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise OpsError(
            f"SSM parameter {names.network_parameter}: not JSON with 'subnets' and 'security_groups'"
        ) from None
    if not subnets:
        raise OpsError(f"SSM parameter {names.network_parameter}: no subnets (terraform/modules/drills)")
    return DrillTarget(arn, subnets, groups)


# --- plan and apply ------------------------------------------------------------------------------
@dataclass
class SchedulePlan:
    request: dict[str, Any]
    action: str  # create, update, unchanged
    group_tags: dict[str, str] = field(default_factory=dict)  # tags the group lacks
    group_missing: bool = False
    changed: list[str] = field(default_factory=list)  # the fields an update changes

    @property
    def pending(self) -> bool:
        return self.action != "unchanged" or self.group_missing or bool(self.group_tags)

    @property
    def name(self) -> str:
        return str(self.request["Name"])

    @property
    def group(self) -> str:
        return str(self.request["GroupName"])


def _group_tags(scheduler: Any, env: Environment, group: str) -> tuple[bool, dict[str, str]]:
    """(missing, the ownership tags it lacks) of the environment's schedule group."""
    from botocore.exceptions import ClientError

    wanted = env.ownership_tags()
    try:
        arn = scheduler.get_schedule_group(Name=group)["Arn"]
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return True, wanted
        raise
    tags = {t["Key"]: t["Value"] for t in scheduler.list_tags_for_resource(ResourceArn=arn).get("Tags", [])}
    return False, {k: v for k, v in wanted.items() if tags.get(k) != v}


def _get(scheduler: Any, group: str, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return scheduler.get_schedule(GroupName=group, Name=name)  # type: ignore[no-any-return]
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return None
        raise


def plan_schedule(aws: Any, env: Environment, drill: DrillSchedule) -> SchedulePlan:
    """Read the module's task definition and network, the group and the schedule: what
    `apply_schedule` would change (nothing when the schedule is already as asked)."""
    request = schedule_request(env, drill, read_target(aws, env))
    scheduler = aws.client("scheduler")
    missing, lacking = _group_tags(scheduler, env, request["GroupName"])
    current = None if missing else _get(scheduler, request["GroupName"], request["Name"])
    if current is None:
        return SchedulePlan(request, "create", {} if missing else lacking, missing)
    changed = differences(current, request)
    return SchedulePlan(request, "update" if changed else "unchanged", lacking, False, changed)


def apply_schedule(aws: Any, env: Environment, plan: SchedulePlan) -> None:
    scheduler = aws.client("scheduler")
    tags = [{"Key": k, "Value": v} for k, v in env.ownership_tags().items()]
    if plan.group_missing:
        scheduler.create_schedule_group(Name=plan.group, Tags=tags)
    elif plan.group_tags:
        arn = scheduler.get_schedule_group(Name=plan.group)["Arn"]
        scheduler.tag_resource(
            ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in plan.group_tags.items()]
        )
    if plan.action == "create":
        scheduler.create_schedule(**plan.request)
    elif plan.action == "update":
        scheduler.update_schedule(**plan.request)


# --- list and remove -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduledDrill:
    name: str
    group: str
    cron: str
    timezone: str
    runbook: str
    component: str
    state: str
    next_run: str | None  # Scheduler's API gives none: always None (docs/runbooks.md)
    task_definition: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "cron": self.cron,
            "timezone": self.timezone,
            "runbook": self.runbook,
            "component": self.component,
            "state": self.state,
            "next_run": self.next_run,
            "task_definition": self.task_definition,
        }


def _drilled(schedule: dict[str, Any]) -> tuple[str, str]:
    """(runbook, component) from the container's command the schedule runs."""
    overrides = _json(schedule.get("Target", {}).get("Input")) or {}
    try:
        command = list(overrides["containerOverrides"][0]["command"])
        return str(command[2]), str(command[command.index("--component") + 1])
    except (KeyError, IndexError, TypeError, ValueError):
        return "?", "?"


def list_schedules(aws: Any, env: Environment) -> list[ScheduledDrill]:
    """The environment's drill schedules: every schedule in its group, read whole."""
    from botocore.exceptions import ClientError

    scheduler = aws.client("scheduler")
    group = drill_names(env).group
    names: list[str] = []
    token: str | None = None
    try:
        while True:
            page = scheduler.list_schedules(GroupName=group, **({"NextToken": token} if token else {}))
            names += [str(s["Name"]) for s in page.get("Schedules", []) if s.get("GroupName", group) == group]
            token = page.get("NextToken")
            if not token:
                break
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return []
        raise
    found = []
    for name in sorted(names):
        schedule = _get(scheduler, group, name)
        if schedule is None:  # removed meanwhile
            continue
        runbook, component = _drilled(schedule)
        found.append(
            ScheduledDrill(
                name=name,
                group=group,
                cron=str(schedule.get("ScheduleExpression", "")),
                timezone=str(schedule.get("ScheduleExpressionTimezone") or "UTC"),
                runbook=runbook,
                component=component,
                state=str(schedule.get("State", "")),
                next_run=None,
                task_definition=str(
                    schedule.get("Target", {}).get("EcsParameters", {}).get("TaskDefinitionArn", "")
                ),
            )
        )
    return found


def find_schedule(aws: Any, env: Environment, runbook: str, component: str) -> str | None:
    """The schedule's name when it exists in the environment's group, else None."""
    from botocore.exceptions import ClientError

    name = schedule_name(env, runbook, component)
    try:
        return name if _get(aws.client("scheduler"), drill_names(env).group, name) is not None else None
    except ClientError as error:
        if _code(error) == "ResourceNotFoundException":
            return None
        raise


def remove_schedule(aws: Any, env: Environment, name: str) -> None:
    aws.client("scheduler").delete_schedule(GroupName=drill_names(env).group, Name=name)
