"""MSK, the event clusters (primary, and the DR cluster in another region): broker health
per broker, cluster health, and consumer lag per group and topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Msk
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind

if TYPE_CHECKING:
    from ops.aws.clients import ClientFactory

NAMESPACE = "AWS/Kafka"


def _cluster_alarms(name: str, cluster: str) -> list[AlarmSpec]:
    dims = {"Cluster Name": cluster}
    return [
        threshold_alarm(
            component=name,
            key="offline-partitions",
            severity="critical",
            metric=Metric(NAMESPACE, "OfflinePartitionsCount", dims, "Maximum"),
            comparison="GreaterThanThreshold",
            threshold=0,
            periods=1,
            description="Partitions have no leader: producers and consumers of them are failing.",
        ),
        threshold_alarm(
            component=name,
            key="active-controller",
            severity="critical",
            metric=Metric(NAMESPACE, "ActiveControllerCount", dims, "Maximum"),
            comparison="LessThanThreshold",
            threshold=1,
            periods=5,
            missing="breaching",
            description="No active controller for 5 minutes (unreliable on KRaft clusters).",
        ),
    ]


def _broker_alarms(name: str, cluster: str, broker: int) -> list[AlarmSpec]:
    dims = {"Cluster Name": cluster, "Broker ID": str(broker)}
    qualifier = f"broker-{broker}"

    def metric(metric_name: str, stat: str) -> Metric:
        return Metric(NAMESPACE, metric_name, dims, stat)

    cpu = AlarmSpec(
        component=name,
        key="cpu",
        qualifier=qualifier,
        severity="warning",
        description=f"Broker {broker}: CPU user + system above 60%; leave headroom for a broker failure.",
        comparison="GreaterThanThreshold",
        evaluation_periods=5,
        datapoints_to_alarm=5,
        treat_missing="missing",
        source="AWS recommended (CpuUser + CpuSystem as metric math, 60%)",
        threshold=60,
        expression="m1 + m2",
        inputs={"m1": metric("CpuUser", "Average"), "m2": metric("CpuSystem", "Average")},
    )
    return [
        cpu,
        threshold_alarm(
            component=name,
            key="disk-used",
            severity="critical",
            metric=metric("KafkaDataLogsDiskUsed", "Maximum"),
            comparison="GreaterThanOrEqualToThreshold",
            threshold=85,
            periods=3,
            qualifier=qualifier,
            description=f"Broker {broker}: data log disk at or above 85% full.",
        ),
        threshold_alarm(
            component=name,
            key="under-replicated-partitions",
            severity="critical",
            metric=metric("UnderReplicatedPartitions", "Sum"),
            comparison="GreaterThanThreshold",
            threshold=0,
            periods=15,
            qualifier=qualifier,
            description=f"Broker {broker}: under-replicated partitions for 15 minutes.",
        ),
        threshold_alarm(
            component=name,
            key="under-min-isr",
            severity="critical",
            metric=metric("UnderMinIsrPartitionCount", "Maximum"),
            comparison="GreaterThanOrEqualToThreshold",
            threshold=1,
            periods=1,
            qualifier=qualifier,
            description=f"Broker {broker}: partitions below min.insync.replicas; acks=all writes fail.",
        ),
        threshold_alarm(
            component=name,
            key="heap-after-gc",
            severity="warning",
            metric=metric("HeapMemoryAfterGC", "Maximum"),
            comparison="GreaterThanThreshold",
            threshold=60,
            periods=3,
            qualifier=qualifier,
            description=f"Broker {broker}: JVM heap in use after GC above 60%.",
        ),
    ]


def _lag_alarms(name: str, cluster: str, group: str, topic: str, several: bool) -> list[AlarmSpec]:
    dims = {"Cluster Name": cluster, "Consumer Group": group, "Topic": topic}
    qualifier = f"{group}-{topic}" if several else group
    source = "platform-ops default: AWS leaves consumer-lag thresholds to the application"

    def metric(metric_name: str) -> Metric:
        return Metric(NAMESPACE, metric_name, dims, "Maximum")

    return [
        threshold_alarm(
            component=name,
            key="max-offset-lag",
            severity="warning",
            metric=metric("MaxOffsetLag"),
            comparison="GreaterThanThreshold",
            threshold=10_000,
            periods=5,
            qualifier=qualifier,
            source=source,
            description=f"{group} is more than 10,000 records behind on a partition of {topic}.",
        ),
        threshold_alarm(
            component=name,
            key="sum-offset-lag",
            severity="warning",
            metric=metric("SumOffsetLag"),
            comparison="GreaterThanThreshold",
            threshold=100_000,
            periods=5,
            qualifier=qualifier,
            source=source,
            description=f"{group} is more than 100,000 records behind on {topic} in total.",
        ),
        threshold_alarm(
            component=name,
            key="time-lag",
            severity="critical",
            metric=metric("EstimatedMaxTimeLag"),
            comparison="GreaterThanThreshold",
            threshold=600,
            periods=5,
            qualifier=qualifier,
            source=source,
            description=f"{group} would take more than 10 minutes to catch up on {topic}.",
        ),
    ]


class MskKind(ComponentKind[Msk]):
    kind = "msk"
    ingest_stage = 3
    overview_panels = 2
    ingest_path_signals = frozenset({"offline-partitions"})

    def aws_names(self, env: Environment, msk: Msk) -> list[str]:
        return [env.resource_name(msk.cluster_name)]

    def settings(self, msk: Msk) -> str:
        region = f", {msk.region}" if msk.region else ""
        return (
            f"{msk.role}{region}, {msk.broker_count} x {msk.instance_type}, "
            f"{len(msk.topics)} topics, {len(msk.consumer_groups)} consumer groups"
        )

    def region(self, msk: Msk) -> str:
        return msk.region or ""

    def log_groups(self, env: Environment, name: str, msk: Msk) -> list[str]:
        return [f"/{env.platform}/{env.name}/msk/{env.resource_name(msk.cluster_name)}"]

    def seed(self, factory: ClientFactory, env: Environment, name: str, msk: Msk) -> dict[str, str]:
        region = msk.region or env.region
        kafka = factory.client("kafka", region=region)
        cluster_name = env.resource_name(msk.cluster_name)
        for cluster in kafka.list_clusters_v2(ClusterNameFilter=cluster_name).get("ClusterInfoList", []):
            if cluster["ClusterName"] == cluster_name:
                return {"arn": cluster["ClusterArn"], "region": region}
        created = kafka.create_cluster(
            ClusterName=cluster_name,
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

    def alarms(self, env: Environment, name: str, msk: Msk) -> list[AlarmSpec]:
        cluster = env.resource_name(msk.cluster_name)
        found = _cluster_alarms(name, cluster)
        for broker in range(1, msk.broker_count + 1):
            found += _broker_alarms(name, cluster, broker)
        for group in msk.consumer_groups:
            for topic in group.topics:
                found += _lag_alarms(name, cluster, group.name, topic, several=len(group.topics) > 1)
        # A cluster in another region (the DR cluster) is alarmed where its metrics are.
        return [alarm.with_changes(region=self.region(msk)) for alarm in found]


KIND = MskKind()
