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
from runbooks.msk_failover.aws_move import destination_alarm_names, replicator_role
from runbooks.msk_failover.steps import replicator_of

KAFKA_SERVICE = "kafka.amazonaws.com"


def network_interfaces(region: str | None) -> list[IamGrant]:
    """CreateReplicator makes a network interface in each cluster's subnets, with its
    security groups. Those are the clusters' (read from the original replicator at run
    time), not the inventory's: granted in the account and the cluster's region."""
    action = ("ec2:CreateNetworkInterface",)
    return [
        IamGrant(f"ec2:{kind}", ("*",), action, region=region)
        for kind in ("network-interface", "subnet", "security-group")
    ]


def aws_grants(env: Environment, params: Any) -> list[IamGrant]:
    """The two clusters by name (`cluster/<name>/<uuid>`), the original replicator (read,
    detached and re-attached) and its reverse (`<name>-reverse`, created and deleted), the
    role a reverse replicator runs as (passed to MSK only), the ingest functions that
    produce to the primary, the consumer groups' Glue jobs, and both clusters' health alarms
    (the stop condition reads the destination's: DR's failing over, the primary's back)."""
    replicator, primary, dr = replicator_of(env, params.replicator)
    forward = env.resource_name(replicator.replicator_name)
    role = replicator_role(env, params)

    def cluster(msk: Msk) -> IamGrant:  # each in its own region
        name = f"{env.resource_name(msk.cluster_name)}/*"
        return IamGrant("kafka:cluster", (name,), ("kafka:DescribeClusterV2",), region=msk.region)

    def health_alarms(component: str, msk: Msk) -> IamGrant:  # the stop condition, either way
        names = tuple(destination_alarm_names(env, component, msk))
        return IamGrant("cloudwatch:alarm", names, ("cloudwatch:DescribeAlarms",), region=msk.region)

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
        health_alarms(replicator.source, primary),
        health_alarms(replicator.target, dr),
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
        IamGrant(
            "iam:role",
            (f"aws-service-role/{KAFKA_SERVICE}/AWSServiceRoleForKafka*",),
            ("iam:CreateServiceLinkedRole",),
            condition=(("StringEquals", "iam:AWSServiceName", (KAFKA_SERVICE,)),),
        ),
        *network_interfaces(primary.region),
        *network_interfaces(dr.region),
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
