"""EMR, the Spark cluster: unhealthy nodes, YARN memory headroom, HDFS use. The cluster id
is looked up by name at plan time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alarms.spec import AlarmSpec, Metric, lookup, threshold_alarm
from ops.inventory.components import Emr
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind
from ops.kinds.seeding import tags_kv

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory

LIVE_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]

SOURCE = "platform-ops default: AWS publishes no recommended EMR alarms"


class EmrKind(ComponentKind[Emr]):
    kind = "emr"
    ingest_stage = 5
    overview_panels = 1

    def aws_names(self, env: Environment, emr: Emr) -> list[str]:
        return [env.resource_name(emr.cluster_name)]

    def settings(self, emr: Emr) -> str:
        return f"{emr.release_label}, {emr.core_instance_count} core x {emr.instance_type}"

    def seed(self, factory: ClientFactory, env: Environment, name: str, emr: Emr) -> dict[str, str]:
        client = factory.client("emr")
        cluster_name = env.resource_name(emr.cluster_name)
        for cluster in client.list_clusters(ClusterStates=LIVE_STATES).get("Clusters", []):
            if cluster["Name"] == cluster_name:
                return {"cluster_id": cluster["Id"]}
        created = client.run_job_flow(
            Name=cluster_name,
            ReleaseLabel=emr.release_label,
            Instances={
                "MasterInstanceType": emr.instance_type,
                "SlaveInstanceType": emr.instance_type,
                "InstanceCount": emr.core_instance_count + 1,
                "KeepJobFlowAliveWhenNoSteps": True,
            },
            JobFlowRole="EMR_EC2_DefaultRole",
            ServiceRole="EMR_DefaultRole",
            Tags=tags_kv(env),
        )
        return {"cluster_id": created["JobFlowId"]}

    def alarms(self, env: Environment, name: str, emr: Emr) -> list[AlarmSpec]:
        dims = {"JobFlowId": lookup("emr", env.resource_name(emr.cluster_name))}

        def metric(metric_name: str, stat: str) -> Metric:
            return Metric("AWS/ElasticMapReduce", metric_name, dims, stat, 300)

        return [
            threshold_alarm(
                component=name,
                key="unhealthy-nodes",
                severity="critical",
                metric=metric("MRUnhealthyNodes", "Maximum"),
                comparison="GreaterThanThreshold",
                threshold=0,
                periods=2,
                source=SOURCE,
                description="Core or task nodes are unhealthy: Spark steps will slow down or fail.",
            ),
            threshold_alarm(
                component=name,
                key="yarn-memory-available",
                severity="warning",
                metric=metric("YARNMemoryAvailablePercentage", "Minimum"),
                comparison="LessThanThreshold",
                threshold=15,
                periods=3,
                source=SOURCE,
                description="Less than 15% of YARN memory is free: containers will queue.",
            ),
            threshold_alarm(
                component=name,
                key="hdfs-utilization",
                severity="warning",
                metric=metric("HDFSUtilization", "Maximum"),
                comparison="GreaterThanThreshold",
                threshold=80,
                periods=3,
                source=SOURCE,
                description="HDFS is more than 80% full.",
            ),
        ]


KIND = EmrKind()
