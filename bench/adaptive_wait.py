"""Benchmark: how soon a restore that becomes available is noticed, and how many calls
that takes, for rds-pitr's adaptive wait and for boto3's `db_instance_available` waiter
(a fixed 30 s delay). Both poll the same real botocore client; a `before-call` handler
answers DescribeDBInstances from a simulated clock (the instance is `creating` until the
restore's duration has passed), and both sleep on that clock: minutes run in milliseconds.

Run: .venv/bin/python bench/adaptive_wait.py
Writes bench/results/adaptive_wait.json.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from botocore.awsrequest import AWSResponse  # noqa: E402

from ops.aws.clients import AwsTarget, ClientFactory  # noqa: E402
from runbooks.common.rds_wait import poll_available  # noqa: E402

DURATIONS_S = (20, 45, 90, 240, 480, 900, 1800)  # how long the restore takes
PHASES = 10  # restore start offsets within a poll period, to average over alignment


class SimulatedRestore:
    def __init__(self, ready_at: float) -> None:
        self.now = 0.0
        self.ready_at = ready_at
        self.calls = 0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def answer(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.calls += 1
        status = "available" if self.now >= self.ready_at else "creating"
        instance = {
            "DBInstanceIdentifier": "db",
            "DBInstanceStatus": status,
            "Endpoint": {"Address": "a", "Port": 1},
        }
        return AWSResponse("https://example", 200, {}, None), {"DBInstances": [instance]}


def client(restore: SimulatedRestore) -> Any:
    creds = {"aws_access_key_id": "x", "aws_secret_access_key": "y"}
    rds = ClientFactory(
        AwsTarget(region="us-east-1", endpoint_url="http://127.0.0.1:9", credentials=creds)
    ).client("rds")
    rds.meta.events.register("before-call.rds.DescribeDBInstances", restore.answer)
    return rds


def ours(duration: float) -> tuple[float, int]:
    restore = SimulatedRestore(duration)
    poll_available(client(restore), "db", 7200, lambda: restore.now, restore.sleep)
    return restore.now - duration, restore.calls


def waiter(duration: float) -> tuple[float, int]:
    restore = SimulatedRestore(duration)
    with mock.patch("botocore.waiter.time.sleep", restore.sleep):
        waiting = client(restore).get_waiter("db_instance_available")
        waiting.wait(DBInstanceIdentifier="db", WaiterConfig={"Delay": 30, "MaxAttempts": 240})
    return restore.now - duration, restore.calls


def main() -> None:
    rows = []
    for duration in DURATIONS_S:
        runs = {
            "ours": [ours(duration + i * 3.0 / PHASES) for i in range(PHASES)],
            "waiter": [waiter(duration + i * 30.0 / PHASES) for i in range(PHASES)],
        }
        rows.append(
            {
                "restore_s": duration,
                **{
                    f"{name}_{measure}": round(statistics.mean(r[index] for r in results), 2)
                    for name, results in runs.items()
                    for index, measure in ((0, "latency_s"), (1, "calls"))
                },
            }
        )
    out = REPO / "bench" / "results" / "adaptive_wait.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"{'restore':>8} {'ours: late':>11} {'calls':>6} {'waiter: late':>13} {'calls':>6}")
    for row in rows:
        print(
            f"{row['restore_s']:>7}s {row['ours_latency_s']:>10}s {row['ours_calls']:>6} "
            f"{row['waiter_latency_s']:>12}s {row['waiter_calls']:>6}"
        )


if __name__ == "__main__":
    main()
