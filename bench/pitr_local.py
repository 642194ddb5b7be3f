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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loadtest.payloads import PayloadGenerator  # noqa: E402
from ops.demo.traffic import send_burst  # noqa: E402
from ops.util.processes import wait_until  # noqa: E402


def ops(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "ops", "--state-dir", str(state), *args]
    return subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)


def newest_backup_done(state: Path, record: dict[str, object]) -> datetime:
    """When the newest base backup of the server the endpoint names was complete (each
    round's cutover backs the new primary up): a restore replays from it."""
    moved: Any = record.get("warehouse_endpoint") or {}  # empty: the platform's own server
    root = state / "postgres"
    for marker in (state / "restores").glob("*/restored.json"):
        if moved and json.loads(marker.read_text())["restored_port"] == moved["port"]:
            root = marker.parent
    backups = sorted(p for p in (root / "base-backups").iterdir() if (p / "PG_VERSION").exists())
    return datetime.fromtimestamp(max(f.stat().st_mtime for f in backups[-1].iterdir()), UTC)


def wait_past_newest_backup(state: Path, record: dict[str, object]) -> None:
    """Until the clock is more than a second past the newest base backup (its label counts
    whole seconds): a target time before it has no backup to replay from."""
    ready = newest_backup_done(state, record) + timedelta(seconds=1)
    wait_until(lambda: datetime.now(UTC) > ready, 10, "the clock past the newest base backup")


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
                wait_past_newest_backup(state, record)
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
