"""MSK: broker health per broker, cluster health, and consumer lag per group and topic."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Msk, MskReplicator
from ops.inventory.environment import Environment

NAMESPACE = "AWS/Kafka"


def alarms(env: Environment, name: str, msk: Msk) -> list[AlarmSpec]:
    cluster = env.resource_name(msk.cluster_name)
    found = _cluster_alarms(name, cluster)
    for broker in range(1, msk.broker_count + 1):
        found += _broker_alarms(name, cluster, broker)
    for group in msk.consumer_groups:
        for topic in group.topics:
            found += _lag_alarms(name, cluster, group.name, topic, several=len(group.topics) > 1)
    # A cluster in another region (the DR cluster) is alarmed where its metrics are.
    return [alarm.with_changes(region=msk.region or "") for alarm in found]


def _cluster_alarms(name: str, cluster: str) -> list[AlarmSpec]:
    dims = {"Cluster Name": cluster}
    return [
        threshold_alarm(
            name,
            "offline-partitions",
            "critical",
            Metric(NAMESPACE, "OfflinePartitionsCount", dims, "Maximum"),
            "GreaterThanThreshold",
            0,
            1,
            description="Partitions have no leader: producers and consumers of them are failing.",
        ),
        threshold_alarm(
            name,
            "active-controller",
            "critical",
            Metric(NAMESPACE, "ActiveControllerCount", dims, "Maximum"),
            "LessThanThreshold",
            1,
            5,
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
            name,
            "disk-used",
            "critical",
            metric("KafkaDataLogsDiskUsed", "Maximum"),
            "GreaterThanOrEqualToThreshold",
            85,
            3,
            qualifier=qualifier,
            description=f"Broker {broker}: data log disk at or above 85% full.",
        ),
        threshold_alarm(
            name,
            "under-replicated-partitions",
            "critical",
            metric("UnderReplicatedPartitions", "Sum"),
            "GreaterThanThreshold",
            0,
            15,
            qualifier=qualifier,
            description=f"Broker {broker}: under-replicated partitions for 15 minutes.",
        ),
        threshold_alarm(
            name,
            "under-min-isr",
            "critical",
            metric("UnderMinIsrPartitionCount", "Maximum"),
            "GreaterThanOrEqualToThreshold",
            1,
            1,
            qualifier=qualifier,
            description=f"Broker {broker}: partitions below min.insync.replicas; acks=all writes fail.",
        ),
        threshold_alarm(
            name,
            "heap-after-gc",
            "warning",
            metric("HeapMemoryAfterGC", "Maximum"),
            "GreaterThanThreshold",
            60,
            3,
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
            name,
            "max-offset-lag",
            "warning",
            metric("MaxOffsetLag"),
            "GreaterThanThreshold",
            10_000,
            5,
            qualifier=qualifier,
            source=source,
            description=f"{group} is more than 10,000 records behind on a partition of {topic}.",
        ),
        threshold_alarm(
            name,
            "sum-offset-lag",
            "warning",
            metric("SumOffsetLag"),
            "GreaterThanThreshold",
            100_000,
            5,
            qualifier=qualifier,
            source=source,
            description=f"{group} is more than 100,000 records behind on {topic} in total.",
        ),
        threshold_alarm(
            name,
            "time-lag",
            "critical",
            metric("EstimatedMaxTimeLag"),
            "GreaterThanThreshold",
            600,
            5,
            qualifier=qualifier,
            source=source,
            description=f"{group} would take more than 10 minutes to catch up on {topic}.",
        ),
    ]


def replicator_alarms(env: Environment, name: str, replicator: MskReplicator) -> list[AlarmSpec]:
    """Replicator metrics are published in the target cluster's region."""
    dims = {"ReplicatorName": env.resource_name(replicator.replicator_name)}
    target = env.component(replicator.target)
    region = (target.region or "") if isinstance(target, Msk) else ""

    def metric(metric_name: str, stat: str) -> Metric:
        return Metric(NAMESPACE, metric_name, dims, stat)

    found = [
        threshold_alarm(
            name,
            "failure",
            "critical",
            metric("ReplicatorFailure", "Sum"),
            "GreaterThanThreshold",
            0,
            3,
            description="The replicator to the DR cluster is failing: the DR copy falls behind.",
        ),
        threshold_alarm(
            name,
            "auth-error",
            "critical",
            metric("AuthError", "Sum"),
            "GreaterThanThreshold",
            0,
            3,
            description="The replicator cannot authenticate to a cluster.",
        ),
        threshold_alarm(
            name,
            "message-lag",
            "warning",
            metric("MessageLag", "Sum"),
            "GreaterThanThreshold",
            100_000,
            10,
            source="platform-ops default: AWS gives no number",
            description="The replicator is more than 100,000 records behind the source cluster.",
        ),
        threshold_alarm(
            name,
            "replication-latency",
            "warning",
            metric("ReplicationLatency", "Maximum"),
            "GreaterThanThreshold",
            60_000,
            10,
            source="platform-ops default: AWS gives no number",
            description="Records take more than a minute to reach the DR cluster (the RPO of events).",
        ),
    ]
    return [alarm.with_changes(region=region) for alarm in found]
