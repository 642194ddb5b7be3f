"""Benchmark of the embedded local platform (with Kafka, as `ops local up` makes it): cold
and warm `ops local up`, the ingest service's throughput under the demo's burst, and
`ops local down`.

Run: .venv/bin/python bench/local_platform.py [--records N] [--rounds R]
Writes bench/results/local_platform.json and prints a table. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loadtest.payloads import PayloadGenerator  # noqa: E402
from ops.demo.traffic import percentile, send_burst  # noqa: E402


def ops(state: Path, *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "ops", "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if done.returncode != 0:  # say why, not only that it failed
        raise SystemExit(f"ops {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {
        "cold_up_s": [],
        "warm_up_s": [],
        "down_s": [],
        "rps": [],
        "p95_ms": [],
    }
    for round_index in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="ops-bench-") as folder:
            state = Path(folder) / "state"
            results["cold_up_s"].append(ops(state, "local", "up"))
            results["warm_up_s"].append(ops(state, "local", "up"))
            record = json.loads((state / "platform.json").read_text())
            burst = send_burst(
                f"http://127.0.0.1:{record['ingest_port']}",
                PayloadGenerator(f"bench{round_index}"),
                args.records,
            )
            results["rps"].append(burst.throughput_rps)
            results["p95_ms"].append(percentile(burst.latencies_ms, 95))
            results["down_s"].append(ops(state, "local", "down"))
    summary = {key: round(statistics.median(values), 3) for key, values in results.items()}
    out = REPO / "bench" / "results" / "local_platform.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"records": args.records, "rounds": args.rounds, "median": summary}, indent=2) + "\n"
    )
    for key, value in summary.items():
        print(f"{key:>10}: {value}")


if __name__ == "__main__":
    main()
