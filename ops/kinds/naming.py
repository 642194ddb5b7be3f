"""AWS's own naming rules, checked on the final names the toolkit derives from the inventory
(`<platform>-<env>-<name>`, alarm names, log groups, SSM paths, restored copies), before
any call: a name AWS would refuse is an inventory error naming the field that made it.

Each rule is the service's documented length and characters; the messages say which."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ops.contracts import kafka_endpoint_parameter
from ops.inventory.components import Msk, Rds, S3Lake
from ops.inventory.environment import Environment
from ops.kinds.registry import kind_of

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class NameRule:
    what: str  # "an RDS identifier"
    longest: int
    pattern: re.Pattern[str]
    characters: str  # the pattern in words
    extra: Callable[[str], str | None] = lambda _name: None


def _no_double_hyphen_or_trailing(name: str) -> str | None:
    if "--" in name:
        return "has two hyphens in a row"
    if name.endswith("-"):
        return "ends with a hyphen"
    return None


def _bucket_extra(name: str) -> str | None:
    if ".." in name:
        return "has two dots in a row"
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        return "looks like an IP address"
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        return "uses a prefix or suffix S3 reserves"
    return None


RULES: dict[str, NameRule] = {
    "rds": NameRule(
        "an RDS or Aurora identifier",
        63,
        re.compile(r"[A-Za-z][A-Za-z0-9-]*"),
        "letters, digits and hyphens, starting with a letter",
        _no_double_hyphen_or_trailing,
    ),
    "msk": NameRule(
        "an MSK cluster name", 64, re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*"), "letters, digits, hyphens"
    ),
    "msk_replicator": NameRule(
        "an MSK replicator name", 128, re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*"), "letters, digits, hyphens"
    ),
    "lambda": NameRule(
        "a Lambda function name", 64, re.compile(r"[A-Za-z0-9_-]+"), "letters, digits, - and _"
    ),
    "glue": NameRule("a Glue job name", 255, re.compile(r"[^\x00-\x1f\x7f]+"), "no control characters"),
    "emr": NameRule("an EMR cluster name", 256, re.compile(r"[^\x00-\x1f\x7f]+"), "no control characters"),
    "ecs": NameRule(
        "an ECS cluster or family name", 255, re.compile(r"[A-Za-z0-9_-]+"), "letters, digits, - and _"
    ),
    "mwaa": NameRule(
        "an MWAA environment name", 80, re.compile(r"[A-Za-z][A-Za-z0-9_-]*"), "letters, digits, - and _"
    ),
    "api": NameRule("an API Gateway name", 1024, re.compile(r"[^\x00-\x1f\x7f]+"), "no control characters"),
    "grafana": NameRule(
        "a Managed Grafana workspace name", 255, re.compile(r"[A-Za-z0-9._~-]+"), "letters, digits, . _ ~ -"
    ),
    "s3": NameRule(
        "an S3 bucket name",
        63,
        re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
        "3 or more lower-case letters, digits, dots and hyphens, a letter or digit at each end",
        _bucket_extra,
    ),
    "alarm": NameRule(
        "a CloudWatch alarm name", 255, re.compile(r"[^\x00-\x1f\x7f]+"), "no control characters"
    ),
    "log_group": NameRule(
        "a CloudWatch Logs group name", 512, re.compile(r"[A-Za-z0-9._/#-]+"), "letters, digits, . _ / # -"
    ),
    "ssm": NameRule(
        "an SSM parameter name", 1011, re.compile(r"[A-Za-z0-9_./-]+"), "letters, digits, _ . - /"
    ),
    "sns": NameRule("an SNS topic name", 256, re.compile(r"[A-Za-z0-9_-]+"), "letters, digits, - and _"),
    "dynamodb": NameRule(
        "a DynamoDB table name", 255, re.compile(r"[A-Za-z0-9_.-]{3,}"), "3 or more of a-z 0-9 _ . -"
    ),
}

# The kinds whose `aws_names` are of one service.
KIND_RULES = {
    "rds": "rds",
    "aurora": "rds",
    "documentdb": "rds",
    "msk": "msk",
    "msk_replicator": "msk_replicator",
    "lambda": "lambda",
    "glue": "glue",
    "emr": "emr",
    "ecs_cluster": "ecs",
    "adot": "ecs",
    "mwaa": "mwaa",
    "api_gateway": "api",
    "grafana": "grafana",
    "s3": "s3",
}
# rds-pitr names its copy `<source>-pitr-<UTC time>` (runbooks/rds_pitr/aws.py).
RESTORE_SUFFIX = "-pitr-20261231235959"


def rule_problem(rule: NameRule, name: str) -> str | None:
    """Why AWS would refuse `name` under `rule` (None: it would not)."""
    if len(name) > rule.longest:
        return f"{name!r} is {len(name)} characters; {rule.what} has at most {rule.longest}"
    if not rule.pattern.fullmatch(name):
        return f"{name!r} is not {rule.what}: use {rule.characters}"
    reason = rule.extra(name)
    return f"{name!r} is not {rule.what}: it {reason}" if reason else None


def naming_problems(env: Environment) -> list[tuple[Path, str]]:
    """Every derived name of the environment AWS would refuse, with the inventory path that
    made it (the component's name field, or the setting)."""
    found: dict[tuple[Path, str], None] = {}
    for path, rule, name in _derived_names(env):
        problem = rule_problem(RULES[rule], name)
        if problem:
            found[(path, f"{problem} (the environment's names start {env.prefix}-)")] = None
    return list(found)


def _name_field(component: Any, name: str) -> str | None:
    """The component's field whose value ends the derived name (e.g. `cluster_name`)."""
    for field, value in component:
        if isinstance(value, str) and value and name.endswith(value) and field != "kind":
            return str(field)
    return None


def _derived_names(env: Environment) -> Iterator[tuple[Path, str, str]]:
    spec = env.spec
    for name, component in spec.components.items():
        at: Path = ("components", name)
        kind = kind_of(component)
        rule = KIND_RULES.get(component.kind)
        if isinstance(component, S3Lake):
            for zone, bucket in component.zones:
                yield (*at, "zones", zone, "bucket"), "s3", env.resource_name(bucket.bucket)
        elif rule:
            for aws_name in kind.aws_names(env, component):
                field = _name_field(component, aws_name)
                yield ((*at, field) if field else at), rule, aws_name
        if isinstance(component, Rds):
            field = _name_field(component, env.resource_name(component.identifier)) or "identifier"
            yield (*at, field), "rds", env.resource_name(component.identifier) + RESTORE_SUFFIX
        if isinstance(component, Msk):
            yield at, "ssm", kafka_endpoint_parameter(env, name)
        for alarm in kind.alarms(env, name, component):
            yield at, "alarm", alarm.name(env.prefix)
        for group in kind.log_groups(env, name, component):
            yield at, "log_group", group
    for severity, topic in spec.notifications.items():
        yield ("notifications", severity, "topic"), "sns", env.resource_name(topic.topic)
    settings = spec.runbook_settings
    if settings.lock_table:
        yield ("runbook_settings", "lock_table"), "dynamodb", settings.lock_table
    if settings.journal_bucket:
        yield ("runbook_settings", "journal_bucket"), "s3", settings.journal_bucket
    loadtest = spec.loadtest_settings
    for field in ("cluster", "master_task", "worker_task"):
        yield ("loadtest_settings", field), "ecs", env.resource_name(getattr(loadtest, field))
    if loadtest.results_bucket:
        yield ("loadtest_settings", "results_bucket"), "s3", env.resource_name(loadtest.results_bucket)
