"""Benchmark of the Kafka path of the local platform: the ingest service's throughput and
latency with Kafka in the path (2xx once the brokers acknowledged, acks=all, three replicas)
against today's direct writes to PostgreSQL, the time until the loader stored a record, and
MirrorMaker 2's replication latency from the primary cluster to DR at the ingest SLO's rate.

Run: .venv/bin/python bench/kafka_path.py [--records N] [--rate R] [--seconds S]
Writes bench/results/kafka_path.json and prints a table. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from confluent_kafka import Consumer, Producer  # noqa: E402

from loadtest.payloads import PayloadGenerator  # noqa: E402
from ops.demo.traffic import percentile, send_burst  # noqa: E402


def ops(state: Path, *args: str) -> None:
    command = [sys.executable, "-m", "ops", "--state-dir", str(state), *args]
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)


def burst(state: Path, name: str, records: int) -> dict[str, float]:
    record = json.loads((state / "platform.json").read_text())
    result = send_burst(f"http://127.0.0.1:{record['ingest_port']}", PayloadGenerator(name), records)
    return {
        "rps": round(result.throughput_rps, 1),
        "p50_ms": round(percentile(result.latencies_ms, 50), 1),
        "p95_ms": round(percentile(result.latencies_ms, 95), 1),
        "p99_ms": round(percentile(result.latencies_ms, 99), 1),
        "failed": result.failed,
    }


def replication_latency(state: Path, rate: float, seconds: float) -> dict[str, float]:
    """Records produced to the primary at `rate` per second (acks=all), read on DR: the
    time from the source record's timestamp (kept by MirrorMaker 2) to its arrival on DR."""
    record = json.loads((state / "platform.json").read_text())
    primary = ",".join(f"127.0.0.1:{p}" for p in record["kafka_clusters"]["events"]["ports"][0::2])
    dr = ",".join(f"127.0.0.1:{p}" for p in record["kafka_clusters"]["events_dr"]["ports"][0::2])
    topic = "raw_financial_transactions"
    consumer = Consumer(
        {"bootstrap.servers": dr, "group.id": f"bench-{time.time_ns()}", "auto.offset.reset": "latest"}
    )
    consumer.subscribe([topic])
    while not consumer.assignment():  # the group joined: records from now on are seen
        consumer.poll(0.2)
    latencies: list[float] = []
    expected = int(rate * seconds)
    done = threading.Event()

    def read() -> None:
        while len(latencies) < expected and not done.is_set():
            for message in consumer.consume(100, timeout=0.5):
                if message.error() is None and (message.key() or b"").startswith(b"bench-"):
                    _, created_ms = message.timestamp()
                    latencies.append(time.time() * 1000 - created_ms)

    reader = threading.Thread(target=read)
    reader.start()
    producer = Producer({"bootstrap.servers": primary, "acks": "all", "enable.idempotence": True})
    started = time.perf_counter()
    for index in range(expected):
        producer.produce(topic, key=f"bench-{index}".encode(), value=b"{}")
        producer.poll(0)
        time.sleep(max(0.0, started + (index + 1) / rate - time.perf_counter()))
    producer.flush(30)
    reader.join(60)
    done.set()
    consumer.close()
    return {
        "records": expected,
        "received": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else -1,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else -1,
        "max_ms": round(max(latencies), 1) if latencies else -1,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="the SLO's min_throughput_rps (base)")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    results: dict[str, Any] = {"records": args.records, "rate_per_s": args.rate}
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as folder:
        state = Path(folder) / "state"
        try:
            ops(state, "local", "up", "--no-kafka")
            burst(state, "warm-direct", 200)
            results["direct"] = burst(state, "direct", args.records)
            ops(state, "local", "up", "--kafka")
            burst(state, "warm-kafka", 200)  # first requests pay the producer's connections
            results["kafka"] = burst(state, "kafka", args.records)
            results["replication"] = replication_latency(state, args.rate, args.seconds)
        finally:
            ops(state, "local", "down")
    (REPO / "bench" / "results").mkdir(exist_ok=True)
    (REPO / "bench" / "results" / "kafka_path.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'ingest path':<28}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'failed':>8}")
    for name in ("direct", "kafka"):
        r = results[name]
        print(f"{name:<28}{r['rps']:>8}{r['p50_ms']:>9}{r['p95_ms']:>9}{r['p99_ms']:>9}{r['failed']:>8}")
    rep = results["replication"]
    print(
        f"replication primary -> DR at {args.rate:.0f}/s for {args.seconds:.0f} s: "
        f"p50 {rep['p50_ms']} ms, p99 {rep['p99_ms']} ms, max {rep['max_ms']} ms "
        f"({rep['received']} of {rep['records']} seen)"
    )


if __name__ == "__main__":
    main()
