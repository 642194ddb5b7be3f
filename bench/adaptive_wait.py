"""Benchmark: how soon a restore that becomes available is noticed, and how many calls
that takes, for boto3's `db_instance_available` waiter (a fixed 30 s delay), rds-pitr's
wait without history (geometric: 1 s, x1.5, at most 10 s) and with history (it learned
from earlier restores of the same size: ops/runbook/waits.py). All poll the same real
botocore client; a `before-call` handler answers DescribeDBInstances from a simulated clock
(the instance is `creating` until the restore's duration has passed), and all sleep on
that clock: minutes run in milliseconds.

History: the 5 earlier restores of the same size took the restore's duration +-JITTER
(seeded); the restore measured takes a duration from the same spread. Medians over
SAMPLES restores per duration.

Run: .venv/bin/python bench/adaptive_wait.py
Writes bench/results/adaptive_wait.json.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from botocore.awsrequest import AWSResponse  # noqa: E402

from ops.aws.clients import AwsTarget, ClientFactory  # noqa: E402
from ops.runbook.waits import WaitHistory  # noqa: E402
from runbooks.common.rds_wait import Learning, poll_available, size_of  # noqa: E402

DURATIONS_S = (20, 45, 90, 240, 480, 900, 1800)  # how long the restore takes
SAMPLES = 20  # restores per duration
JITTER = 0.05  # the spread of one size's restore durations
KIND = "rds-instance restore available"


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


def ours(duration: float, history: list[float] | None = None) -> tuple[float, int]:
    restore = SimulatedRestore(duration)
    learning = None
    if history is not None:
        with tempfile.TemporaryDirectory() as folder:
            record = WaitHistory(Path(folder) / "history.jsonl")
            size = size_of(restore.answer()[1]["DBInstances"][0])
            restore.calls = 0
            for seconds in history:
                record.record(KIND, size, seconds)
            learning = Learning(record, KIND)
            poll_available(client(restore), "db", 7200, lambda: restore.now, restore.sleep, learning)
    else:
        poll_available(client(restore), "db", 7200, lambda: restore.now, restore.sleep)
    return restore.now - duration, restore.calls


def waiter(duration: float) -> tuple[float, int]:
    restore = SimulatedRestore(duration)
    with mock.patch("botocore.waiter.time.sleep", restore.sleep):
        waiting = client(restore).get_waiter("db_instance_available")
        waiting.wait(DBInstanceIdentifier="db", WaiterConfig={"Delay": 30, "MaxAttempts": 240})
    return restore.now - duration, restore.calls


def main() -> None:
    spread = random.Random(7)
    rows = []
    for duration in DURATIONS_S:

        def drawn(duration: float = duration) -> float:
            return duration * (1 + spread.uniform(-JITTER, JITTER))

        cases = [(drawn(), [drawn() for _ in range(5)]) for _ in range(SAMPLES)]
        runs = {
            "waiter": [waiter(actual) for actual, _ in cases],
            "geometric": [ours(actual) for actual, _ in cases],
            "learned": [ours(actual, history) for actual, history in cases],
        }
        rows.append(
            {
                "restore_s": duration,
                **{
                    f"{name}_{measure}": round(statistics.median(r[index] for r in results), 2)
                    for name, results in runs.items()
                    for index, measure in ((0, "latency_s"), (1, "calls"))
                },
            }
        )
    out = REPO / "bench" / "results" / "adaptive_wait.json"
    out.write_text(json.dumps(rows, indent=2) + "\n")
    header = f"{'restore':>8}" + "".join(
        f" {name + ': late':>17} {'calls':>6}" for name in ("waiter", "geometric", "learned")
    )
    print(header)
    for row in rows:
        cells = "".join(
            f" {row[name + '_latency_s']:>16}s {row[name + '_calls']:>6}"
            for name in ("waiter", "geometric", "learned")
        )
        print(f"{row['restore_s']:>7}s{cells}")


if __name__ == "__main__":
    main()
