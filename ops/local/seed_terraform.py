"""What the toolkit's Terraform modules create, in the emulator (idempotent).

terraform/modules/loadtest: the results bucket, a network (VPC with DNS hostnames, a
subnet, the tasks' security group) named in the SSM parameter the Fargate backend reads,
the cluster with Fargate and Fargate Spot, the master and worker task definitions at the
module's default sizes. terraform/modules/observability and adot: the parameters they
write for the toolkit (the AMP remote-write URL, the collector image) and the collector
roles. terraform/modules/drills: the drills cluster, its task definition and roles, and the
network parameter scheduled drills run in (the load-test network)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ops.aws.clients import ClientFactory
from ops.contracts import (
    amp_url_parameter,
    collector_image_parameter,
    collector_roles,
    loadtest_network_parameter,
)
from ops.inventory.environment import Environment
from ops.runbook.schedule import drill_names

IMAGE = "platform-ops/loadtest:local"  # the emulator runs no container
COLLECTOR_IMAGE = "amazon/aws-otel-collector:v0.43.3"
SIZES = {"master": (1024, 2048), "worker": (2048, 4096)}  # the module's defaults


def seed_loadtest(factory: ClientFactory, env: Environment) -> dict[str, str]:
    settings = env.spec.loadtest_settings
    seeded: dict[str, str] = {}
    tags = [{"Key": k, "Value": v} for k, v in env.ownership_tags().items()]
    if settings.results_bucket:
        s3 = factory.client("s3")
        name = env.resource_name(settings.results_bucket)
        if name not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=name)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
        seeded["bucket"] = name
    seeded["network_parameter"] = _network(factory, env)
    cluster = env.resource_name(settings.cluster)
    ecs = factory.client("ecs")
    if not [c for c in ecs.describe_clusters(clusters=[cluster])["clusters"] if c["status"] == "ACTIVE"]:
        ecs.create_cluster(
            clusterName=cluster,
            capacityProviders=["FARGATE", "FARGATE_SPOT"],
            tags=[{"key": t["Key"], "value": t["Value"]} for t in tags],
        )
    seeded["cluster"] = cluster
    for role, family in (("master", settings.master_task), ("worker", settings.worker_task)):
        seeded[f"{role}_task"] = _task_definition(
            ecs, env.resource_name(family), settings.container, *SIZES[role]
        )
    _keep_tasks_running(factory)
    return seeded


def _network(factory: ClientFactory, env: Environment) -> str:
    ssm = factory.client("ssm")
    name = loadtest_network_parameter(env)
    if ssm.get_parameters(Names=[name])["Parameters"]:
        return name
    ec2 = factory.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.240.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # awsvpc tasks need it
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.240.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName=f"{env.resource_name('loadtest')}-tasks", Description="load-test tasks", VpcId=vpc
    )["GroupId"]
    value = json.dumps({"subnets": [subnet], "security_groups": [group]})
    ssm.put_parameter(Name=name, Value=value, Type="String")
    return name


def _task_definition(ecs: Any, family: str, container: str, cpu: int, memory: int) -> str:
    existing = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    if existing:
        return str(existing[-1])
    definition = {"name": container, "image": IMAGE, "essential": True, "cpu": cpu, "memory": memory}
    created = ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu=str(cpu),
        memory=str(memory),
        containerDefinitions=[definition],
    )
    return str(created["taskDefinition"]["taskDefinitionArn"])


def _keep_tasks_running(factory: ClientFactory) -> None:
    """The emulator moves a task one state towards STOPPED at each describe; a real task
    runs until it is stopped. Its state manager (a documented endpoint) says so."""
    endpoint = factory.target.endpoint_url
    if endpoint:
        transition = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1_000_000}}
        httpx.post(
            f"{endpoint}/moto-api/state-manager/set-transition", json=transition, timeout=10
        ).raise_for_status()


def seed_observability(factory: ClientFactory, env: Environment) -> dict[str, str]:
    """The parameters and roles terraform/modules/observability and adot leave for the toolkit."""
    ssm = factory.client("ssm")
    account = env.meta.account_id or "123456789012"
    values = {
        amp_url_parameter(
            env
        ): f"https://aps-workspaces.{env.region}.amazonaws.com/workspaces/ws-local/api/v1/remote_write",
        collector_image_parameter(env): COLLECTOR_IMAGE,
    }
    for name, value in values.items():
        if not ssm.get_parameters(Names=[name])["Parameters"]:
            ssm.put_parameter(Name=name, Value=value, Type="String")
    iam = factory.client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRole",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                }
            ],
        }
    )
    for role in collector_roles(env, account).values():
        name = role.rsplit("/", 1)[-1]
        try:
            iam.get_role(RoleName=name)
        except iam.exceptions.NoSuchEntityException:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    return {"amp_url": amp_url_parameter(env), "image": collector_image_parameter(env)}


def seed_drills(factory: ClientFactory, env: Environment) -> dict[str, str]:
    """What `ops drill schedule` names: the cluster, the task definition with its container
    and two roles, the scheduler's role, the network parameter."""
    names = drill_names(env)
    roles = {
        names.task_role: "ecs-tasks.amazonaws.com",
        names.execution_role: "ecs-tasks.amazonaws.com",
        names.scheduler_role: "scheduler.amazonaws.com",
    }
    arns = {role: _role(factory.client("iam"), role, service) for role, service in roles.items()}
    ecs = factory.client("ecs")
    if not [
        c for c in ecs.describe_clusters(clusters=[names.cluster])["clusters"] if c["status"] == "ACTIVE"
    ]:
        tags = [{"key": k, "value": v} for k, v in env.ownership_tags().items()]
        ecs.create_cluster(clusterName=names.cluster, capacityProviders=["FARGATE"], tags=tags)
    if not ecs.list_task_definitions(familyPrefix=names.family, status="ACTIVE")["taskDefinitionArns"]:
        ecs.register_task_definition(
            family=names.family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            taskRoleArn=arns[names.task_role],
            executionRoleArn=arns[names.execution_role],
            containerDefinitions=[
                {"name": names.container, "image": "platform-ops:local", "essential": True}
            ],
        )
    ssm = factory.client("ssm")
    if not ssm.get_parameters(Names=[names.network_parameter])["Parameters"]:
        network = ssm.get_parameter(Name=_network(factory, env))["Parameter"]["Value"]
        ssm.put_parameter(Name=names.network_parameter, Value=network, Type="String")
    return {"cluster": names.cluster, "family": names.family, "network_parameter": names.network_parameter}


def _role(iam: Any, name: str, service: str) -> str:
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": service}}],
        }
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
