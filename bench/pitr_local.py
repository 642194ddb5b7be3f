"""Benchmark: the local rds-pitr runbook's RTO split into its steps (restore and WAL
replay, validation, cutover...) and the engine's own overhead (journal, lock, spans).

Run: .venv/bin/python bench/pitr_local.py [--rounds 3] [--records 2000]
Starts its own local platform in a temporary state directory (loopback only), loads
records through the ingest service, then runs rds-pitr with cutover `rounds` times.
Writes bench/results/pitr_local.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loadtest.payloads import PayloadGenerator  # noqa: E402
from ops.demo.traffic import send_burst  # noqa: E402


def ops(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ops", "--state-dir", str(state), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as folder:
        state = Path(folder) / "state"
        ops(state, "local", "up")
        try:
            for index in range(args.rounds):
                record = json.loads((state / "platform.json").read_text())
                send_burst(
                    f"http://127.0.0.1:{record['ingest_port']}", PayloadGenerator(f"b{index}"), args.records
                )
                time.sleep(1.2)  # after the newest base backup, to the second
                target = datetime.now(UTC).isoformat()
                started = time.perf_counter()
                out = ops(
                    state,
                    "runbook",
                    "run",
                    "rds-pitr",
                    "--execute",
                    "-p",
                    f"target_time={target}",
                    "-o",
                    "json",
                )
                wall = time.perf_counter() - started
                run = json.loads(out.stdout)
                steps = {
                    step: (datetime.fromisoformat(end) - datetime.fromisoformat(begin)).total_seconds()
                    for step, (begin, end) in run["timings"].items()
                }
                engine = (
                    datetime.fromisoformat(run["ended_at"]) - datetime.fromisoformat(run["started_at"])
                ).total_seconds()
                rounds.append(
                    {
                        "command_wall_s": wall,
                        "run_s": engine,
                        "rto_s": run["outputs"]["RecoveryTime"],
                        "engine_overhead_s": engine - sum(steps.values()),
                        **{f"step_{k}_s": v for k, v in steps.items()},
                    }
                )
        finally:
            ops(state, "local", "down")
    median = {key: round(statistics.median(r[key] for r in rounds), 3) for key in rounds[0]}
    figures = {"rounds": args.rounds, "records_per_round": args.records, "median": median}
    out_file = REPO / "bench" / "results" / "pitr_local.json"
    out_file.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
