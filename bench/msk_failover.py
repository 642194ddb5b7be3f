"""Benchmark of msk-failover and msk-failback on the local platform's real Kafka, under
ingest traffic at a fixed rate (200 records/s by default, paced from several threads):

- planned failover and failback: the producers' write unavailability as the run measures it
  (producers held -> producing again) and as the clients saw it (the longest stretch with no
  acknowledgement), the consumers' pause, the records each consumer group read twice per
  partition on the new cluster (by offsets, and as the loader counted them);
- unplanned failover (the primary's brokers SIGKILLed): the recovery point (records
  acknowledged but never replicated, and their time span) against the replication latency
  measured just before.

Run: .venv/bin/python bench/msk_failover.py [--rate 200] [--rounds 2]
Writes bench/results/msk_failover.json and prints a table. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loadtest.payloads import PayloadGenerator  # noqa: E402
from ops.demo.traffic import PacedTraffic  # noqa: E402
from ops.inventory.loader import load_inventory  # noqa: E402
from ops.local.mirror import catch_up_seconds  # noqa: E402
from ops.local.state import LocalState  # noqa: E402
from ops.local.streaming import LocalKafka  # noqa: E402

WORKERS = 8  # each request waits for three replicas: several in flight reach the rate


def ops(state: Path, *args: str, check: bool = True) -> dict[str, Any]:
    command = [sys.executable, "-m", "ops", "--state-dir", str(state), *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=900)
    if check and done.returncode != 0:
        raise SystemExit(f"ops {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    try:
        found: dict[str, Any] = json.loads(done.stdout)
        return found
    except ValueError:
        return {}


def flowing(load: PacedTraffic, count: int) -> None:
    if not load.wait_for(count, timeout=120):
        raise SystemExit(f"traffic stalled at {load.count()} acknowledgements")


def move(state: Path, load: PacedTraffic, runbook: str, *params: str) -> dict[str, Any]:
    started = time.monotonic()
    run = ops(state, "runbook", "run", runbook, "--execute", "-o", "json", *params)
    outputs: dict[str, Any] = run.get("outputs", {})
    flowing(load, load.count() + int(load.rate * 3))  # flowing again, and a few seconds more
    rereads = outputs.get("ExpectedRereads") or {}
    return {
        "run_seconds": round(time.monotonic() - started, 2),
        "write_unavailable_s": outputs.get("WriteUnavailableSeconds"),
        "client_longest_gap_s": round(load.longest_gap(started), 2),
        "consumer_pause_s": outputs.get("ConsumerPauseSeconds"),
        "rereads_by_offsets": sum(rereads.values()),
        "rereads_max_per_partition": max(rereads.values(), default=0),
        "duplicates_delivered": outputs.get("DuplicatesDelivered"),
        "stored_twice": outputs.get("StoredTwice"),
        "recovery_point": outputs.get("RecoveryPoint"),
    }


def replication_latency(state: Path) -> float:
    env = load_inventory(REPO / "platform.yaml").environment("local")
    local = LocalState(state)
    record = local.read_record()
    assert record is not None
    spec = LocalKafka(env, local).mirror(record, "events_replicator").spec
    return catch_up_seconds(spec, 60)


def unplanned(state: Path, load: PacedTraffic) -> dict[str, Any]:
    latencies = [replication_latency(state) for _ in range(3)]
    for pid_file in sorted((state / "kafka" / "events").glob("broker-*/broker.pid")):
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    result = move(state, load, "msk-failover", "--param", "mode=unplanned")
    result["replication_latency_before_s"] = round(statistics.median(latencies), 3)
    ops(state, "local", "up")
    result["failback"] = move(state, load, "msk-failback")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, Any] = {"rate_per_s": args.rate, "planned": []}
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as folder:
        state = Path(folder) / "state"
        try:
            ops(state, "local", "up", "--kafka")
            record = json.loads((state / "platform.json").read_text())
            url = f"http://127.0.0.1:{record['ingest_port']}"
            generator = PayloadGenerator(f"bench-failover-{time.time_ns()}")
            began = time.monotonic()
            with PacedTraffic(url, generator, args.rate, workers=WORKERS, limit=1800) as load:
                flowing(load, int(args.rate * 5))
                for _ in range(args.rounds):
                    failover = move(state, load, "msk-failover")
                    failback = move(state, load, "msk-failback")
                    results["planned"].append({"failover": failover, "failback": failback})
                results["unplanned"] = unplanned(state, load)
                results["refused"] = len(load.refused)
                results["acknowledged"] = load.count()
                results["acknowledged_per_s"] = round(load.count() / (time.monotonic() - began), 1)
        finally:
            ops(state, "local", "down", check=False)
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / "msk_failover.json").write_text(json.dumps(results, indent=2) + "\n")
    acked, refused = results["acknowledged"], results["refused"]
    rate = results["acknowledged_per_s"]
    print(
        f"at {args.rate:.0f} records/s asked ({rate}/s acknowledged): {acked} acknowledged, {refused} refused"
    )
    header = f"{'move':<22}{'unavail s':>10}{'client gap s':>13}{'consumers s':>12}{'rereads':>9}{'dupes':>7}"
    print(header)
    for index, pair in enumerate(results["planned"], 1):
        for name, r in pair.items():
            print(
                f"{name + ' ' + str(index):<22}{r['write_unavailable_s']!s:>10}"
                f"{r['client_longest_gap_s']!s:>13}{r['consumer_pause_s']!s:>12}"
                f"{r['rereads_by_offsets']!s:>9}{r['duplicates_delivered']!s:>7}"
            )
    u = results["unplanned"]
    print(
        f"unplanned: recovery point {u['recovery_point']} against a replication latency of "
        f"{u['replication_latency_before_s']} s measured just before; write unavailability "
        f"{u['write_unavailable_s']} s"
    )


if __name__ == "__main__":
    main()
