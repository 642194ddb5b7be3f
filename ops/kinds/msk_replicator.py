"""MSK Replicator, copying the event topics to the DR cluster: failures, authentication
errors, lag and latency."""

from __future__ import annotations

from alarms.spec import AlarmSpec, Metric, threshold_alarm
from ops.inventory.components import Msk, MskReplicator
from ops.inventory.environment import Environment
from ops.kinds.base import ComponentKind
from ops.kinds.msk import NAMESPACE


class MskReplicatorKind(ComponentKind[MskReplicator]):
    kind = "msk_replicator"

    def aws_names(self, env: Environment, replicator: MskReplicator) -> list[str]:
        return [env.resource_name(replicator.replicator_name)]

    def settings(self, replicator: MskReplicator) -> str:
        return f"{replicator.source} -> {replicator.target}, {len(replicator.topics)} topics"

    def alarms(self, env: Environment, name: str, replicator: MskReplicator) -> list[AlarmSpec]:
        """Replicator metrics are published in the target cluster's region."""
        dims = {"ReplicatorName": env.resource_name(replicator.replicator_name)}
        target = env.component(replicator.target)
        region = (target.region or "") if isinstance(target, Msk) else ""

        def metric(metric_name: str, stat: str) -> Metric:
            return Metric(NAMESPACE, metric_name, dims, stat)

        found = [
            threshold_alarm(
                component=name,
                key="failure",
                severity="critical",
                metric=metric("ReplicatorFailure", "Sum"),
                comparison="GreaterThanThreshold",
                threshold=0,
                periods=3,
                description="The replicator to the DR cluster is failing: the DR copy falls behind.",
            ),
            threshold_alarm(
                component=name,
                key="auth-error",
                severity="critical",
                metric=metric("AuthError", "Sum"),
                comparison="GreaterThanThreshold",
                threshold=0,
                periods=3,
                description="The replicator cannot authenticate to a cluster.",
            ),
            threshold_alarm(
                component=name,
                key="message-lag",
                severity="warning",
                metric=metric("MessageLag", "Sum"),
                comparison="GreaterThanThreshold",
                threshold=100_000,
                periods=10,
                source="platform-ops default: AWS gives no number",
                description="The replicator is more than 100,000 records behind the source cluster.",
            ),
            threshold_alarm(
                component=name,
                key="replication-latency",
                severity="warning",
                metric=metric("ReplicationLatency", "Maximum"),
                comparison="GreaterThanThreshold",
                threshold=60_000,
                periods=10,
                source="platform-ops default: AWS gives no number",
                description="Records take more than a minute to reach the DR cluster (the RPO of events).",
            ),
        ]
        return [alarm.with_changes(region=region) for alarm in found]


KIND = MskReplicatorKind()
