"""What each aurora-failover step calls on AWS, by mode (light: no boto3). The step table
(steps.py) takes its `aws` sayings from here; aws.py makes exactly these calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ops.runbook.table import Says
from runbooks.rds_pitr.steps import CUTOVER_CALLS, ENDPOINT_READ_CALLS, UNDO_CUTOVER_CALLS

if TYPE_CHECKING:
    from runbooks.aurora_failover.aws import AwsSteps

DESCRIBE = ("rds:DescribeDBClusters", "rds:DescribeDBInstances")
GLOBAL = ("rds:DescribeGlobalClusters",)


def _global(aws: AwsSteps) -> bool:
    return aws.params.mode != "writer"


def check_cluster(aws: AwsSteps) -> Says:
    if _global(aws):
        return Says(
            "the global cluster is available; its primary writes, the secondary is a member",
            (*GLOBAL, *DESCRIBE),
        )
    return Says("the cluster is available with a writer and a reader to promote", DESCRIBE)


def check_lag(aws: AwsSteps) -> Says:
    title = "the secondary's RPO lag (AuroraGlobalDBRPOLag)"
    if aws.params.mode == "switchover":
        title += " is under the objective"
    return Says(title, ("cloudwatch:GetMetricData",))


def fail_over(aws: AwsSteps) -> Says:
    # Each reads where the writer is first: a resumed attempt whose move was requested
    # already does not request a second one (which would move the writer again).
    if aws.params.mode == "writer":
        return Says(
            "fail the writer over to the reader (FailoverDBCluster)",
            ("rds:DescribeDBClusters", "rds:FailoverDBCluster"),
            undo_calls=(*DESCRIBE, "rds:FailoverDBCluster"),
        )
    if aws.params.mode == "switchover":
        return Says(
            "switch the global cluster's writer to the secondary (SwitchoverGlobalCluster)",
            (*GLOBAL, "rds:SwitchoverGlobalCluster"),
            undo_calls=(*GLOBAL, "rds:SwitchoverGlobalCluster"),
        )
    # No undo calls: its undo refuses (a failover cannot be switched back until the old
    # primary's region is back), saying how.
    return Says(
        "fail the global cluster over to the secondary, accepting data loss (FailoverGlobalCluster)",
        (*GLOBAL, "rds:FailoverGlobalCluster"),
    )


def wait_writer(aws: AwsSteps) -> Says:
    if _global(aws):
        return Says(
            "wait until the secondary is the global cluster's writer, available", (*GLOBAL, *DESCRIBE)
        )
    return Says("wait until the new writer is available", DESCRIBE)


def cutover(aws: AwsSteps) -> Says:
    mode = aws.params.cutover_mode
    return Says(
        f"cut over ({mode}) to the new writer", CUTOVER_CALLS[mode], undo_calls=UNDO_CUTOVER_CALLS[mode]
    )


def post_check(aws: AwsSteps) -> Says:
    return Says("the endpoint names the new writer", ENDPOINT_READ_CALLS[aws.params.cutover_mode])
