"""aurora-failover's IAM grants: the resources each of its calls may act on in an
environment, by mode, for `ops runbook iam` (ops/runbook/iam.py turns them into a policy)."""

from __future__ import annotations

from typing import Any

from ops.contracts import endpoint_parameter
from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant
from ops.runbook.stops import alarm_prefix
from runbooks.aurora_failover.steps import rds_component
from runbooks.rds_pitr.grants import cname_grants

MOVES = {"switchover": "rds:SwitchoverGlobalCluster", "failover": "rds:FailoverGlobalCluster"}


def _cluster_grants(env: Environment, params: Any) -> list[IamGrant]:
    """Mode writer: the cluster is read and failed over (and back); its instances, whose
    names RDS or their creator chose (`<cluster>-*` by this platform's convention, or the
    `-p target` given), are read only."""
    cluster = env.resource_name(rds_component(env, params).identifier)
    given = (params.target,) if params.target else ()
    return [
        IamGrant("rds:cluster", (cluster,), ("rds:DescribeDBClusters", "rds:FailoverDBCluster")),
        IamGrant("rds:db", (cluster, f"{cluster}-*", *given), ("rds:DescribeDBInstances",)),
    ]


def _global_grants(env: Environment, params: Any) -> list[IamGrant]:
    """The global modes: the global cluster is read and moved; the move (and a switchover's
    switch back) names both clusters, each in its own region. The primary is read by a
    switchover only (a failover never calls its lost region); the secondary and its
    instances (`<secondary>-*`) are read in the secondary's region."""
    component = rds_component(env, params)
    database = component.global_cluster
    if database is None:  # refused by the provider before the policy is made
        return []
    move = MOVES[params.mode]
    primary = env.resource_name(component.identifier)
    secondary = env.resource_name(database.secondary_identifier)
    region = database.secondary_region
    read_primary = ("rds:DescribeDBClusters",) if params.mode == "switchover" else ()
    return [
        IamGrant(
            "rds:global-cluster",
            (env.resource_name(database.identifier),),
            ("rds:DescribeGlobalClusters", move),
        ),
        IamGrant("rds:cluster", (primary,), (*read_primary, move)),
        IamGrant("rds:cluster", (secondary,), ("rds:DescribeDBClusters", move), region=region),
        IamGrant("rds:db", (secondary, f"{secondary}-*"), ("rds:DescribeDBInstances",), region=region),
    ]


def _cutover_grants(env: Environment, params: Any) -> list[IamGrant]:
    """What the cutover strategies (rds-pitr's) change and read back: the endpoint
    parameter, the database's secret, its DNS record."""
    component = rds_component(env, params)
    grants = [
        IamGrant(
            "ssm:parameter",
            (endpoint_parameter(env, params.component).lstrip("/"),),
            ("ssm:GetParameter", "ssm:PutParameter"),
        ),
        # Secrets Manager ARNs end in `-` and six random characters.
        IamGrant(
            "secretsmanager:Secret",
            (env.parameter_name(params.component, "credentials").lstrip("/") + "-??????",),
            ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"),
        ),
    ]
    grants += cname_grants(component)
    return grants


def failover_grants(env: Environment, params: Any) -> list[IamGrant]:
    """The resources aurora-failover acts on in `env` with these parameters: the cluster
    and its instances (mode writer) or the global cluster and both its clusters (the
    global modes), the cutover's endpoint, and the database's alarms (in the secondary's
    region for a failover: see runbooks/aurora_failover/aws.py's `cloudwatch`)."""
    grants = _cluster_grants(env, params) if params.mode == "writer" else _global_grants(env, params)
    database = rds_component(env, params).global_cluster
    alarms_region = database.secondary_region if params.mode == "failover" and database else None
    alarms = (alarm_prefix(env, params.component) + "*",)
    grants.append(IamGrant("cloudwatch:alarm", alarms, ("cloudwatch:DescribeAlarms",), region=alarms_region))
    return [*grants, *_cutover_grants(env, params)]
