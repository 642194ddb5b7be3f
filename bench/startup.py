"""Benchmark: how long a person waits for the CLI before it does anything.

Run: .venv/bin/python bench/startup.py [--rounds 7] [--ops OTHER_CHECKOUT/.venv/bin/ops]
Times `ops --help`, `ops inventory validate` and `ops runbook list` as whole processes
(the virtual environment's `ops` script, as a user runs it), `rounds` times each after one
warm-up run, and writes the medians to bench/results/startup.json. No network is touched.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "inventory validate": ["inventory", "validate"],
    "runbook list": ["runbook", "list"],
}


def ops_script() -> str:
    script = Path(sys.executable).parent / "ops"
    return str(script) if script.exists() else "ops"


def time_once(script: str, arguments: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([script, *arguments], check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--label", default="", help="a note stored with the figures")
    parser.add_argument(
        "--ops", default=ops_script(), help="the `ops` script to time (another checkout's, to compare)"
    )
    args = parser.parse_args()
    medians: dict[str, float] = {}
    for name, arguments in COMMANDS.items():
        time_once(args.ops, arguments)  # warm the file cache and bytecode
        samples = [time_once(args.ops, arguments) for _ in range(args.rounds)]
        medians[name] = round(statistics.median(samples), 3)
        print(f"{name:20} median {medians[name]:.3f} s  (min {min(samples):.3f}, max {max(samples):.3f})")
    result = {
        "date": datetime.now(UTC).date().isoformat(),
        "rounds": args.rounds,
        "label": args.label,
        "median_s": medians,
    }
    out = REPO / "bench" / "results" / "startup.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
