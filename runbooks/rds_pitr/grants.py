"""rds-pitr's IAM grants: the resources each of its calls may act on in an environment,
for `ops runbook iam` (ops/runbook/iam.py turns them into a policy)."""

from __future__ import annotations

from typing import Any

from ops.contracts import endpoint_parameter
from ops.inventory.components import Rds
from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant
from ops.runbook.stops import alarm_prefix
from runbooks.rds_pitr.steps import rds_component


def _rds(kind: str, verbs: tuple[str, ...]) -> tuple[str, ...]:
    """The rds actions of these verbs on instances (`db`) or clusters (`cluster`)."""
    noun = "DBInstance" if kind == "db" else "DBCluster"
    actions = {
        "Describe": f"rds:Describe{noun}s",
        "RestoreToPointInTime": f"rds:Restore{noun}ToPointInTime",
        "Create": "rds:CreateDBInstance",  # an Aurora writer; its cluster is named in the call
        "AddTags": "rds:AddTagsToResource",
        "Modify": f"rds:Modify{noun}",
        "Delete": f"rds:Delete{noun}",
        "Stop": f"rds:Stop{noun}",
        "Start": f"rds:Start{noun}",
    }
    return tuple(actions[verb] for verb in verbs)


def _finals(restored: tuple[str, ...]) -> tuple[str, ...]:
    """The final snapshots' names of the restored databases (see aws.final_snapshot)."""
    return tuple(name if name.endswith("*") else f"{name}-final" for name in restored)


def _database_grants(source: str, restored: tuple[str, ...], aurora: bool) -> list[IamGrant]:
    """What may be done to each database name: the source is read, restored from, stopped
    and started (and renamed aside by a rename swap); only what a run restores is tagged,
    modified or deleted."""
    if aurora:
        # A restore attaches the source's groups, read from it at run time: any of the
        # account's in the region (attaching one changes nothing in it).
        groups = ("cluster-pg", "og", "subgrp")
        restore = "rds:RestoreDBClusterToPointInTime"
        writers = tuple(name if name.endswith("*") else f"{name}-1" for name in restored)
        return [
            IamGrant(
                "rds:cluster",
                (source,),
                _rds("cluster", ("Describe", "RestoreToPointInTime", "Stop", "Start")),
            ),
            IamGrant(
                "rds:cluster",
                restored,
                _rds(
                    "cluster", ("Describe", "RestoreToPointInTime", "Create", "AddTags", "Modify", "Delete")
                ),
            ),
            # The final snapshot `<restored>-final` a rollback after a cutover takes as it
            # deletes the restored cluster (a `-pitr-*` glob covers it).
            IamGrant("rds:cluster", restored, ("rds:CreateDBClusterSnapshot",)),
            IamGrant(
                "rds:cluster-snapshot",
                _finals(restored),
                ("rds:DeleteDBCluster", "rds:CreateDBClusterSnapshot"),
            ),
            # The restored cluster's writer (`<restored>-1`).
            IamGrant("rds:db", writers, _rds("db", ("Describe", "Create", "AddTags", "Delete"))),
            # The source cluster's writer, whose name RDS or its creator chose: read only.
            IamGrant("rds:db", (source, f"{source}-*"), ("rds:DescribeDBInstances",)),
            *(IamGrant(f"rds:{group}", ("*",), (restore,)) for group in groups),
        ]
    restore = "rds:RestoreDBInstanceToPointInTime"
    return [
        IamGrant(
            "rds:db", (source,), _rds("db", ("Describe", "RestoreToPointInTime", "Modify", "Stop", "Start"))
        ),
        IamGrant(
            "rds:db",
            restored,
            _rds("db", ("Describe", "RestoreToPointInTime", "AddTags", "Modify", "Delete")),
        ),
        # The final snapshot `<restored>-final` a rollback after a cutover takes as it
        # deletes the restored instance (a `-pitr-*` glob covers it).
        IamGrant("rds:db", restored, ("rds:CreateDBSnapshot",)),
        IamGrant("rds:snapshot", _finals(restored), ("rds:CreateDBSnapshot",)),
        # The source renamed aside by a rename swap, and stopped or started again.
        IamGrant("rds:db", (f"{source}-old-*",), _rds("db", ("Describe", "Modify", "Stop", "Start"))),
        *(IamGrant(f"rds:{group}", ("*",), (restore,)) for group in ("og", "pg", "subgrp")),
    ]


def pitr_grants(env: Environment, params: Any) -> list[IamGrant]:
    """The resources rds-pitr acts on in `env`: its source database by name, what it
    restores (`<source>-pitr-*`, a drill's `<source>-drill-*`, a `-p target_identifier`),
    the source moved aside by a rename swap (`<source>-old-*`), the component's endpoint
    parameter and secrets, its DNS record, its alarms."""
    component = rds_component(env, params)
    source = env.resource_name(component.identifier)
    given = (params.target_identifier,) if params.target_identifier else ()
    restored = (f"{source}-pitr-*", f"{source}-drill-*", *given)
    grants = [
        *_database_grants(source, restored, component.engine == "aurora-postgresql"),
        IamGrant(
            "ssm:parameter",
            (endpoint_parameter(env, params.component).lstrip("/"),),
            ("ssm:GetParameter", "ssm:PutParameter"),
        ),
        IamGrant(
            "cloudwatch:alarm", (alarm_prefix(env, params.component) + "*",), ("cloudwatch:DescribeAlarms",)
        ),
    ]
    # Secrets Manager ARNs end in `-` and six random characters.
    credentials = env.parameter_name(params.component, "credentials").lstrip("/") + "-??????"
    grants.append(
        IamGrant(
            "secretsmanager:Secret",
            (credentials,),
            ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"),
        )
    )
    if component.check_secret:
        check = env.parameter_name(component.check_secret).lstrip("/") + "-??????"
        grants.append(IamGrant("secretsmanager:Secret", (check,), ("secretsmanager:GetSecretValue",)))
    elif component.checks:
        # No check secret: the data checks read the database's RDS-managed master secret.
        managed = "rds!cluster-*" if component.engine == "aurora-postgresql" else "rds!db-*"
        grants.append(IamGrant("secretsmanager:Secret", (managed,), ("secretsmanager:GetSecretValue",)))
    grants += cname_grants(component)
    return grants


NORMALIZED_NAMES = "ChangeResourceRecordSetsNormalizedRecordNames"


def cname_grants(component: Rds) -> list[IamGrant]:
    """A Route 53 cutover's: the zone is looked up by name at run time (its id is not in the
    inventory); the changes are held to the one CNAME record."""
    if component.dns is None:
        return []
    record = component.dns.record.rstrip(".")
    return [
        IamGrant(
            "route53:hostedzone",
            ("*",),
            ("route53:ChangeResourceRecordSets",),
            condition=(
                (
                    "ForAllValues:StringEquals",
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                    (record,),
                ),
                ("ForAllValues:StringEquals", "route53:ChangeResourceRecordSetsRecordTypes", ("CNAME",)),
            ),
        ),
        IamGrant("route53:hostedzone", ("*",), ("route53:ListResourceRecordSets",)),
    ]
