"""msk-failover's and msk-failback's IAM grants on AWS: the resources their calls act on, for
`ops runbook iam` (ops/runbook/iam.py turns them into a policy; the endpoint parameter is
granted in steps.py, for both providers). ListClustersV2, GetBootstrapBrokers,
ListReplicators, GetMetricData and the EC2 reads take no resource (AWS's definitions)."""

from __future__ import annotations

from typing import Any

from ops.inventory.components import Lambda, Msk
from ops.inventory.environment import Environment
from ops.runbook.model import IamGrant
from runbooks.msk_failover.aws_clients import consumer_jobs
from runbooks.msk_failover.aws_move import replicator_role
from runbooks.msk_failover.steps import replicator_of

KAFKA_SERVICE = "kafka.amazonaws.com"


def aws_grants(env: Environment, params: Any) -> list[IamGrant]:
    """The two clusters by name (`cluster/<name>/<uuid>`), the original replicator (read,
    detached and re-attached) and its reverse (`<name>-reverse`, created and deleted), the
    role a reverse replicator runs as (passed to MSK only), the ingest functions that
    produce to the primary, and the consumer groups' Glue jobs."""
    replicator, primary, dr = replicator_of(env, params.replicator)
    forward = env.resource_name(replicator.replicator_name)
    role = replicator_role(env, params)

    def cluster(msk: Msk) -> IamGrant:  # each in its own region
        name = f"{env.resource_name(msk.cluster_name)}/*"
        return IamGrant("kafka:cluster", (name,), ("kafka:DescribeClusterV2",), region=msk.region)

    functions = tuple(
        env.resource_name(function.function_name)
        for function in env.components_of(Lambda).values()
        if function.produces_to.cluster == replicator.source
    )
    # A replicator lives in its target's region: the original in DR's, the reverse in the
    # primary's.
    grants = [
        cluster(primary),
        cluster(dr),
        IamGrant(
            "kafka:replicator",
            (f"{forward}/*",),
            ("kafka:DescribeReplicator", "kafka:UpdateReplicationInfo"),
            region=dr.region,
        ),
        IamGrant(
            "kafka:replicator",
            (f"{forward}-reverse/*",),
            ("kafka:DescribeReplicator", "kafka:CreateReplicator", "kafka:DeleteReplicator"),
            region=primary.region,
        ),
        IamGrant(
            "iam:role",
            (role,),
            ("iam:PassRole",),
            condition=(("StringEquals", "iam:PassedToService", (KAFKA_SERVICE,)),),
        ),
    ]
    if functions:
        grants.append(
            IamGrant(
                "lambda:function",
                functions,
                (
                    "lambda:GetFunctionConcurrency",
                    "lambda:PutFunctionConcurrency",
                    "lambda:DeleteFunctionConcurrency",
                ),
            )
        )
    jobs = tuple(consumer_jobs(env, replicator.source))
    if jobs:
        grants.append(
            IamGrant("glue:job", jobs, ("glue:GetJobRuns", "glue:BatchStopJobRun", "glue:StartJobRun"))
        )
    return grants
