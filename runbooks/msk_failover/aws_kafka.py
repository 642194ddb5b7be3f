"""MSK's control plane for msk-failover on AWS (boto3 `kafka`): the clusters by name, their
bootstrap brokers, and the replicators: found by name, described, created (the reverse
direction), detached and re-attached (UpdateReplicationInfo), deleted.

A replicator lives in its target cluster's region: the original one (primary -> DR) in DR's,
the reverse one (DR -> primary) in the primary's. The emulator has none of these calls
(ops/local/gaps.py): tests/unit/test_msk_failover_aws.py answers them with botocore's Stubber."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ops.errors import OpsError

# A reverse replicator says which run made it in its description (only that run deletes it
# on a rollback). Not in tags: AWS's IAM definitions the policy is made from give
# kafka:TagResource no replicator resource, so tags on create could not be granted.
OWNER = re.compile(r"^msk-failover run (\S+): ")
# GetBootstrapBrokers' answers, in the order one is chosen when the clients' own is unknown.
BOOTSTRAP_FIELDS = (
    "BootstrapBrokerStringSaslIam",
    "BootstrapBrokerStringTls",
    "BootstrapBrokerStringSaslScram",
    "BootstrapBrokerString",
)


def find_cluster(kafka: Any, name: str, region: str) -> dict[str, Any]:
    """The cluster named `name` exactly (ListClustersV2's filter is a prefix: events-dr
    matches events too)."""
    request: dict[str, Any] = {"ClusterNameFilter": name}
    while True:
        page = kafka.list_clusters_v2(**request)
        for cluster in page.get("ClusterInfoList", []):
            if cluster.get("ClusterName") == name:
                return dict(cluster)
        if not page.get("NextToken"):
            raise OpsError(f"no MSK cluster {name} in {region}; check the inventory's cluster_name")
        request["NextToken"] = page["NextToken"]


def require_active(cluster: dict[str, Any]) -> None:
    state = cluster.get("State") or "in no state"
    if state != "ACTIVE":
        raise OpsError(
            f"MSK cluster {cluster.get('ClusterName')} is {state}, not ACTIVE: "
            "wait until it is, then run again"
        )


def bootstrap(kafka: Any, cluster_arn: str, like: str | None = None) -> tuple[str, str]:
    """The cluster's bootstrap brokers and the answer's field they are in: `like` (the field
    the clients use on the other cluster) when given and set, else the first one set."""
    answer = kafka.get_bootstrap_brokers(ClusterArn=cluster_arn)
    for field in (like, *BOOTSTRAP_FIELDS) if like else BOOTSTRAP_FIELDS:
        if answer.get(field):
            return str(answer[field]), field
    raise OpsError(f"MSK gives no bootstrap brokers for {cluster_arn}; is the cluster ACTIVE?")


def field_of(kafka: Any, cluster_arn: str, servers: str) -> str | None:
    """Which of GetBootstrapBrokers' fields holds `servers` (the clients' authentication)."""
    answer = kafka.get_bootstrap_brokers(ClusterArn=cluster_arn)
    wanted = sorted(servers.split(","))
    return next((f for f in BOOTSTRAP_FIELDS if sorted(str(answer.get(f, "")).split(",")) == wanted), None)


def find_replicator(kafka: Any, name: str) -> dict[str, Any] | None:
    """The replicator named `name` exactly (described), None when there is none."""
    request: dict[str, Any] = {"ReplicatorNameFilter": name}
    while True:
        page = kafka.list_replicators(**request)
        for summary in page.get("Replicators", []):
            if summary.get("ReplicatorName") == name:
                return describe(kafka, summary["ReplicatorArn"])
        if not page.get("NextToken"):
            return None
        request["NextToken"] = page["NextToken"]


def describe(kafka: Any, arn: str) -> dict[str, Any]:
    answer = dict(kafka.describe_replicator(ReplicatorArn=arn))
    answer.pop("ResponseMetadata", None)
    return answer


def require_running(replicator: dict[str, Any]) -> None:
    state = replicator.get("ReplicatorState") or "in no state"
    if state == "RUNNING":
        return
    info = replicator.get("StateInfo") or {}
    why = ": ".join(str(v) for v in (info.get("Code"), info.get("Message")) if v)
    detail = f" ({' '.join(why.split())})" if why else ""
    raise OpsError(
        f"MSK replicator {replicator.get('ReplicatorName')} is {state}{detail}, not RUNNING; "
        "see it in the MSK console, fix it, then run again"
    )


def wait_state(
    kafka: Any,
    arn: str,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    poll: float,
) -> dict[str, Any]:
    """Until the replicator is RUNNING (after a create or an update); FAILED ends the wait."""
    deadline = clock() + timeout
    while True:
        replicator = describe(kafka, arn)
        state = replicator.get("ReplicatorState")
        if state in ("RUNNING", "FAILED"):
            require_running(replicator)
            return replicator
        if clock() > deadline:
            raise OpsError(
                f"MSK replicator {replicator.get('ReplicatorName')} is still {state} after {timeout:.0f} s; "
                "raise -p replicator_timeout_seconds, or see it in the MSK console"
            )
        sleep(poll)


def wait_gone(
    kafka: Any,
    name: str,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    poll: float,
) -> None:
    """Until no replicator has the name (a later run may then create it again)."""
    deadline = clock() + timeout
    while find_replicator(kafka, name) is not None:
        if clock() > deadline:
            raise OpsError(f"MSK replicator {name} is still being deleted after {timeout:.0f} s")
        sleep(poll)


def cluster_arns(replicator: dict[str, Any]) -> list[str]:
    return [c["AmazonMskCluster"]["MskClusterArn"] for c in replicator.get("KafkaClusters", [])]


def arn_named(replicator: dict[str, Any], cluster: str) -> str:
    """The ARN of the replicator's cluster named `cluster` (`cluster/<name>/<uuid>`)."""
    for arn in cluster_arns(replicator):
        if arn.split(":", 5)[-1].split("/")[1:2] == [cluster]:
            return arn
    raise OpsError(f"MSK replicator {replicator.get('ReplicatorName')} does not join cluster {cluster}")


def replication(replicator: dict[str, Any]) -> dict[str, Any]:
    """Its one replication (MSK allows one source and one target per replicator)."""
    found = replicator.get("ReplicationInfoList") or []
    if len(found) != 1:
        raise OpsError(
            f"MSK replicator {replicator.get('ReplicatorName')} has {len(found)} replications, not 1"
        )
    return dict(found[0])


def reverse_request(
    forward: dict[str, Any],
    name: str,
    source_arn: str,
    target_arn: str,
    role_arn: str,
    run_id: str,
    replicated: list[str],
) -> dict[str, Any]:
    """CreateReplicator's request for the reverse of `forward`: `source_arn` -> `target_arn`
    (DR -> primary), from the earliest offset (what was written on DR since the failover),
    identical names, the same topics and consumer groups, offsets synchronised; the same
    clusters' network settings as the forward replicator."""
    info = replication(forward)
    topics = info["TopicReplication"]
    groups = info.get("ConsumerGroupReplication") or {}
    group_replication: dict[str, Any] = {
        "ConsumerGroupsToReplicate": list(groups.get("ConsumerGroupsToReplicate") or [".*"]),
        "ConsumerGroupsToExclude": list(groups.get("ConsumerGroupsToExclude") or []),
        "DetectAndCopyNewConsumerGroups": bool(groups.get("DetectAndCopyNewConsumerGroups", True)),
        "SynchroniseConsumerGroupOffsets": True,
    }
    if groups.get("ConsumerGroupOffsetSyncMode"):
        group_replication["ConsumerGroupOffsetSyncMode"] = groups["ConsumerGroupOffsetSyncMode"]
    clusters = []
    for cluster in forward.get("KafkaClusters", []):
        entry: dict[str, Any] = {
            "AmazonMskCluster": {"MskClusterArn": cluster["AmazonMskCluster"]["MskClusterArn"]}
        }
        if cluster.get("VpcConfig"):
            entry["VpcConfig"] = cluster["VpcConfig"]
        clusters.append(entry)
    return {
        "ReplicatorName": name,
        "Description": (
            f"msk-failover run {run_id}: the reverse of {forward.get('ReplicatorName')}, for the failback"
        ),
        "KafkaClusters": clusters,
        "ServiceExecutionRoleArn": role_arn,
        "ReplicationInfoList": [
            {
                "SourceKafkaClusterArn": source_arn,
                "TargetKafkaClusterArn": target_arn,
                "TargetCompressionType": info.get("TargetCompressionType") or "NONE",
                "TopicReplication": {
                    "TopicsToReplicate": list(topics["TopicsToReplicate"]),
                    # Not what an unplanned failover's detach excluded (the replicated topics).
                    "TopicsToExclude": [
                        t for t in topics.get("TopicsToExclude") or [] if t not in replicated
                    ],
                    "CopyTopicConfigurations": bool(topics.get("CopyTopicConfigurations", True)),
                    "CopyAccessControlListsForTopics": bool(
                        topics.get("CopyAccessControlListsForTopics", True)
                    ),
                    "DetectAndCopyNewTopics": bool(topics.get("DetectAndCopyNewTopics", True)),
                    "StartingPosition": {"Type": "EARLIEST"},
                    "TopicNameConfiguration": {"Type": "IDENTICAL"},
                },
                "ConsumerGroupReplication": group_replication,
            }
        ],
    }


def set_excluded(
    kafka: Any, replicator: dict[str, Any], source_arn: str, target_arn: str, excluded: list[str]
) -> None:
    """UpdateReplicationInfo with the topics it excludes set to `excluded`, the rest as it is."""
    topics = replication(replicator)["TopicReplication"]
    kafka.update_replication_info(
        ReplicatorArn=replicator["ReplicatorArn"],
        CurrentVersion=replicator["CurrentVersion"],
        SourceKafkaClusterArn=source_arn,
        TargetKafkaClusterArn=target_arn,
        TopicReplication={
            "TopicsToReplicate": list(topics["TopicsToReplicate"]),
            "TopicsToExclude": excluded,
            "CopyTopicConfigurations": bool(topics.get("CopyTopicConfigurations", True)),
            "CopyAccessControlListsForTopics": bool(topics.get("CopyAccessControlListsForTopics", True)),
            "DetectAndCopyNewTopics": bool(topics.get("DetectAndCopyNewTopics", True)),
        },
    )


def owner(replicator: dict[str, Any]) -> str | None:
    """The run that made a reverse replicator (None: not msk-failover)."""
    found = OWNER.match(str(replicator.get("ReplicatorDescription") or ""))
    return found.group(1) if found else None


def _matches(patterns: list[str], name: str) -> bool:
    """MSK's topic and group lists are regular expressions."""
    return any(re.fullmatch(pattern, name) for pattern in patterns)


def require_topics(replicator: dict[str, Any], topics: list[str]) -> None:
    """Every topic the inventory says it replicates, replicated under the same name."""
    name = replicator.get("ReplicatorName")
    replicated = replication(replicator)["TopicReplication"]
    naming = (replicated.get("TopicNameConfiguration") or {}).get(
        "Type", "PREFIXED_WITH_SOURCE_CLUSTER_ALIAS"
    )
    if naming != "IDENTICAL":
        raise OpsError(
            f"MSK replicator {name} names topics {naming}; a failover with failback needs IDENTICAL "
            "names (set the inventory's topic_names to match, or replace the replicator)"
        )
    for topic in topics:
        if not _matches(list(replicated["TopicsToReplicate"]), topic):
            raise OpsError(f"MSK replicator {name} does not replicate topic {topic}; add it to its topics")
        if _matches(list(replicated.get("TopicsToExclude") or []), topic):
            raise OpsError(
                f"MSK replicator {name} excludes topic {topic}; remove it from its excluded topics"
            )


def require_groups(replicator: dict[str, Any], groups: list[str]) -> None:
    """Every consumer group replicated with its offsets synchronised."""
    name = replicator.get("ReplicatorName")
    replicated = replication(replicator).get("ConsumerGroupReplication") or {}
    if not replicated.get("SynchroniseConsumerGroupOffsets"):
        raise OpsError(
            f"MSK replicator {name} does not synchronise consumer group offsets: consumers would "
            "restart on DR from their reset policy; turn SynchroniseConsumerGroupOffsets on"
        )
    for group in groups:
        wanted = list(replicated.get("ConsumerGroupsToReplicate") or [])
        if not _matches(wanted, group) or _matches(
            list(replicated.get("ConsumerGroupsToExclude") or []), group
        ):
            raise OpsError(f"MSK replicator {name} does not replicate consumer group {group}; add it")


def excluded(replicator: dict[str, Any]) -> list[str]:
    return list(replication(replicator)["TopicReplication"].get("TopicsToExclude") or [])
