"""Seed the emulator with the local environment's resources, as AWS would hold them.

Every create is idempotent (existing resources are found, not duplicated) and every
resource carries the ownership tags of the environment.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from collections.abc import Callable
from typing import Any

from ops.aws.clients import ClientFactory
from ops.inventory.components import (
    ApiGateway,
    EcsCluster,
    Emr,
    Glue,
    Lambda,
    Msk,
    Rds,
    S3Lake,
)
from ops.inventory.environment import Environment
from ops.local.gaps import UNEMULATED_KINDS
from ops.local.seed_terraform import seed_loadtest, seed_observability

Seeder = Callable[[ClientFactory, Environment, str, Any], dict[str, str]]


def seed_environment(factory: ClientFactory, env: Environment) -> dict[str, dict[str, str]]:
    """Create every emulated resource of `env`; return what was seeded, by component."""
    seeded: dict[str, dict[str, str]] = {"notifications": _seed_topics(factory, env)}
    seeded["loadtest"] = seed_loadtest(factory, env)  # terraform/modules/loadtest on AWS
    seeded["observability"] = seed_observability(factory, env)  # terraform/modules/observability, adot
    for name, component in env.spec.components.items():
        seeder = SEEDERS.get(type(component))
        if seeder is not None:
            seeded[name] = seeder(factory, env, name, component)
        elif component.kind in UNEMULATED_KINDS:
            seeded[name] = {"not emulated": UNEMULATED_KINDS[component.kind]}
    return seeded


def _tags_kv(env: Environment) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in env.ownership_tags().items()]


def _seed_topics(factory: ClientFactory, env: Environment) -> dict[str, str]:
    sns = factory.client("sns")
    return {
        severity: sns.create_topic(Name=env.resource_name(t.topic), Tags=_tags_kv(env))["TopicArn"]
        for severity, t in env.spec.notifications.items()
    }


def _seed_lake(factory: ClientFactory, env: Environment, _: str, lake: S3Lake) -> dict[str, str]:
    s3 = factory.client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    buckets: dict[str, str] = {}
    for zone, spec in lake.zones:
        name = env.resource_name(spec.bucket)
        if name not in existing:
            if env.region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": env.region})
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": _tags_kv(env)})
        if spec.versioning:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        buckets[zone] = name
    return buckets


def _seed_rds(factory: ClientFactory, env: Environment, _: str, db: Rds) -> dict[str, str]:
    rds = factory.client("rds")
    identifier = env.resource_name(db.identifier)
    # The emulator keeps the password; nothing prints or stores it. The local database
    # itself is reached through the endpoint parameter, on loopback.
    password = secrets.token_urlsafe(24)
    common: dict[str, Any] = {"Tags": _tags_kv(env), "DeletionProtection": db.deletion_protection}
    if db.engine == "aurora-postgresql":
        if not _exists(lambda: rds.describe_db_clusters(DBClusterIdentifier=identifier)):
            rds.create_db_cluster(
                DBClusterIdentifier=identifier,
                Engine=db.engine,
                EngineVersion=db.engine_version,
                DatabaseName=db.database,
                MasterUsername="postgres",
                MasterUserPassword=password,
                BackupRetentionPeriod=db.backup_retention_days,
                **common,
            )
        instance = f"{identifier}-1"
        if not _exists(lambda: rds.describe_db_instances(DBInstanceIdentifier=instance)):
            rds.create_db_instance(
                DBInstanceIdentifier=instance,
                DBClusterIdentifier=identifier,
                Engine=db.engine,
                DBInstanceClass=db.instance_class,
                Tags=_tags_kv(env),
            )
        return {"cluster": identifier, "writer": instance}
    if not _exists(lambda: rds.describe_db_instances(DBInstanceIdentifier=identifier)):
        rds.create_db_instance(
            DBInstanceIdentifier=identifier,
            Engine=db.engine,
            EngineVersion=db.engine_version,
            DBName=db.database,
            DBInstanceClass=db.instance_class,
            AllocatedStorage=db.allocated_storage_gib,
            MultiAZ=db.multi_az,
            MasterUsername="postgres",
            MasterUserPassword=password,
            BackupRetentionPeriod=db.backup_retention_days,
            **common,
        )
    return {"instance": identifier}


def _seed_msk(factory: ClientFactory, env: Environment, _: str, msk: Msk) -> dict[str, str]:
    region = msk.region or env.region
    kafka = factory.client("kafka", region=region)
    name = env.resource_name(msk.cluster_name)
    for cluster in kafka.list_clusters_v2(ClusterNameFilter=name).get("ClusterInfoList", []):
        if cluster["ClusterName"] == name:
            return {"arn": cluster["ClusterArn"], "region": region}
    created = kafka.create_cluster(
        ClusterName=name,
        KafkaVersion=msk.kafka_version,
        NumberOfBrokerNodes=msk.broker_count,
        BrokerNodeGroupInfo={
            "InstanceType": msk.instance_type,
            "ClientSubnets": [f"subnet-{env.name}-{i}" for i in range(msk.broker_count)],
            "StorageInfo": {"EbsStorageInfo": {"VolumeSize": msk.storage_gib}},
        },
        Tags=env.ownership_tags(),
    )
    return {"arn": created["ClusterArn"], "region": region}


def _seed_ecs(factory: ClientFactory, env: Environment, _: str, ecs: EcsCluster) -> dict[str, str]:
    insights = "enabled" if ecs.container_insights else "disabled"
    created = factory.client("ecs").create_cluster(
        clusterName=env.resource_name(ecs.cluster_name),
        settings=[{"name": "containerInsights", "value": insights}],
        tags=[{"key": k, "value": v} for k, v in env.ownership_tags().items()],
    )
    return {"arn": created["cluster"]["clusterArn"]}


def _service_role(factory: ClientFactory, env: Environment, name: str, service: str) -> str:
    iam = factory.client("iam")
    role = env.resource_name(name)
    try:
        return str(iam.get_role(RoleName=role)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        created = iam.create_role(
            RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), Tags=_tags_kv(env)
        )
        return str(created["Role"]["Arn"])


def _seed_glue(factory: ClientFactory, env: Environment, _: str, glue: Glue) -> dict[str, str]:
    client = factory.client("glue")
    role = _service_role(factory, env, "glue", "glue.amazonaws.com")
    jobs: dict[str, str] = {}
    for job in glue.jobs:
        name = env.resource_name(job.name)
        if not _exists(lambda n=name: client.get_job(JobName=n)):  # type: ignore[misc]
            client.create_job(
                Name=name,
                Role=role,
                GlueVersion=job.glue_version,
                WorkerType=job.worker_type,
                NumberOfWorkers=job.number_of_workers,
                Command={"Name": "glueetl", "ScriptLocation": f"s3://{name}/scripts/{job.name}.py"},
                Tags=env.ownership_tags(),
            )
        jobs[job.name] = name
    return jobs


def _seed_emr(factory: ClientFactory, env: Environment, _: str, emr: Emr) -> dict[str, str]:
    client = factory.client("emr")
    name = env.resource_name(emr.cluster_name)
    live = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
    for cluster in client.list_clusters(ClusterStates=live).get("Clusters", []):
        if cluster["Name"] == name:
            return {"cluster_id": cluster["Id"]}
    created = client.run_job_flow(
        Name=name,
        ReleaseLabel=emr.release_label,
        Instances={
            "MasterInstanceType": emr.instance_type,
            "SlaveInstanceType": emr.instance_type,
            "InstanceCount": emr.core_instance_count + 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
        Tags=_tags_kv(env),
    )
    return {"cluster_id": created["JobFlowId"]}


def _placeholder_zip() -> bytes:
    """The emulator needs code to create a function; the real ingest code ships elsewhere."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {'statusCode': 202}\n")
    return buffer.getvalue()


def _seed_lambda(factory: ClientFactory, env: Environment, _: str, fn: Lambda) -> dict[str, str]:
    client = factory.client("lambda")
    name = env.resource_name(fn.function_name)
    try:
        return {"arn": client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]}
    except client.exceptions.ResourceNotFoundException:
        pass
    created = client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=_service_role(factory, env, "ingest-lambda", "lambda.amazonaws.com"),
        Handler="handler.handler",
        Code={"ZipFile": _placeholder_zip()},
        MemorySize=fn.memory_mb,
        Timeout=fn.timeout_seconds,
        Tags=env.ownership_tags(),
    )
    return {"arn": created["FunctionArn"]}


def _seed_api(factory: ClientFactory, env: Environment, _: str, api: ApiGateway) -> dict[str, str]:
    client = factory.client("apigatewayv2")
    name = env.resource_name(api.api_name)
    for item in client.get_apis().get("Items", []):
        if item["Name"] == name:
            return {"api_id": item["ApiId"]}
    created = client.create_api(Name=name, ProtocolType="HTTP", Tags=env.ownership_tags())
    return {"api_id": created["ApiId"]}


def _exists(describe: Callable[[], Any]) -> bool:
    from botocore.exceptions import ClientError

    try:
        describe()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "NotFound" in code or code in ("EntityNotFoundException", "ResourceNotFoundException"):
            return False
        raise
    return True


SEEDERS: dict[type, Seeder] = {
    S3Lake: _seed_lake,
    Rds: _seed_rds,
    Msk: _seed_msk,
    EcsCluster: _seed_ecs,
    Glue: _seed_glue,
    Emr: _seed_emr,
    Lambda: _seed_lambda,
    ApiGateway: _seed_api,
}
