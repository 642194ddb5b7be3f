"""Benchmark of the campaign engine: requests per second per worker core through
`ops loadtest run` against plain `locust` with the same locustfile and the same target, in
one run (rounds alternate so the machine's drift hits both alike); and the open model's
arrival-rate accuracy over a one-minute stage.

Run: .venv/bin/python bench/campaign_overhead.py [--rounds 3] [--seconds 15] [--users 20]
Writes bench/results/campaign_overhead.json and prints a table. Loopback only: its own
local platform in a temporary state directory, stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ops.campaign.local_backend import LOCUSTFILE  # noqa: E402
from ops.campaign.results import summarize  # noqa: E402
from ops.util.ports import free_port  # noqa: E402


def ops(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", "--state-dir", str(state), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def campaign_rps(state: Path, folder: Path, users: int, seconds: int) -> float:
    path = folder / "bench.yaml"
    path.write_text(
        f"name: bench\nusers: {users}\nspawn_rate: {users}\nduration: {seconds}s\nworkers: 1\n"
        "slo: {p95_ms: 100000, p99_ms: 100000, error_rate: 1}\n"
    )
    result = ops(state, "loadtest", "run", str(path), "--no-cloudwatch", "-o", "json")
    if result.returncode != 0:
        raise SystemExit(f"campaign failed: {result.stderr}")
    return float(json.loads(result.stdout)["throughput_rps"])


def plain_locust_rps(target: str, folder: Path, users: int, seconds: int) -> float:
    """`locust` as its users run it: a master and one worker, headless, the same locustfile."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    with open(folder / "plain.json", "wb") as out:
        master_args = [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--expect-workers",
            "1",
            "--host",
            target,
            "--json",
        ]
        master = subprocess.Popen([*base, *master_args], stdout=out, stderr=subprocess.DEVNULL, env=env)
        worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        worker = subprocess.Popen(
            [*base, *worker_args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        try:
            master.wait(timeout=seconds + 90)
            worker.wait(timeout=30)
        finally:
            for process in (master, worker):
                if process.poll() is None:
                    process.kill()
    return summarize(json.loads((folder / "plain.json").read_text())).throughput_rps


def arrival_accuracy(state: Path, folder: Path, rate: int) -> dict[str, Any]:
    path = folder / f"arrival-{rate}.yaml"
    path.write_text(
        f"name: arrival\nmodel: open\nstart_rate: {rate}\nmax_users: {rate}\nworkers: 2\n"
        f"stages: [{{duration: 5s, target: {rate}}}, {{duration: 60s, target: {rate}}}]\n"
        "slo: {p95_ms: 100000, p99_ms: 100000, error_rate: 1}\n"
    )
    result = ops(state, "loadtest", "run", str(path), "--no-cloudwatch", "-o", "json")
    data = json.loads(result.stdout)
    hold = data["arrivals"]["stages"][1]
    return {
        "target_rate": rate,
        "achieved_rate": round(hold["started"] / hold["duration_s"], 2),
        "error_pct": round(100 * (hold["started"] / hold["expected"] - 1), 2),
        "dropped": hold["dropped"],
        "requests": data["requests"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rates", type=int, nargs="*", default=[50, 150])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as temp:
        state, folder = Path(temp) / "state", Path(temp)
        if ops(state, "local", "up").returncode != 0:
            raise SystemExit("ops local up failed")
        try:
            target = f"http://127.0.0.1:{json.loads((state / 'platform.json').read_text())['ingest_port']}"
            campaign, plain = [], []
            for _ in range(args.rounds):
                campaign.append(campaign_rps(state, folder, args.users, args.seconds))
                plain.append(plain_locust_rps(target, folder, args.users, args.seconds))
                time.sleep(1)
            accuracy = [arrival_accuracy(state, folder, rate) for rate in args.rates]
        finally:
            ops(state, "local", "down")
    figures = {
        "campaign_rps_per_worker": campaign,
        "plain_locust_rps_per_worker": plain,
        "ratio_of_medians": round(statistics.median(campaign) / statistics.median(plain), 3),
        "arrival_accuracy": accuracy,
        "settings": vars(args),
        "date": time.strftime("%Y-%m-%d"),
    }
    out = REPO / "bench" / "results" / "campaign_overhead.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"campaign: {[round(v) for v in campaign]} req/s per worker core")
    print(f"plain locust: {[round(v) for v in plain]} req/s per worker core")
    print(f"ratio of medians: {figures['ratio_of_medians']} (target >= 0.95)")
    for row in accuracy:
        print(
            f"open model {row['target_rate']}/s over 60 s: {row['achieved_rate']}/s "
            f"({row['error_pct']:+.2f}%), dropped {row['dropped']}"
        )


if __name__ == "__main__":
    main()
