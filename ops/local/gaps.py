"""What the AWS emulator (moto 5.2.5 as a server) cannot do: the one list of its gaps.

Commands that need these APIs are tested with botocore's Stubber (which checks parameters
against the service model) or a named test double. docs/emulator-gaps.md explains each.
"""

from __future__ import annotations

# component kind -> why it is not seeded into the emulator
UNEMULATED_KINDS: dict[str, str] = {
    "documentdb": "moto's DocumentDB refuses engine 'docdb' on CreateDBCluster",
    "mwaa": "moto has no MWAA API",
    "grafana": "moto has no Managed Grafana API",
    "msk_replicator": "moto's Kafka has no replicator API",
    "adot": "collectors are ECS services and Lambda layers, provisioned by `ops observe`",
}

# API operations later engines need that the emulator lacks.
UNEMULATED_OPERATIONS: dict[str, tuple[str, ...]] = {
    "kafka": (
        "GetBootstrapBrokers",
        "ListNodes",
        "RebootBroker",
        "DescribeClusterOperationV2",
        "CreateReplicator",
        "DescribeReplicator",
        "ListReplicators",
        "DeleteReplicator",
        "UpdateReplicationInfo",
        "UpdateConnectivity",
    ),
    "grafana": ("CreateWorkspace", "DescribeWorkspace", "CreateWorkspaceServiceAccountToken"),
    "cloudwatch": ("PutCompositeAlarm", "PutAnomalyDetector"),
    "ecs": ("UpdateClusterSettings",),
    "glue": ("BatchStopJobRun",),
}

# The same, as the target lacks them ("cloudwatch:PutCompositeAlarm"): a provider whose writes
# need one of them is left out of plans against the emulator.
UNEMULATED: frozenset[str] = frozenset(
    f"{service}:{operation}" for service, names in UNEMULATED_OPERATIONS.items() for operation in names
)
